using Actors.Domain.Journeys;

namespace Actors.Storage.Journeys;

/// <summary>
/// A marketer's journey as stored: its status, its current version and every version it had (visitors stay on the
/// version they entered, so the silos need them all), each in canonical JSON.
/// </summary>
public sealed record JourneyDocument : Definitions.IRevisioned<JourneyDocument>
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public JourneyStatus Status { get; init; } = JourneyStatus.Draft;

    /// <summary>The version new entrants get.</summary>
    public required int Version { get; init; }

    public required IReadOnlyList<JourneyVersion> Versions { get; init; }

    /// <summary>Publish asked for visitors inside older versions to move over to the current one.</summary>
    public bool MoveInsideToCurrent { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Wall-clock time of the change, for people; never compared across nodes (clocks differ).</summary>
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>
    /// Set by <see cref="JourneyStore"/> from a PostgreSQL sequence at every save, under a lock that orders saves by it:
    /// what a client sends back (If-Match) so a stale update gets 409 instead of winning.
    /// </summary>
    public long Revision { get; init; }

    public JourneyDocument WithRevision(string id, long revision) => this with { Id = id, Revision = revision };

    /// <summary>The version new entrants get (a method, so that it is not stored).</summary>
    public JourneyVersion CurrentVersion() => Versions.First(v => v.Version == Version);
}

/// <summary>One version of a journey: its canonical JSON (without id and version) and when it was saved.</summary>
public sealed record JourneyVersion(int Version, string Json, DateTimeOffset At);
