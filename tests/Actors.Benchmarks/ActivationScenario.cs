using System.Diagnostics;
using Actors.Grains.Visitors;

namespace Actors.Benchmarks;

/// <summary>
/// 4. Activation and replay. Profiles of 10, 1,000 and 100,000 events are written straight into their streams (chunks
/// of 1,000, decided by Intake). A grain writes a snapshot every SnapshotEvery events, so it is never more than
/// SnapshotEvery - 1 events behind; we place the snapshot exactly there (the worst case), made by replaying the stream
/// up to that version. Then: time of the first GetProfile after ForceActivationCollection(0), median of several
/// samples; and events replayed per second from the first event (no snapshot) on the 100,000-event profile.
/// </summary>
public static class ActivationScenario
{
    public static async Task<List<Scenario>> RunAsync(BenchHost host, BenchOptions o, CancellationToken ct)
    {
        var snapshotEvery = host.Settings.EventStore.SnapshotEvery;
        var sizes = o.ActivationSizes;
        var ids = new Dictionary<int, string>();
        var replayRate = double.NaN;
        long replayed = 0;
        var snapshotBytes = new Dictionary<int, int>();

        foreach (var size in sizes.Prepend(10))
        {
            var id = ids.Count == 0 ? "anon:act-warmup" : $"anon:act-{size}";
            var started = Stopwatch.GetTimestamp();
            var profile = await Writer.WriteLongAsync(host, id, size,
                written => { if (written % 20_000 == 0) Progress.Line($"activation: {id} {written:N0}/{size:N0} events written"); });
            Progress.Line($"activation: {id} has {profile.Version:N0} events (incl. stage changes), written in {Stopwatch.GetElapsedTime(started).TotalSeconds:N1} s");

            var snapshotAt = profile.Version - (snapshotEvery - 1);
            if (snapshotAt >= snapshotEvery)
            {
                var replayStart = Stopwatch.GetTimestamp();
                var atSnapshot = await host.History.StateAsync(id, snapshotAt, ct: ct);
                var elapsed = Stopwatch.GetElapsedTime(replayStart);
                if (size == sizes.Max())
                {
                    replayed = atSnapshot.Version;
                    replayRate = atSnapshot.Version / elapsed.TotalSeconds;
                    Progress.Line($"activation: replayed {atSnapshot.Version:N0} events from the first in {elapsed.TotalSeconds:N2} s ({replayRate:N0}/s)");
                }
                await host.Streams.SaveSnapshotAsync(atSnapshot, ct);
                snapshotBytes[size] = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(atSnapshot).Length;
            }
            if (ids.Count == 0) ids[0] = id;
            else ids[size] = id;
        }

        var management = host.Grains.GetGrain<IManagementGrain>(0);
        var samples = sizes.ToDictionary(s => s, _ => new List<double>());
        // Round 0 is not counted: it pays for JIT and first-use caches of each profile shape.
        for (var sample = -1; sample < o.ActivationSamples; sample++)
        {
            // Rotate the order so no size always goes first after a collection.
            var rotate = Math.Max(0, sample) % sizes.Length;
            foreach (var size in sizes.Skip(rotate).Concat(sizes.Take(rotate)))
            {
                await management.ForceActivationCollection(TimeSpan.Zero);
                await Task.Delay(200, ct);
                await host.Grains.GetGrain<IVisitorGrain>(ids[0]).GetProfile(); // the call path itself is warm
                await management.ForceActivationCollection(TimeSpan.Zero);
                await Task.Delay(200, ct);
                var started = Stopwatch.GetTimestamp();
                var view = await host.Grains.GetGrain<IVisitorGrain>(ids[size]).GetProfile();
                var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                if (sample >= 0) samples[size].Add(ms);
                else Progress.Line($"activation warm-up round: {size:N0} events {ms:N1} ms (not counted)");
                if (view.Value.Version < size) throw new InvalidOperationException($"{ids[size]} has {view.Value.Version} events, expected {size}.");
            }
            if (sample >= 0) Progress.Line($"activation sample {sample + 1}/{o.ActivationSamples}: " + string.Join(", ", sizes.Select(s => $"{s:N0} events {samples[s][^1]:N1} ms")));
        }

        var median = samples.ToDictionary(s => s.Key, s => Median(s.Value));
        var small = median[sizes.Min()];
        var large = median[sizes.Max()];
        var ratio = large / small;
        var middle = string.Join(", ", sizes.Where(s => s != sizes.Min() && s != sizes.Max()).Select(s => $"{s:N0} events {median[s]:N1} ms"));
        return
        [
            new($"activation-{sizes.Max() / 1000}k-vs-{sizes.Min()}", large, "ms", small, ratio, "≤ 3×", ratio <= 3,
                $"cold activation + first GetProfile, median of {o.ActivationSamples}; snapshot {snapshotEvery - 1} events behind the head (worst case for SnapshotEvery={snapshotEvery}), written by the harness from a replay; {middle}; snapshot JSON ≈ " +
                string.Join(", ", snapshotBytes.Where(b => sizes.Contains(b.Key)).Select(b => $"{b.Value / 1024.0:N0} KB at {b.Key:N0} events"))),
            new("replay-events-per-s", replayRate, "events/s", null, null, null, null,
                $"{replayed:N0} events of one profile replayed from the first event without a snapshot (ProfileHistory, the admin replay path)"),
        ];
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
