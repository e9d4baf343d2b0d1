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
        visitors.MapPost("/events", PostEvents).WithSummary("One event or an array of events (Segment message format) for this visitor");
        visitors.MapPost("/identify", Identify).WithSummary("The visitor logged in or told us who they are: stitches this device to the known customer");
        visitors.MapGet("/profile", GetProfile).WithSummary("The visitor's profile (personal data only for marketing and admin keys)");
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
        var outcome = await gateway.IngestAsync(messages, typeFromRoute: null, prefix, visitorId, defaultType: "track",
            batchSentAt: root.ValueKind == JsonValueKind.Object && messages.Count > 0 && root.TryGetProperty("batch", out _) ? SegmentMapper.BatchSentAt(root) : null);
        return TrackingApi.ToResult(outcome, messages.Count);
    }

    private static async Task<IResult> Identify(string visitorId, HttpRequest request, TrackingGateway gateway)
    {
        if (ValidateVisitorId(visitorId) is { } invalid) return invalid;
        var body = await RequestBody.ReadJsonAsync(request, RequestBody.MessageLimit);
        if (body.Error is not null) return body.Error;
        var document = body.Document!; // disposed with the response
        var outcome = await gateway.IngestAsync([document.RootElement], "identify", fieldPrefix: "", visitorId);
        return TrackingApi.ToResult(outcome, 1);
    }

    private static async Task<Results<Ok<ProfileView>, ProblemHttpResult>> GetProfile(string visitorId, HttpContext http, VisitorDirectory directory)
    {
        if (visitorId.Length is 0 or > 200) return Problems.BadRequest("visitorId must be 1 to 200 characters.");
        if (JsonText.Problem(visitorId) is { } problem) return Problems.BadRequest($"visitorId: {problem}");
        var profileId = await directory.ResolveAsync(Aliases.FromVisitorId(visitorId));
        var profile = (await directory.Visitor(profileId).GetProfile()).Value;
        return TypedResults.Ok(http.Caller().Scope >= ApiScope.Marketing ? profile : profile.WithoutPersonalData());
    }

    private static IResult? ValidateVisitorId(string visitorId) =>
        visitorId.Length is 0 or > 200 ? Problems.Invalid([("visitorId", "must be 1 to 200 characters")])
        // A NUL (a%00b) or a lone surrogate would reach the grain id and the stream key in PostgreSQL.
        : JsonText.Problem(visitorId) is { } problem ? Problems.Invalid([("visitorId", problem)])
        : null;
}
