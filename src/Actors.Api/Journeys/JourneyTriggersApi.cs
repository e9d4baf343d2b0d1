using System.Text.Json;
using System.Text.RegularExpressions;
using Actors.Api.Access;
using Actors.Api.Tracking;
using Actors.Domain.Journeys;
using Actors.Grains.Identity;
using Actors.Grains.Journeys;
using Actors.Storage.Access;
using Actors.Storage.Journeys;
using Actors.Storage.Segments;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Actors.Api.Journeys;

/// <summary>
/// A marketer lets a segment's members, or a list of visitors, into an active journey: answered at once (202) with the
/// trigger's id, then its progress. Posting a trigger id again while it runs answers with the running one; after it
/// ended, it runs again and enters nobody twice (those it reached are "already triggered").
/// </summary>
public static partial class JourneyTriggersApi
{
    /// <param name="TriggerId">Its id: give it to be able to retry; else one is made.</param>
    /// <param name="ProgressUrl">Where its progress is.</param>
    /// <param name="Started">False: this trigger id was running already, and this is it.</param>
    public sealed record TriggerAccepted(string TriggerId, string ProgressUrl, bool Started, TriggerProgress Progress);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")]
    private static partial Regex TriggerIdPattern();

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,63}$")]
    private static partial Regex SegmentIdPattern();

    public static IEndpointRouteBuilder MapJourneyTriggersApi(this IEndpointRouteBuilder app)
    {
        var journeys = app.MapGroup("/v1/journeys").WithTags("Journeys").RequireScope(ApiScope.Marketing);
        journeys.MapPost("/{id}/trigger", Trigger)
            .WithSummary("Let a segment's members or a list of visitors into an active journey: 202 with the trigger's id; retried, it enters nobody twice");
        journeys.MapGet("/{id}/triggers/{triggerId}", (string id, string triggerId, JourneyTriggers triggers) =>
                triggers.Progress(id, triggerId) is { } progress ? Results.Ok(progress) : Problems.NotFound($"No trigger '{triggerId}' of journey '{id}' on this node."))
            .WithSummary("A trigger's progress: running, done or failed, with how many entered, were held out, already inside, already triggered or not eligible (by reason)");
        return app;
    }

    private static async Task<IResult> Trigger(string id, JsonElement body, JourneyStore journeys, SegmentStore segments, JourneyTriggers triggers)
    {
        var errors = new List<(string, string)>();
        if (body.ValueKind != JsonValueKind.Object) return Problems.Invalid([("body", "must be an object with \"segment\" or \"profiles\"")]);

        var segmentId = OptionalString(body, "segment", errors);
        if (segmentId is not null && !SegmentIdPattern().IsMatch(segmentId)) errors.Add(("segment", "must be a segment id"));
        var triggerId = OptionalString(body, "triggerId", errors);
        if (triggerId is not null && !TriggerIdPattern().IsMatch(triggerId))
            errors.Add(("triggerId", "must be 1-100 characters of letters, digits, '-', '_', '.' or ':', starting with a letter or digit"));
        var profiles = Profiles(body, errors);
        var hasSegment = body.TryGetProperty("segment", out var s) && s.ValueKind != JsonValueKind.Null;
        var hasProfiles = body.TryGetProperty("profiles", out var p) && p.ValueKind != JsonValueKind.Null;
        if (hasSegment == hasProfiles) errors.Add((hasSegment ? "profiles" : "segment", "give either \"segment\" or \"profiles\", not both nor neither"));
        if (errors.Count > 0) return Problems.Invalid(errors, "The trigger has errors; each is named by its field.");

        if (await journeys.FindAsync(id) is not { } journey) return Problems.NotFound($"No journey '{id}'.");
        if (journey.Status != JourneyStatus.Active)
            return Problems.Conflict($"Journey '{id}' is {journey.Status.ToString().ToLowerInvariant()}; only an active journey can be triggered.");
        if (segmentId is not null && await segments.FindAsync(segmentId) is not { Archived: false })
            return Problems.Invalid([("segment", $"no active segment '{segmentId}'")]);

        triggerId ??= "t-" + Guid.NewGuid().ToString("N");
        var (progress, started) = triggers.Start(id, triggerId, new TriggerTarget(segmentId, profiles));
        var url = $"/v1/journeys/{id}/triggers/{Uri.EscapeDataString(triggerId)}";
        return TypedResults.Accepted(url, new TriggerAccepted(triggerId, url, started, progress));
    }

    private static string? OptionalString(JsonElement body, string name, List<(string, string)> errors)
    {
        if (!body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.String)
        {
            errors.Add((name, "must be a string"));
            return null;
        }
        var text = JsonText.TryGetString(value, out var problem);
        if (problem is not null) errors.Add((name, problem));
        return text;
    }

    /// <summary>The distinct visitor ids of "profiles" (as in /v1/users/{id}: "user:…", "anon:…", or a bare anonymous id), or null.</summary>
    private static List<string>? Profiles(JsonElement body, List<(string, string)> errors)
    {
        if (!body.TryGetProperty("profiles", out var list) || list.ValueKind == JsonValueKind.Null) return null;
        if (list.ValueKind != JsonValueKind.Array)
        {
            errors.Add(("profiles", "must be an array of visitor ids"));
            return null;
        }
        var count = list.GetArrayLength();
        if (count is 0 or > JourneyTriggers.MaxProfiles)
        {
            errors.Add(("profiles", $"must hold 1 to {JourneyTriggers.MaxProfiles:N0} visitor ids"));
            return null;
        }
        var ids = new List<string>(count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var i = 0;
        foreach (var item in list.EnumerateArray())
        {
            var field = $"profiles[{i++}]";
            if (errors.Count >= 20) break; // enough to fix the list by
            if (item.ValueKind != JsonValueKind.String)
            {
                errors.Add((field, "must be a visitor id (a string)"));
                continue;
            }
            var text = JsonText.TryGetString(item, out var problem);
            if (problem is not null || text is null)
            {
                errors.Add((field, problem ?? "must be a visitor id"));
                continue;
            }
            if (text.Length is 0 or > 200) errors.Add((field, "must be 1 to 200 characters"));
            else if (text.Any(char.IsControl)) errors.Add((field, "must not contain control characters"));
            else if (text is "user:" or "anon:") errors.Add((field, "must name a visitor after its prefix"));
            else if (seen.Add(Aliases.FromVisitorId(text))) ids.Add(Aliases.FromVisitorId(text));
        }
        return ids;
    }
}
