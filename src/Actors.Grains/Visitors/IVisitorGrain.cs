using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Grains.Visitors;

/// <summary>One visitor profile: the single writer of its stream. Keyed by the canonical profile id.</summary>
public interface IVisitorGrain : IGrainWithStringKey
{
    /// <summary>Applies and durably stores the events; completes only when they are in PostgreSQL.</summary>
    Task<TrackResult> Track(Immutable<IReadOnlyList<VisitorEvent>> events);

    [ReadOnly]
    Task<Immutable<ProfileView>> GetProfile();

    /// <summary>Carries this profile's history into <paramref name="targetProfileId"/> and ends this stream. Idempotent.</summary>
    Task<string> MergeInto(string targetProfileId);

    /// <summary>Applies the segment rules (at least catalogue version <paramref name="catalogVersion"/>); returns the membership changes stored.</summary>
    Task<int> ReevaluateSegments(long catalogVersion);

    /// <summary>Whether the profile matches a rule now, without storing anything (previews).</summary>
    [ReadOnly]
    Task<bool> Matches(string ruleJson);

    /// <summary>Takes in another profile's history. Idempotent per source.</summary>
    Task Absorb(string sourceProfileId, Immutable<IReadOnlyList<VisitorEvent>> history);
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
