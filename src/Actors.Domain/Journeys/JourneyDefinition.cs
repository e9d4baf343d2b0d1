using System.Text.Json;
using Actors.Domain.Segments;

namespace Actors.Domain.Journeys;

/// <summary>Where a journey is in its life: only an active one takes entries and sends.</summary>
public enum JourneyStatus { Draft, Active, Paused, Archived }

/// <summary>A marketing message respects caps, frequency, pause and quiet hours; a transactional one only consent.</summary>
public enum MessageKind { Marketing, Transactional }

/// <summary>Whether a visitor may enter a journey again.</summary>
public enum ReEntry
{
    /// <summary>Never again, once entered.</summary>
    OnceEver,

    /// <summary>Again, once the previous passage has ended.</summary>
    OnceAtATime,

    /// <summary>Again, once the cool-down has passed since the previous entry.</summary>
    AfterCoolDown,
}

/// <summary>What lets a visitor in.</summary>
public abstract record JourneyTrigger;

/// <summary>
/// An event of the visitor's, by stored name (e.g. <c>cart_item_added</c>), optionally of one category, and
/// optionally only when the profile, with the event applied, matches <see cref="Filter"/>.
/// </summary>
public sealed record EventTrigger(string EventName, string? Category, SegmentRule? Filter) : JourneyTrigger;

/// <summary>Entering (or, with <see cref="OnEnter"/> false, leaving) a segment.</summary>
public sealed record SegmentTrigger(string SegmentId, bool OnEnter) : JourneyTrigger;

/// <summary>Only a marketer's call lets visitors in (for a segment or a list of profiles).</summary>
public sealed record ManualTrigger : JourneyTrigger;

/// <summary>One step of a journey's graph; each names the step that follows (null ends the journey).</summary>
public abstract record JourneyStep(string Id);

/// <summary>Decide a message (through the message policy) and go on.</summary>
public sealed record SendStep(string Id, string Channel, string Template, string? Topic, string? ContentType, MessageKind Kind, string? Next)
    : JourneyStep(Id);

/// <summary>Wait a fixed duration (seconds to months).</summary>
public sealed record WaitStep(string Id, TimeSpan Duration, string? Next) : JourneyStep(Id);

/// <summary>Wait until the next time of day (on one of the days, if given) in the visitor's time zone.</summary>
public sealed record WaitUntilStep(string Id, TimeOnly TimeOfDay, IReadOnlyList<DayOfWeek> Days, string? Next) : JourneyStep(Id);

/// <summary>Wait for an event (by stored name, optionally of a category) or a timeout, whichever comes first: two exits.</summary>
public sealed record WaitForEventStep(string Id, string EventName, string? Category, TimeSpan Timeout, string? OnEvent, string? OnTimeout)
    : JourneyStep(Id);

/// <summary>The first arm whose rule the profile matches, else <see cref="Otherwise"/>.</summary>
public sealed record BranchStep(string Id, IReadOnlyList<BranchArm> Arms, string? Otherwise) : JourneyStep(Id);

public sealed record BranchArm(string Name, SegmentRule Rule, string? Next);

/// <summary>A random split (A/B), deterministic per visitor and journey; the percentages add up to 100.</summary>
public sealed record SplitStep(string Id, IReadOnlyList<SplitArm> Arms) : JourneyStep(Id);

public sealed record SplitArm(string Name, int Percent, string? Next);

/// <summary>Set (or, with a null value, remove) an attribute of the visitor.</summary>
public sealed record SetAttributeStep(string Id, string Attribute, string? Value, string? Next) : JourneyStep(Id);

/// <summary>Leave the journey here.</summary>
public sealed record ExitStep(string Id) : JourneyStep(Id);

/// <summary>An event that ends the journey at once, wherever the visitor is, and counts as a conversion within the window.</summary>
public sealed record JourneyGoal(string EventName, string? Category, TimeSpan AttributionWindow);

/// <summary>
/// A journey at one version: its trigger, an optional entry condition, the graph of steps from <see cref="FirstStep"/>,
/// its goal, re-entry policy, an optional segment whose leaving ends it, and the share of entrants held out (they enter
/// and are counted, but receive nothing, so lift can be measured).
/// </summary>
public sealed record JourneyDefinition(
    string Id,
    string Name,
    int Version,
    JourneyTrigger Trigger,
    SegmentRule? EntryCondition,
    IReadOnlyDictionary<string, JourneyStep> Steps,
    string FirstStep,
    JourneyGoal? Goal,
    ReEntry ReEntry,
    TimeSpan? CoolDown,
    string? ExitOnLeavingSegment,
    int HoldoutPercent)
{
    /// <summary>
    /// Reads a journey (the language is described in <see cref="JourneyParser"/>) as <paramref name="id"/> at
    /// <paramref name="version"/>. Never throws on bad input: every problem is returned with the path of the part at fault.
    /// </summary>
    public static JourneyParseResult Parse(JsonElement json, string id, int version) => JourneyParser.Parse(json, id, version);

    /// <summary>The journey in English: trigger, steps from the start, goal, re-entry and holdout.</summary>
    public string Describe() => JourneyDescription.Describe(this);

    /// <summary>The canonical JSON (without id and version); <see cref="Parse"/> gives the same journey back.</summary>
    public JsonElement ToJson() => JourneyJson.Write(this);
}

/// <summary>One problem in a journey's JSON: where (e.g. "steps[2].wait.duration"; "" is the whole) and what is wrong.</summary>
public sealed record JourneyError(string Path, string Message);

/// <summary>Either a journey, or every problem found in its JSON.</summary>
public sealed record JourneyParseResult(JourneyDefinition? Journey, IReadOnlyList<JourneyError> Errors)
{
    public bool IsValid => Journey is not null && Errors.Count == 0;
}
