using System.Text.Json;
using Actors.Channels.Templates;
using Actors.Storage.Journeys;
using Actors.Storage.Templates;

namespace Actors.Api.Templates;

/// <summary>
/// The templates journeys name: a journey (or a broadcast) is saved only when every send step's template exists and is
/// written for that step's channel, so a missing template is an error at save time, not a failed send days later.
/// </summary>
public static class TemplateReferences
{
    /// <summary>The send steps of a journey as written: the path of each template, its name and its step's channel.</summary>
    public static IReadOnlyList<(string Path, string Template, string? Channel)> InJourney(JsonElement journey, string prefix = "journey")
    {
        var found = new List<(string, string, string?)>();
        if (journey.ValueKind != JsonValueKind.Object || !journey.TryGetProperty("steps", out var steps) || steps.ValueKind != JsonValueKind.Array) return found;
        var i = 0;
        foreach (var step in steps.EnumerateArray())
        {
            if (step.ValueKind == JsonValueKind.Object && step.TryGetProperty("send", out var send) && send.ValueKind == JsonValueKind.Object
                && send.TryGetProperty("template", out var template) && template.ValueKind == JsonValueKind.String)
            {
                var channel = send.TryGetProperty("channel", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                found.Add(($"{prefix}.steps[{i}].send.template", template.GetString()!, channel));
            }
            i++;
        }
        return found;
    }

    /// <summary>Every template a stored journey names, in any of its versions (visitors stay on the version they entered).</summary>
    public static IReadOnlySet<string> UsedBy(JourneyDocument journey)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var version in journey.Versions)
        {
            using var json = JsonDocument.Parse(version.Json);
            foreach (var (_, template, _) in InJourney(json.RootElement)) used.Add(template);
        }
        return used;
    }

    /// <summary>The errors, with their paths, of a journey (already parsed as valid) whose send steps name missing or mismatched templates.</summary>
    public static async Task<IReadOnlyList<(string Path, string Message)>> CheckAsync(JsonElement journey, TemplateStore store, CancellationToken ct = default) =>
        await CheckAsync(InJourney(journey), store, ct);

    public static async Task<IReadOnlyList<(string Path, string Message)>> CheckAsync(IReadOnlyList<(string Path, string Template, string? Channel)> sends,
        TemplateStore store, CancellationToken ct = default)
    {
        if (sends.Count == 0) return [];
        var found = await store.FindManyAsync([.. sends.Select(s => s.Template).Where(TemplatesApi.IsTemplateId).Distinct(StringComparer.Ordinal)], ct);
        var errors = new List<(string, string)>();
        foreach (var (path, template, channel) in sends)
        {
            if (!found.TryGetValue(template, out var document)) errors.Add((path, Unknown(template, channel)));
            else if (document.Channel is { } written && channel is not null && written != channel)
                errors.Add((path, $"template '{template}' is written for {written}, not {channel}"));
        }
        return errors;
    }

    /// <summary>A starter's id (a ready-made journey's template, most likely) points at the route that creates the starters.</summary>
    private static string Unknown(string template, string? channel) =>
        StarterTemplates.Find(template) is { } starter && (channel is null || starter.Channel == channel)
            ? $"unknown template '{template}'; it is a starter template: create the starters with POST {StarterTemplatesApi.Route} (or write your own with PUT /v1/templates/{template})"
            : $"unknown template '{template}'; create it with PUT /v1/templates/{{id}}";
}
