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
                    catch (Exception e) when (e is InvalidOperationException or ArgumentException)
                    {
                        return json; // a name from the last round that cannot be decoded, or twice the same name: this case is that body
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

    /// <summary>The parser's answer; an exception fails the test with the input and how to reproduce it.</summary>
    private static T Never<T>(Func<T> parse, string json)
    {
        try
        {
            return parse();
        }
        catch (Exception e)
        {
            Assert.Fail($"{HostileInput.Reproduce}: {e.GetType().Name}: {e.Message} for {json[..Math.Min(2_000, json.Length)]}");
            throw;
        }
    }

    [Fact]
    public void Rules_parse_to_a_rule_or_to_errors_with_paths_never_an_exception()
    {
        var valid = SegmentTemplates.All.Select(t => t.RuleJson).ToList();
        foreach (var json in HostileInput.Cases(Mutated(valid), "rules", HostileInput.Iterations(300)))
        {
            if (!Parses(json)) continue; // refused as JSON before any parser sees it
            using var document = JsonDocument.Parse(json, AsTheApiReads);
            var result = Never(() => SegmentRule.Parse(document.RootElement), json);
            Assert.True(result.Rule is not null ^ result.Errors.Count > 0, $"{HostileInput.Reproduce}: rule and errors, or neither: {json}");
            Assert.All(result.Errors, e => Assert.False(string.IsNullOrWhiteSpace(e.Message)));
            if (result.Rule is { } rule) Assert.False(string.IsNullOrEmpty(rule.Describe()));
        }
    }

    [Fact]
    public void Journeys_parse_to_a_journey_or_to_errors_with_paths_never_an_exception()
    {
        var valid = JourneyTemplates.All.Select(t => t.Json).ToList();
        foreach (var json in HostileInput.Cases(Mutated(valid), "journeys", HostileInput.Iterations(300)))
        {
            if (!Parses(json)) continue;
            using var document = JsonDocument.Parse(json, AsTheApiReads);
            var result = Never(() => JourneyDefinition.Parse(document.RootElement, "fuzz", 1), json);
            Assert.True(result.Journey is not null ^ result.Errors.Count > 0, $"{HostileInput.Reproduce}: journey and errors, or neither: {json}");
            Assert.All(result.Errors, e => Assert.False(string.IsNullOrWhiteSpace(e.Message)));
            // A journey that parsed can be described (what the API shows) without throwing.
            if (result.Journey is { } journey) Assert.False(string.IsNullOrEmpty(journey.Describe()));
        }
    }
}
