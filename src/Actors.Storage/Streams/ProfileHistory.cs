using Actors.Domain.Profiles;

namespace Actors.Storage.Streams;

/// <summary>Filters for reading a stream: versions from a cursor, event types, a stored-time window.</summary>
public sealed record EventQuery(long FromVersion = 1, int Limit = 100, IReadOnlyList<string>? Types = null, DateTimeOffset? Since = null, DateTimeOffset? Until = null);

/// <summary>
/// Engineers' time travel: the profile exactly as it was at a version or at a moment, by replaying the stream from
/// its first event with the same fold (<see cref="ProfileFold"/>) the grain uses (no snapshot involved).
/// </summary>
public sealed class ProfileHistory(IVisitorStreams streams)
{
    private const int Page = 5_000;

    /// <summary>The profile after the first <paramref name="version"/> events (all when null) stored no later than <paramref name="at"/>.</summary>
    public async Task<VisitorProfile> StateAsync(string profileId, long? version = null, DateTimeOffset? at = null, CancellationToken ct = default)
    {
        var events = new List<Actors.Domain.Tracking.VisitorEvent>();
        var last = version ?? long.MaxValue;
        for (var from = 1L; from <= last;)
        {
            var size = (int)Math.Min(Page, last - from + 1);
            var page = await streams.ReadAsync(profileId, new EventQuery(from, size, Until: at), ct);
            foreach (var stored in page) events.Add(stored.Event);
            if (page.Count < size) break;
            from = page[^1].Version + 1;
        }
        return ProfileFold.Fold(profileId, events);
    }
}
