using System.Text.Json.Serialization;
using Actors.Domain.Tracking;

namespace Actors.Domain.Profiles;

/// <summary>Where the visitor is in one journey, and how often they entered it: the fold of the journey events.</summary>
public sealed class JourneyPosition
{
    [JsonInclude] public int Version { get; internal set; }

    /// <summary>How many times the visitor entered this journey (the current passage's number while inside).</summary>
    [JsonInclude] public int Occurrence { get; internal set; }

    /// <summary>The step the visitor is at; null when not inside.</summary>
    [JsonInclude] public string? StepId { get; internal set; }

    [JsonInclude] public bool HeldOut { get; internal set; }

    /// <summary>Why the visitor entered this passage (e.g. "event cart_item_added", "entered segment vip").</summary>
    [JsonInclude] public string? EntryReason { get; internal set; }
    [JsonInclude] public DateTimeOffset? EnteredAt { get; internal set; }

    /// <summary>
    /// A marketer's trigger (a campaign or a broadcast to a segment or a list) started the current passage, not the
    /// visitor's own behaviour: its messages are bulk, delivered after the others waiting (README "Delivery priority").
    /// </summary>
    [JsonInclude] public bool EnteredByTrigger { get; internal set; }
    [JsonInclude] public DateTimeOffset? StepSince { get; internal set; }

    /// <summary>When the current wait ends (a wait, a timeout, quiet hours before a send); null when not waiting.</summary>
    [JsonInclude] public DateTimeOffset? WaitUntil { get; internal set; }

    [JsonInclude] public DateTimeOffset? LastExitAt { get; internal set; }
    [JsonInclude] public string? LastExitReason { get; internal set; }

    /// <summary>
    /// The marketers' triggers that let the visitor in (the latest <see cref="TriggersKept"/>, oldest first; null: none),
    /// from <see cref="JourneyEntered.TriggerId"/>, so a replayed stream gives the same list. A retried trigger
    /// finds its id here and enters no one twice, however many events came since.
    /// </summary>
    [JsonInclude] public List<string>? Triggers { get; internal set; }

    public const int TriggersKept = 32;

    public bool Inside => StepId is not null;

    public bool WasTriggeredBy(string triggerId) => Triggers is { } triggers && triggers.Contains(triggerId, StringComparer.Ordinal);

    internal void RecordTrigger(string triggerId)
    {
        Triggers ??= [];
        if (Triggers.Contains(triggerId, StringComparer.Ordinal)) return;
        if (Triggers.Count >= TriggersKept) Triggers.RemoveAt(0);
        Triggers.Add(triggerId);
    }
}

/// <summary>One message that was sent, as the policy needs it for caps and frequency.</summary>
public sealed record SentMessage(DateTimeOffset At, string Channel, string Kind, string? Topic);

/// <summary>
/// The visitor's recent sent messages (newest last), bounded: enough for any cap or frequency window the policy uses.
/// Suppressed and deferred decisions are in the stream but not here.
/// </summary>
public sealed class MessageLog
{
    public const int Kept = 64;

    /// <summary>The log of a visitor who was never sent anything (shared; never written to).</summary>
    internal static MessageLog Empty { get; } = new();

    [JsonInclude] public List<SentMessage> Sent { get; private set; } = [];

    // Counting for caps and frequency is the message policy's (MessagePolicy), with its window boundaries in one place.

    internal void Record(MessageDecided m)
    {
        if (m.Outcome != MessageOutcome.Sent) return;
        if (Sent.Count == Kept) Sent.RemoveAt(0);
        Sent.Add(new SentMessage(m.EventTime, m.Channel, m.Kind, m.Topic));
    }
}
