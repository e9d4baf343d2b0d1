using Actors.Grains.Visitors;

namespace Actors.Benchmarks;

/// <summary>
/// 5. Memory: managed heap (GC.GetTotalMemory after full collections) before and after activating N visitor grains,
/// each with a realistic small history (12 events over 30 days, decided by Intake), divided by N.
/// </summary>
public static class MemoryScenario
{
    private const int HistoryEvents = 12;
    private const double TargetBytes = 8 * 1024;

    public static async Task<List<Scenario>> RunAsync(BenchHost host, BenchOptions o, CancellationToken ct)
    {
        var n = o.MemoryGrains;
        const int warm = 200;
        string Id(int i) => $"anon:mem-{i}";

        await Load.ForEachAsync("memory: users with history", n + warm, 16,
            i => Writer.WriteAsync(host, Id(i), Payloads.History(new Random(i), HistoryEvents, TimeSpan.FromDays(30))), ct);

        // Earlier phases' grains go first, so none of them is collected during the measurement.
        var management = host.Grains.GetGrain<IManagementGrain>(0);
        await management.ForceActivationCollection(TimeSpan.Zero);
        // First activations of the type fill caches that are not per grain.
        for (var i = n; i < n + warm; i++) await host.Grains.GetGrain<IVisitorGrain>(Id(i)).GetProfile();

        var activationsBefore = await management.GetTotalActivationCount();
        var before = Heap();
        await Load.ForEachAsync("memory: activating", n, 64, async i => await host.Grains.GetGrain<IVisitorGrain>(Id(i)).GetProfile(), ct);
        var after = Heap();
        var activationsAfter = await management.GetTotalActivationCount();

        var perGrain = (after - before) / (double)n;
        return
        [
            new("bytes-per-grain", perGrain, "B", null, null, "≤ 8 KB", perGrain <= TargetBytes,
                $"managed heap growth / {n:N0} active visitor grains ({HistoryEvents}-event profiles); activations {activationsBefore:N0} → {activationsAfter:N0}; absolute, no reference needed (bytes do not drift with load)"),
        ];
    }

    /// <summary>The live heap: what is left after full, compacting collections.</summary>
    internal static long Heap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
