using Actors.Domain.Channels;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Grains.Visitors;

/// <summary>One visitor profile: the single writer of its stream. Keyed by the canonical profile id.</summary>
public interface IVisitorGrain : IGrainWithStringKey
{
    /// <summary>Applies and durably stores the events; completes only when they are in PostgreSQL.</summary>
    Task<TrackResult> Track(Immutable<IReadOnlyList<VisitorEvent>> events);

    /// <summary>
    /// What the channels learned of messages sent to this visitor (sent, failed, bounced), stored like <see cref="Track"/>
    /// but behind the appends a visitor's request is waiting for: nobody waits on a delivery report. The append marks the
    /// outcomes' outbox rows reported in its own transaction; returns how many outcomes were in the stream already
    /// (appended before, nothing marked now), whose rows the caller marks itself.
    /// </summary>
    Task<int> ReportDelivery(Immutable<IReadOnlyList<VisitorEvent>> outcomes);

    [ReadOnly]
    Task<Immutable<ProfileView>> GetProfile();

    /// <summary>The visitor as a message template sees them (template previews); null for a profile with no events.</summary>
    [ReadOnly]
    Task<Immutable<MessageRecipient?>> Recipient();

    /// <summary>Carries this (anonymous) profile's history into <paramref name="targetProfileId"/> and ends this stream. Idempotent.</summary>
    Task<string> MergeInto(string targetProfileId);

    /// <summary>The explicit, audited merge of one known customer into another (marketing scope).</summary>
    Task<string> MergeKnownInto(string targetProfileId, string actor, string reason);

    /// <summary>Undoes this profile's merge: the profile it went into takes the carried events back, this one reopens. Returns that profile.</summary>
    Task<string> Unmerge(string actor, string reason);

    /// <summary>The other half of an unmerge: stop counting what <paramref name="sourceProfileId"/> carried in. Idempotent.</summary>
    Task TakeBack(string sourceProfileId, string actor, string reason);

    /// <summary>Who this profile is and where it forwards; does not follow forwards.</summary>
    [ReadOnly]
    Task<ProfileIdentity> Identity();

    /// <summary>Records an identity fact decided by a device's identity grain (device linked, unlinked, forwarding). Idempotent.</summary>
    Task RecordIdentityChange(Immutable<VisitorEvent> fact);

    /// <summary>Applies the segment rules (at least catalogue version <paramref name="catalogVersion"/>); returns the membership changes stored.</summary>
    Task<int> ReevaluateSegments(long catalogVersion);

    /// <summary>Whether the profile matches a rule now, without storing anything (previews).</summary>
    [ReadOnly]
    Task<bool> Matches(string ruleJson);

    /// <summary>
    /// A marketer's trigger lets this visitor into a journey: "entered", "held_out", "already_triggered" (this trigger
    /// let them in before), "already_inside" or "not_eligible:reason" ("unknown_profile": a profile with no events is not
    /// made up). A merged profile forwards. Idempotent per trigger id.
    /// </summary>
    Task<string> TriggerJourney(string journeyId, string triggerId);

    /// <summary>
    /// What to show the visitor now in <paramref name="placement"/> (on-site channel), from memory: no I/O once active.
    /// A merged profile forwards.
    /// </summary>
    [ReadOnly]
    Task<Immutable<Actors.Domain.Channels.OnSiteAnswer>> Decide(string placement, int limit);

    /// <summary>
    /// Records the visitor's action on an on-site message: shown (a <see cref="MessageOpened"/>, once per message) or
    /// dismissed (a <see cref="MessageDismissed"/>). "recorded", "already" (recorded before) or "unknown" (no such live message).
    /// </summary>
    Task<string> RecordOnSite(string messageKey, bool dismissed);

    /// <summary>
    /// Right to erasure, for this stream itself (no forwarding): leaves segments and journeys, appends
    /// <see cref="ProfileErased"/>, overwrites the snapshot with the empty profile and deactivates, so nothing of the
    /// person stays in memory. Returns the stream's version after it. Idempotent.
    /// </summary>
    Task<long> Erase(string actor);

    /// <summary>Takes in another profile's history up to its <paramref name="sourceVersion"/>. Idempotent per source version.</summary>
    Task Absorb(string sourceProfileId, Immutable<IReadOnlyList<CarriedEvent>> history, long sourceVersion, string? actor, string? reason);
}

[GenerateSerializer, Immutable]
public sealed record TrackResult(
    [property: Id(0)] string ProfileId,
    [property: Id(1)] long Version,
    [property: Id(2)] string Stage,
    [property: Id(3)] IReadOnlyList<EventAck> Events);

/// <summary>An event's fate: stored now, or recognised as a retry of one stored before.</summary>
[GenerateSerializer, Immutable]
public sealed record EventAck([property: Id(0)] string MessageId, [property: Id(1)] bool Duplicate);

/// <summary>A profile's identity: the customer it belongs to (null: anonymous), where its history went and where its calls go.</summary>
[GenerateSerializer, Immutable]
public sealed record ProfileIdentity(
    [property: Id(0)] string ProfileId,
    [property: Id(1)] string? UserId,
    [property: Id(2)] string? MergedInto,
    [property: Id(3)] string? ForwardTo,
    [property: Id(4)] long Version);
