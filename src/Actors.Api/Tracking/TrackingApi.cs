using System.Runtime.InteropServices;
using System.Text.Json;
using Actors.Api.Access;
using Actors.Storage.Access;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Actors.Api.Tracking;

/// <summary>
/// The Segment-compatible tracking API (/v1/batch, /v1/track, /v1/identify, /v1/page, /v1/screen, /v1/alias, /v1/group):
/// what the official Segment and RudderStack SDKs send, so a shop changes only the host name. Browsers' SDKs use more
/// paths: analytics.js posts to the first letter of the type (/v1/t, /v1/p, /v1/i, /v1/g, /v1/a, /v1/s) and batches to
/// /v1/b, as text/plain (no preflight needed) with the write key in the body; RudderStack's sendBeacon on page unload
/// posts a text/plain batch to /beacon/v1/batch?writeKey=. Bodies are read as JSON whatever their Content-Type. A 200
/// means every accepted message is durable.
/// </summary>
public static class TrackingApi
{
    private static readonly string[] Types = ["track", "identify", "page", "screen", "alias", "group"];

    public static IEndpointRouteBuilder MapTrackingApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1").WithTags("Tracking").RequireScope(ApiScope.Ingest, keyInBody: true).AllowBrowsers();
        v1.MapPost("/batch", Batch).WithName("Batch").WithSummary("A batch of Segment messages (up to 500 KB)");
        v1.MapPost("/b", Batch).WithName("BatchShort").WithSummary("analytics.js's batch path: the same as /v1/batch");
        foreach (var type in Types)
        {
            v1.MapPost($"/{type}", (HttpRequest request, TrackingGateway gateway) => Single(request, gateway, type))
                .WithName($"Segment{char.ToUpperInvariant(type[0])}{type[1..]}")
                .WithSummary($"One Segment '{type}' message (up to 32 KB)");
            // Every type starts with its own letter: analytics.js's short path is unambiguous.
            v1.MapPost($"/{type[0]}", (HttpRequest request, TrackingGateway gateway) => Single(request, gateway, type))
                .WithName($"Segment{char.ToUpperInvariant(type[0])}{type[1..]}Short")
                .WithSummary($"analytics.js's path for one '{type}' message: the same as /v1/{type}");
        }
        app.MapPost("/beacon/v1/batch", Batch).WithTags("Tracking").WithName("BeaconBatch")
            .RequireScope(ApiScope.Ingest, keyInBody: true, keyParameter: "writeKey").AllowBrowsers()
            .WithSummary("RudderStack's sendBeacon batch (write key in ?writeKey=): the same as /v1/batch");
        return app;
    }

    private static async Task<IResult> Batch(HttpRequest request, TrackingGateway gateway)
    {
        var body = await RequestBody.ReadJsonAsync(request, RequestBody.BatchLimit);
        if (body.Error is not null) return body.Error;
        var document = body.Document!; // disposed with the response
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("batch", out var batch) || batch.ValueKind != JsonValueKind.Array)
            return Problems.Invalid([("batch", "A JSON object with a 'batch' array of messages is expected.")]);

        // Batch-level context and integrations apply to every message (as in Segment's spec); we only need the messages.
        var messages = batch.EnumerateArray().ToList();
        foreach (var (message, index) in messages.Select((m, i) => (m, i)))
        {
            // The raw bytes of the message, measured without copying them into a string.
            if (message.ValueKind == JsonValueKind.Object && JsonMarshal.GetRawUtf8Value(message).Length > RequestBody.MessageLimit)
                return Problems.Invalid([($"batch[{index}]", $"A message may not exceed {RequestBody.MessageLimit} bytes.")]);
        }

        var outcome = await gateway.IngestAsync(messages, typeFromRoute: null, fieldPrefix: "batch", caller: request.HttpContext.IngestCaller(), batchSentAt: SegmentMapper.BatchSentAt(root));
        return ToResult(outcome, messages.Count);
    }

    private static async Task<IResult> Single(HttpRequest request, TrackingGateway gateway, string type)
    {
        var body = await RequestBody.ReadJsonAsync(request, RequestBody.MessageLimit);
        if (body.Error is not null) return body.Error;
        var document = body.Document!; // disposed with the response
        var outcome = await gateway.IngestAsync([document.RootElement], type, fieldPrefix: "", caller: request.HttpContext.IngestCaller());
        return ToResult(outcome, 1);
    }

    /// <summary>
    /// All refused: 400 with every field at fault. Some refused: 200 (the rest is stored; retrying cannot fix the
    /// refused ones) with the list of refused items. None refused: 200.
    /// </summary>
    internal static IResult ToResult(IngestOutcome outcome, int total)
    {
        if (outcome.Refused.Count == total && total > 0)
            return Problems.Invalid(outcome.Refused.SelectMany(r => r.Errors.Select(e => (e.Field, e.Message))),
                total == 1 ? "The message is invalid; nothing was stored." : "Every message in the batch is invalid; nothing was stored.");
        return TypedResults.Ok(new IngestResponse(outcome.Success, outcome.Accepted, outcome.Duplicates, outcome.Refused));
    }
}

public sealed record IngestResponse(bool Success, int Accepted, int Duplicates, IReadOnlyList<RefusedMessage> Refused);
