using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Benchmarks;

/// <summary>
/// Writes a profile's stream directly, decided by the same <see cref="Intake"/> the grain uses (so stage changes are
/// in it too), without activating a grain. Setup work: never timed as part of a figure.
/// </summary>
public static class Writer
{
    /// <summary>Appends <paramref name="events"/> to a new stream and returns the folded profile.</summary>
    public static async Task<VisitorProfile> WriteAsync(BenchHost host, string profileId, IReadOnlyList<VisitorEvent> events, VisitorProfile? profile = null)
    {
        profile ??= new VisitorProfile(profileId);
        var expected = profile.Version;
        var now = events.Count > 0 ? events[^1].ReceivedTime : DateTimeOffset.UtcNow;
        var result = Intake.Handle(profile, events, now, host.Settings.Lifecycle);
        await host.Streams.AppendAsync(profileId, expected, result.ToAppend);
        return profile;
    }

    /// <summary>A profile of at least <paramref name="count"/> events over the last 300 days, in chunks of 1,000.</summary>
    public static async Task<VisitorProfile> WriteLongAsync(BenchHost host, string profileId, int count, Action<int>? progress = null)
    {
        var random = new Random(profileId.GetHashCode(StringComparison.Ordinal));
        var span = TimeSpan.FromDays(300);
        var start = DateTimeOffset.UtcNow - span;
        var profile = new VisitorProfile(profileId);
        for (var written = 0; written < count;)
        {
            var chunk = Math.Min(1_000, count - written);
            var events = new List<VisitorEvent>(chunk);
            for (var i = 0; i < chunk; i++) events.Add(Payloads.DomainEvent(random, start + span * ((written + i + 1.0) / (count + 1))));
            profile = await WriteAsync(host, profileId, events, profile);
            written += chunk;
            progress?.Invoke(written);
        }
        return profile;
    }
}
