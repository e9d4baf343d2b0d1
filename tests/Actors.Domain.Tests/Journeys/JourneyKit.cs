using System.Text.Json;
using Actors.Domain.Journeys;

namespace Actors.Domain.Tests.Journeys;

/// <summary>Journeys from JSON text, and a small valid journey to change one part of.</summary>
internal static class JourneyKit
{
    public static JourneyParseResult Parse(string json, string id = "j1", int version = 1)
    {
        using var doc = JsonDocument.Parse(json);
        return JourneyDefinition.Parse(doc.RootElement, id, version);
    }

    public static JourneyDefinition Journey(string json)
    {
        var result = Parse(json);
        Assert.True(result.IsValid, string.Join("; ", result.Errors.Select(e => $"{e.Path}: {e.Message}")));
        return result.Journey!;
    }

    /// <summary>A manual journey around <paramref name="steps"/> (starting at "s0"), with <paramref name="extra"/> top-level fields.</summary>
    public static string With(string steps, string extra = "", string start = "s0") =>
        $$"""{"name":"Test","trigger":{"manual":true},"start":"{{start}}","steps":[{{steps}}]{{(extra.Length > 0 ? "," + extra : "")}}}""";

    public static string Errors(JourneyParseResult result) => string.Join("\n", result.Errors.Select(e => $"{e.Path}: {e.Message}"));
}
