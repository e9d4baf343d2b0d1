using System.Text.Json;
using System.Text.RegularExpressions;
using Actors.Api.Access;
using Actors.Api.Templates;
using Actors.Domain.Journeys;
using Actors.Grains.Journeys;
using Actors.Grains.Segments;
using Actors.Storage.Access;
using Actors.Storage.Journeys;
using Actors.Storage.Segments;
using Actors.Storage.Templates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Actors.Api.Journeys;

/// <summary>
/// A one-off message to a segment: a journey of one send step, published at once and triggered for the segment, so the
/// message policy, the per-visitor record of every verdict, the progress, the figures and the retry safety are the
/// journeys' own. The broadcast id names both: retrying it sends nobody a second message.
/// </summary>
public static partial class BroadcastsApi
{
    public sealed record BroadcastRequest(
        string? BroadcastId, string? Name, string? Segment, string? Channel, string? Template, string? Topic, string? ContentType, string? Kind);

    public sealed record BroadcastAccepted(string BroadcastId, string JourneyId, string ProgressUrl, string FiguresUrl, bool Started, TriggerProgress Progress);

    public static IEndpointRouteBuilder MapBroadcastsApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/broadcasts", Broadcast).WithTags("Journeys").RequireScope(ApiScope.Marketing)
            .WithSummary("Send one message to a segment's members, through the message policy; retry with the same broadcastId sends nobody twice");
        return app;
    }

    private static async Task<IResult> Broadcast(BroadcastRequest request, JourneyStore journeys, SegmentStore segments, TemplateStore templates,
        SegmentCatalog catalog, JourneyTriggers triggers, TimeProvider clock)
    {
        var errors = new List<(string, string)>();
        var broadcastId = request.BroadcastId ?? "b" + Guid.NewGuid().ToString("N")[..20];
        if (!IdPattern().IsMatch(broadcastId)) errors.Add(("broadcastId", "must be 1-48 characters of a-z, 0-9, '-' or '_', starting with a letter or digit"));
        if (request.Segment is not { } segmentId || !SegmentIdPattern().IsMatch(segmentId)) errors.Add(("segment", "must be a segment id"));
        if (errors.Count > 0) return Problems.Invalid(errors);

        // The journey's own parser checks the message (channel, template, topic, kind, text) and names the field at fault.
        var journeyId = $"broadcast-{broadcastId}";
        var json = JsonSerializer.SerializeToElement(new
        {
            name = request.Name ?? $"Broadcast {broadcastId}",
            trigger = new { manual = true },
            start = "send",
            steps = new object[] { new { id = "send", send = new { channel = request.Channel, template = request.Template, topic = request.Topic, contentType = request.ContentType, kind = request.Kind ?? "marketing" } } },
            reEntry = "onceEver",
        }, ApiJson.Options);
        var parsed = JourneyDefinition.Parse(json, journeyId, 1);
        if (!parsed.IsValid)
            return Problems.Invalid(parsed.Errors.Select(e => (e.Path.StartsWith("steps[0].send.", StringComparison.Ordinal) ? e.Path["steps[0].send.".Length..] : e.Path, e.Message)));
        if (await segments.FindAsync(request.Segment!) is not { Archived: false }) return Problems.Invalid([("segment", $"no active segment '{request.Segment}'")]);
        if (await TemplateReferences.CheckAsync([("template", request.Template!, request.Channel)], templates) is { Count: > 0 } missing)
            return Problems.Invalid(missing);

        var canonical = parsed.Journey!.ToJson().GetRawText();
        var now = clock.GetUtcNow();
        var saved = await journeys.CreateAsync(new JourneyDocument
        {
            Id = journeyId, Name = parsed.Journey.Name, Status = JourneyStatus.Active, Version = 1,
            Versions = [new JourneyVersion(1, canonical, now)], CreatedAt = now, UpdatedAt = now,
        });
        if (saved is null)
        {
            // A retry: the same id must mean the same message, else it is another broadcast.
            var existing = await journeys.FindAsync(journeyId);
            if (existing is null || existing.CurrentVersion().Json != canonical)
                return Problems.Conflict($"Broadcast '{broadcastId}' exists with another message; use a new broadcastId.");
            if (existing.Status != JourneyStatus.Active) return Problems.Conflict($"Broadcast '{broadcastId}' is {existing.Status.ToString().ToLowerInvariant()}.");
        }
        await catalog.RefreshAsync(CancellationToken.None);

        var (progress, started) = triggers.Start(journeyId, broadcastId, new TriggerTarget(request.Segment, null));
        var url = $"/v1/journeys/{journeyId}/triggers/{broadcastId}";
        return TypedResults.Accepted(url, new BroadcastAccepted(broadcastId, journeyId, url, $"/v1/journeys/{journeyId}/figures", started, progress));
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,47}$")]
    private static partial Regex IdPattern();

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,63}$")]
    private static partial Regex SegmentIdPattern();
}
