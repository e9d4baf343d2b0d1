using System.Buffers;
using System.Text;
using System.Text.Json;
using Actors.Domain.Profiles;

namespace Actors.Domain.Segments;

/// <summary>One problem in a rule: where it is (e.g. "all[2].count.withinDays"; "" is the rule as a whole) and what is wrong.</summary>
public sealed record RuleError(string Path, string Message);

/// <summary>Either a rule, or every problem found in its JSON.</summary>
public sealed record RuleParseResult(SegmentRule? Rule, IReadOnlyList<RuleError> Errors)
{
    public bool IsValid => Rule is not null && Errors.Count == 0;
}

/// <summary>A segment as it is active now: its rule at a version. Changing the rule means a new version.</summary>
public sealed record SegmentDefinition(string Id, string Name, int Version, SegmentRule Rule);

/// <summary>
/// A parsed segment rule (the language is described in <see cref="RuleParser"/>). Immutable and thread-safe: one
/// instance serves every visitor. Evaluation reads the profile and the given time only, allocates nothing, and
/// uses keys worked out when the rule was parsed.
/// </summary>
public sealed class SegmentRule
{
    /// <summary>How many candidate instants <see cref="NextChange"/> looks through for one that flips the whole rule.</summary>
    private const int NextChangeSteps = 16;

    private readonly Condition root;
    private readonly string description;
    private readonly JsonElement json;

    internal SegmentRule(Condition root)
    {
        this.root = root;
        var sb = new StringBuilder();
        root.Describe(sb);
        description = sb.ToString();
        json = WriteJson(root);
    }

    /// <summary>Reads a rule. Never throws on bad input: every problem is returned with the path of the part at fault.</summary>
    public static RuleParseResult Parse(JsonElement json) => RuleParser.Parse(json);

    public bool Matches(VisitorProfile profile, DateTimeOffset now, RfmThresholds? rfm) => root.Matches(profile, now, rfm);

    /// <summary>
    /// The next instant after <paramref name="now"/> at which <see cref="Matches"/> could change with no new event
    /// (a window closing, "no order for 90 days" becoming true), or null if none. Exact where the profile keeps exact
    /// times; otherwise an instant no later than the change (waking up there and asking again is always safe).
    /// </summary>
    public DateTimeOffset? NextChange(VisitorProfile profile, DateTimeOffset now, RfmThresholds? rfm)
    {
        var current = root.Matches(profile, now, rfm);
        var at = now;
        for (var step = 0; step < NextChangeSteps; step++)
        {
            if (root.NextChange(profile, at, rfm) is not { } next) return null;
            if (root.Matches(profile, next, rfm) != current) return next;
            at = next; // a part changed but the whole did not: look further
        }
        return at;
    }

    /// <summary>The rule in English, e.g. "at least 3 product views with category shoes in the last 14 days and stage is lead".</summary>
    public string Describe() => description;

    /// <summary>The canonical JSON of the rule; <see cref="Parse"/> accepts it back and gives the same rule.</summary>
    public JsonElement ToJson() => json;

    /// <summary>
    /// Why the rule holds or not for this visitor now, in a few words, e.g. "3 product views with category shoes in the
    /// last 14 days": the reason recorded when a visitor enters or leaves.
    /// </summary>
    public string Explain(VisitorProfile profile, DateTimeOffset now, RfmThresholds? rfm)
    {
        var sb = new StringBuilder();
        root.Explain(sb, profile, now, rfm);
        return sb.ToString();
    }

    public override string ToString() => description;

    private static JsonElement WriteJson(Condition root)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
            root.Write(writer);
        using var doc = JsonDocument.Parse(buffer.WrittenMemory);
        return doc.RootElement.Clone();
    }
}
