using System.Text.Json;
using Actors.Api.Access;
using Actors.Api.Tracking;
using Actors.Domain.Profiles;
using Actors.Grains.Identity;
using Actors.Storage.Access;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Actors.Api.Visitors;

/// <summary>
/// The per-visitor gateway that frontends call: send events for a visitor, identify them, read their profile.
/// A visitor id is the frontend's anonymous id, or a namespaced alias such as "user:42".
/// </summary>
public static class VisitorsApi
{
    public static IEndpointRouteBuilder MapVisitorsApi(this IEndpointRouteBuilder app)
    {
        var visitors = app.MapGroup("/v1/visitors/{visitorId}").WithTags("Visitors").RequireScope(ApiScope.Ingest);
        visitors.MapPost("/events", PostEvents).AllowBrowsers().WithSummary("One event or an array of events (Segment message format) for this visitor");
        visitors.MapPost("/identify", Identify).AllowBrowsers().WithSummary("The visitor logged in or told us who they are: stitches this device to the known customer");
        visitors.MapGet("/profile", GetProfile).AllowBrowsers().Produces<ProfileView>().Produces<VisitorView>().ProducesProblem(StatusCodes.Status403Forbidden)
            .WithSummary("Marketing/admin keys: the full profile. Ingest keys: a minimal view of an anonymous visitor, or of user:{id} with a valid X-Visitor-Token");
        visitors.MapPost("/token", MintToken).RequireScope(ApiScope.Marketing).Produces<TokenView>()
            .WithSummary("For user:{id}: a signed visitor token (X-Visitor-Token) with which a browser reads its own minimal view");
        return app;
    }

    private static async Task<IResult> PostEvents(string visitorId, HttpRequest request, TrackingGateway gateway)
    {
        if (ValidateVisitorId(visitorId) is { } invalid) return invalid;
        var body = await RequestBody.ReadJsonAsync(request, RequestBody.BatchLimit);
        if (body.Error is not null) return body.Error;
        var document = body.Document!; // disposed with the response
        var root = document.RootElement;
        List<JsonElement> messages = root.ValueKind switch
        {
            JsonValueKind.Array => [.. root.EnumerateArray()],
            JsonValueKind.Object when root.TryGetProperty("batch", out var batch) && batch.ValueKind == JsonValueKind.Array => [.. batch.EnumerateArray()],
            _ => [root],
        };
        // A bare event without "type" is a track event.
        var prefix = root.ValueKind == JsonValueKind.Object && messages.Count == 1 ? "" : "events";
        var outcome = await gateway.IngestAsync(messages, typeFromRoute: null, prefix, visitorId, defaultType: "track", request.HttpContext.IngestCaller(),
            batchSentAt: root.ValueKind == JsonValueKind.Object && messages.Count > 0 && root.TryGetProperty("batch", out _) ? SegmentMapper.BatchSentAt(root) : null);
        return TrackingApi.ToResult(outcome, messages.Count);
    }

    private static async Task<IResult> Identify(string visitorId, HttpRequest request, TrackingGateway gateway)
    {
        if (ValidateVisitorId(visitorId) is { } invalid) return invalid;
        var body = await RequestBody.ReadJsonAsync(request, RequestBody.MessageLimit);
        if (body.Error is not null) return body.Error;
        var document = body.Document!; // disposed with the response
        var outcome = await gateway.IngestAsync([document.RootElement], "identify", fieldPrefix: "", visitorId, caller: request.HttpContext.IngestCaller());
        return TrackingApi.ToResult(outcome, 1);
    }

    /// <summary>
    /// An ingest key is public, so it reads only the minimal <see cref="VisitorView"/>, and only of the visitor the
    /// browser itself is: its anonymous id, or a known customer vouched for by a token from the shop's backend.
    /// </summary>
    private static async Task<IResult> GetProfile(string visitorId, HttpContext http, VisitorDirectory directory, VisitorTokens tokens)
    {
        if (visitorId.Length is 0 or > 200) return Problems.BadRequest("visitorId must be 1 to 200 characters.");
        if (JsonText.Problem(visitorId) is { } problem) return Problems.BadRequest($"visitorId: {problem}");
        var full = http.Caller().Scope >= ApiScope.Marketing;
        if (await RefuseIngestReadAsync(visitorId, http, tokens, "profile") is { } refused) return refused;
        var profileId = await directory.ResolveAsync(Aliases.FromVisitorId(visitorId));
        var profile = (await directory.Visitor(profileId).GetProfile()).Value;
        return full ? TypedResults.Ok(profile) : TypedResults.Ok(profile.ForVisitor());
    }

    /// <summary>
    /// The rule for everything an ingest key reads about a visitor: anonymous ids freely (the browser is that visitor),
    /// a known customer (user:{id}) only with a valid X-Visitor-Token; marketing and admin keys read anyone. Null: allowed.
    /// </summary>
    internal static async Task<IResult?> RefuseIngestReadAsync(string visitorId, HttpContext http, VisitorTokens tokens, string what)
    {
        if (http.Caller().Scope >= ApiScope.Marketing || !visitorId.StartsWith(UserPrefix, StringComparison.Ordinal)) return null;
        if (await tokens.IsValidAsync(visitorId[UserPrefix.Length..], http.Request.Headers[VisitorTokens.Header].FirstOrDefault())) return null;
        return Problems.Forbidden($"An ingest key reads a known customer's {what} only with a valid {VisitorTokens.Header} for that user (minted by POST /v1/visitors/user:{{id}}/token with a marketing key); else use a marketing key.");
    }

    public sealed record TokenRequest(int? TtlSeconds);
    public sealed record TokenView(string Token, DateTimeOffset ExpiresAt, string Header);

    private const string UserPrefix = "user:";

    private static async Task<IResult> MintToken(string visitorId, TokenRequest? request, VisitorTokens tokens)
    {
        if (!visitorId.StartsWith(UserPrefix, StringComparison.Ordinal) || visitorId.Length is <= 5 or > 200)
            return Problems.Invalid([("visitorId", "must be user:{id}; anonymous visitors read their own view without a token")]);
        var ttl = request?.TtlSeconds is { } s ? TimeSpan.FromSeconds(s) : VisitorTokens.DefaultLifetime;
        if (ttl <= TimeSpan.Zero || ttl > VisitorTokens.MaxLifetime)
            return Problems.Invalid([("ttlSeconds", $"must be between 1 and {(int)VisitorTokens.MaxLifetime.TotalSeconds}")]);
        var (token, expiresAt) = await tokens.MintAsync(visitorId[UserPrefix.Length..], ttl);
        return TypedResults.Ok(new TokenView(token, expiresAt, VisitorTokens.Header));
    }

    private static IResult? ValidateVisitorId(string visitorId) =>
        visitorId.Length is 0 or > 200 ? Problems.Invalid([("visitorId", "must be 1 to 200 characters")])
        // A NUL (a%00b) or a lone surrogate would reach the grain id and the stream key in PostgreSQL.
        : JsonText.Problem(visitorId) is { } problem ? Problems.Invalid([("visitorId", problem)])
        : Aliases.IdProblem(visitorId) is { } braces ? Problems.Invalid([("visitorId", braces)])
        : null;
}
