using System.Globalization;
using Actors.Api.Access;
using Actors.Api.Tracking;
using Actors.Api.Visitors;
using Actors.Domain.Channels;
using Actors.Grains.Identity;
using Actors.Storage.Access;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Actors.Api.Channels;

/// <summary>
/// The on-site channel, called from the shop's pages with the public ingest key: what to show this visitor now in a
/// placement, and the visitor closing a message. Same access rule as the ingest profile read.
/// </summary>
public static partial class OnSiteApi
{
    public const int MaxPlacementLength = 64;
    public const int MaxMessageKeyLength = 512;

    public sealed record DecisionsView(string Placement, IReadOnlyList<OnSiteDecision> Decisions);
    public sealed record DismissView(string MessageKey, string Status);

    public static IEndpointRouteBuilder MapOnSiteApi(this IEndpointRouteBuilder app)
    {
        var decisions = app.MapGroup("/v1/visitors/{visitorId}/decisions").WithTags("On-site").RequireScope(ApiScope.Ingest).AllowBrowsers();
        decisions.MapGet("", Decide).Produces<DecisionsView>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status403Forbidden)
            .WithSummary("What to show this visitor now in a placement: a journey's on-site message, the newsletter popup, recommendations (most important first)");
        decisions.MapPost("/{messageKey}/dismiss", Dismiss).Produces<DismissView>().ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("The visitor closed an on-site message: recorded as message_dismissed, and it is not shown again");
        return app;
    }

    private static async Task<IResult> Decide(
        string visitorId, string? placement, string? limit, HttpContext http, VisitorDirectory directory, VisitorTokens tokens, ILoggerFactory loggers)
    {
        var errors = new List<(string, string)>();
        if (VisitorIdProblem(visitorId) is { } visitor) errors.Add(("visitorId", visitor));
        if (placement is null) errors.Add(("placement", "required: the page's slot, e.g. home_banner"));
        else if (!IsShortId(placement)) errors.Add(("placement", $"must be 1 to {MaxPlacementLength} letters, digits, '_', '-', '.' or ':', starting with a letter or digit"));
        var count = OnSiteDecisions.DefaultLimit;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count is < 1 or > OnSiteDecisions.MaxLimit))
            errors.Add(("limit", $"must be a whole number from 1 to {OnSiteDecisions.MaxLimit}"));
        if (errors.Count > 0) return Problems.Invalid(errors);
        if (await VisitorsApi.RefuseIngestReadAsync(visitorId, http, tokens, "decisions") is { } refused) return refused;

        var profileId = await directory.ResolveAsync(Aliases.FromVisitorId(visitorId));
        var grain = directory.Visitor(profileId);
        var answer = (await grain.Decide(placement!, count)).Value;
        if (answer.FirstShownMessageKey is { } shown)
        {
            // The impression is recorded after answering, off the request's path; the grain records it once. Lost (a
            // crash in between), the message is still unshown in the profile, so the next answer records it.
            var logger = loggers.CreateLogger(typeof(OnSiteApi));
            _ = Task.Run(async () =>
            {
                try { await grain.RecordOnSite(shown, dismissed: false); }
                catch (Exception e) { LogImpressionFailed(logger, e, profileId, shown); }
            });
        }
        return TypedResults.Ok(new DecisionsView(answer.Placement, answer.Decisions));
    }

    private static async Task<IResult> Dismiss(string visitorId, string messageKey, HttpContext http, VisitorDirectory directory, VisitorTokens tokens)
    {
        var errors = new List<(string, string)>();
        if (VisitorIdProblem(visitorId) is { } visitor) errors.Add(("visitorId", visitor));
        if (messageKey.Length is 0 or > MaxMessageKeyLength) errors.Add(("messageKey", $"must be 1 to {MaxMessageKeyLength} characters"));
        else if (JsonText.Problem(messageKey) is { } problem) errors.Add(("messageKey", problem));
        if (errors.Count > 0) return Problems.Invalid(errors);
        if (await VisitorsApi.RefuseIngestReadAsync(visitorId, http, tokens, "decisions") is { } refused) return refused;

        var profileId = await directory.ResolveAsync(Aliases.FromVisitorId(visitorId));
        return await directory.Visitor(profileId).RecordOnSite(messageKey, dismissed: true) switch
        {
            "recorded" => TypedResults.Ok(new DismissView(messageKey, "dismissed")),
            "already" => TypedResults.Ok(new DismissView(messageKey, "already_dismissed")),
            _ => Problems.NotFound($"messageKey: the visitor has no on-site message '{messageKey}' to dismiss."),
        };
    }

    private static string? VisitorIdProblem(string visitorId) =>
        visitorId.Length is 0 or > 200 ? "must be 1 to 200 characters" : JsonText.Problem(visitorId);

    private static bool IsShortId(string value)
    {
        if (value.Length is 0 or > MaxPlacementLength || !char.IsAsciiLetterOrDigit(value[0])) return false;
        foreach (var c in value)
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('_' or '-' or '.' or ':')) return false;
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recording the on-site impression of {MessageKey} for {ProfileId} failed; the next answer records it")]
    private static partial void LogImpressionFailed(ILogger logger, Exception error, string profileId, string messageKey);
}
