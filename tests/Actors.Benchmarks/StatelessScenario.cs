using Actors.Domain.Profiles;
using Actors.Domain.Tracking;
using Actors.Grains.Visitors;
using Orleans.Concurrency;

namespace Actors.Benchmarks;

/// <summary>
/// 3. The usual alternative, both sides in-process at the same concurrency (no HTTP on either side):
/// ours = a call to the warm visitor grain (GetProfile / Track, which appends durably);
/// stateless = per request, load the profile from Marten (snapshot + events), evaluate (view / Intake.Handle), append.
/// Writers are partitioned by user so neither side meets version conflicts.
/// </summary>
public static class StatelessScenario
{
    private const int HistoryEvents = 20;

    public static async Task<List<Scenario>> RunAsync(BenchHost host, BenchOptions o, CancellationToken ct)
    {
        var c = o.InProcessConcurrency;
        var users = o.WarmUsers;
        string Id(string set, int i) => $"anon:st-{set}-{i}";

        // Same history for every set: reads share one set, each writer side has its own.
        string[] sets = ["read", "wgrain", "wstateless"];
        await Load.ForEachAsync("stateless: users with history", users * sets.Length, 16, async k =>
        {
            var set = sets[k / users];
            var i = k % users;
            await Writer.WriteAsync(host, Id(set, i), Payloads.History(new Random(i), HistoryEvents, TimeSpan.FromDays(20)));
        }, ct);

        // Warm both sides: grains active for ours, the same rows read once (database cache) for the stateless side.
        await Load.ForEachAsync("stateless: warming", users, c, async i =>
        {
            await host.Grains.GetGrain<IVisitorGrain>(Id("read", i)).GetProfile();
            await host.Grains.GetGrain<IVisitorGrain>(Id("wgrain", i)).GetProfile();
            await host.Streams.LoadAsync(Id("read", i), ct);
            await host.Streams.LoadAsync(Id("wstateless", i), ct);
        }, ct);

        var lifecycle = host.Settings.Lifecycle;
        // Worker w owns users w, w + c, w + 2c, ...
        int UserOf(int worker) => worker + c * Random.Shared.Next((users - worker + c - 1) / c);

        var grainReads = await Load.ClosedAsync("grain reads (in-process)", c, o.Warmup, o.Window, async (_, _) =>
        {
            var view = await host.Grains.GetGrain<IVisitorGrain>(Id("read", Random.Shared.Next(users))).GetProfile();
            return view.Value.Version > 0;
        }, ct);
        var statelessReads = await Load.ClosedAsync("stateless reads (load from Marten)", c, o.Warmup, o.Window, async (_, _) =>
        {
            var profile = await host.Streams.LoadAsync(Id("read", Random.Shared.Next(users)), ct);
            return ProfileView.From(profile).Version > 0;
        }, ct);
        var grainWrites = await Load.ClosedAsync("grain writes (in-process)", c, o.Warmup, o.Window, async (w, _) =>
        {
            IReadOnlyList<VisitorEvent> events = [Payloads.DomainEvent(Random.Shared, DateTimeOffset.UtcNow)];
            var result = await host.Grains.GetGrain<IVisitorGrain>(Id("wgrain", UserOf(w))).Track(events.AsImmutable());
            return result.Events.Count == 1;
        }, ct);
        var statelessWrites = await Load.ClosedAsync("stateless writes (load, decide, append)", c, o.Warmup, o.Window, async (w, _) =>
        {
            var id = Id("wstateless", UserOf(w));
            var profile = await host.Streams.LoadAsync(id, ct);
            var expected = profile.Version;
            var now = DateTimeOffset.UtcNow;
            var result = Intake.Handle(profile, [Payloads.DomainEvent(Random.Shared, now)], now, lifecycle);
            await host.Streams.AppendAsync(id, expected, result.ToAppend, ct: ct);
            return true;
        }, ct);

        var readRatio = grainReads.PerSecond / statelessReads.PerSecond;
        var writeRatio = grainWrites.PerSecond / statelessWrites.PerSecond;
        return
        [
            new("stateless-reads", grainReads.PerSecond, "reads/s", statelessReads.PerSecond, readRatio, "≥ 10× stateless", readRatio >= 10,
                $"in-process, {c} in flight, {users:N0} users with {HistoryEvents} events; grain p99 {grainReads.Ms(99):N2} ms, stateless p99 {statelessReads.Ms(99):N2} ms"),
            new("stateless-writes", grainWrites.PerSecond, "writes/s", statelessWrites.PerSecond, writeRatio, "≥ 2× stateless", writeRatio >= 2,
                $"in-process, {c} in flight, durable append of 1 event each; grain p99 {grainWrites.Ms(99):N2} ms, stateless p99 {statelessWrites.Ms(99):N2} ms; errors {grainWrites.Errors}/{statelessWrites.Errors}"),
        ];
    }
}
