using System.Text.Json;
using Actors.Domain.Journeys;
using Actors.Domain.Segments;
using Actors.Integration.Tests.Support;
using CsCheck;

namespace Actors.Domain.Tests.Segments;

/// <summary>
/// Issue 16: segment rules and journey definitions, mutated from the ready-made ones with hostile values (wrong types,
/// NUL, lone surrogates, 1e400, deep nesting, huge arrays and strings, undecodable names). The parsers never throw:
/// every input is either a definition or a list of errors, each with a path and a message. Seeded; ACTORS_FUZZ_ITER
/// multiplies the cases.
/// </summary>
public class DefinitionFuzzTests
{
    // What the API's body reading allows (System.Text.Json's default depth); deeper bodies never reach a parser.
    private static readonly JsonDocumentOptions AsTheApiReads = new() { MaxDepth = 64 };

    private static long Iterations(long cases) =>
        int.TryParse(Environment.GetEnvironmentVariable("ACTORS_FUZZ_ITER"), out var factor) && factor > 0 ? cases * factor : cases;

    private static Gen<string> Mutated(IReadOnlyList<string> valid) =>
        Gen.Select(Gen.Int[0, valid.Count - 1], Gen.Int[0, 4], Gen.Int[0, 10_000], HostileInput.Value, Gen.Int[1, 3],
            (which, kind, pick, value, rounds) =>
            {
                var json = valid[which];
                // Several rounds reach deeper fields than one replacement could.
                for (var i = 0; i < rounds; i++)
                {
                    string next;
                    try
                    {
                        next = HostileInput.Mutate(json, kind + i, pick * (i + 1), value);
                    }
                    catch (InvalidOperationException)
                    {
                        return json; // a name from the last round that cannot be decoded: this case is that body
                    }
                    if (!Parses(next)) return next;
                    json = next;
                }
                return json;
            });

    private static bool Parses(string json)
    {
        try
        {
            using var _ = JsonDocument.Parse(json, AsTheApiReads);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    [Fact]
    public void Rules_parse_to_a_rule_or_to_errors_with_paths_never_an_exception()
    {
        var valid = SegmentTemplates.All.Select(t => t.RuleJson).ToList();
        Mutated(valid).Sample(json =>
        {
            if (!Parses(json)) return; // refused as JSON before any parser sees it
            using var document = JsonDocument.Parse(json, AsTheApiReads);
            var result = SegmentRule.Parse(document.RootElement);
            Assert.True(result.Rule is not null ^ result.Errors.Count > 0, $"rule and errors, or neither: {json}");
            Assert.All(result.Errors, e => Assert.False(string.IsNullOrWhiteSpace(e.Message)));
            if (result.Rule is { } rule) Assert.False(string.IsNullOrEmpty(rule.Describe()));
        }, seed: "0N0XIzNsQ0O2", iter: Iterations(300), threads: 1);
    }

    [Fact]
    public void Journeys_parse_to_a_journey_or_to_errors_with_paths_never_an_exception()
    {
        var valid = JourneyTemplates.All.Select(t => t.Json).ToList();
        Mutated(valid).Sample(json =>
        {
            if (!Parses(json)) return;
            using var document = JsonDocument.Parse(json, AsTheApiReads);
            var result = JourneyDefinition.Parse(document.RootElement, "fuzz", 1);
            Assert.True(result.Journey is not null ^ result.Errors.Count > 0, $"journey and errors, or neither: {json}");
            Assert.All(result.Errors, e => Assert.False(string.IsNullOrWhiteSpace(e.Message)));
            // A journey that parsed can be described (what the API shows) without throwing.
            if (result.Journey is { } journey) Assert.False(string.IsNullOrEmpty(journey.Describe()));
        }, seed: "0N0XIzNsQ0O2", iter: Iterations(300), threads: 1);
    }
}
