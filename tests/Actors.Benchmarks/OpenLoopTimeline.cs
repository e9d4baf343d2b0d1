using System.Diagnostics;
using Actors.Grains.Reporting;

namespace Actors.Benchmarks;

/// <summary>
/// Diagnostics of an open loop, second by second (<c>--timeline</c>): how often the reporting daemon's high-water mark
/// moved, the thread pool's longest queue, collections, the cores the host and PostgreSQL used, and what PostgreSQL's
/// active backends waited on (sampled every 50 ms). A slow second then shows what the machine was doing in it.
/// </summary>
public sealed class OpenLoopTimeline
{
    private readonly List<string> _lines = [];

    /// <summary>Samples until <paramref name="stop"/>; seconds are numbered from the window's start (the warm-up is negative).</summary>
    public static async Task<OpenLoopTimeline> RunAsync(BenchHost host, string schema, TimeSpan warmup, CancellationToken stop)
    {
        var timeline = new OpenLoopTimeline();
        var t0 = Stopwatch.GetTimestamp();
        var waits = new Dictionary<string, int>();
        var (second, steps, lastMark, poolMax) = (0, 0, 0L, 0L);
        var (gen0, gen1, cpu) = (GC.CollectionCount(0), GC.CollectionCount(1), CpuTime.Now(host));
        while (!stop.IsCancellationRequested)
        {
            poolMax = Math.Max(poolMax, ThreadPool.PendingWorkItemCount);
            await using (var command = host.Database.CreateCommand(
                $"select coalesce((select last_seq_id from {schema}.mt_event_progression where name = 'HighWaterMark'), 0), " +
                "coalesce(string_agg(coalesce(wait_event_type || ':' || wait_event, 'CPU'), ','), '') from pg_stat_activity " +
                "where state = 'active' and pid <> pg_backend_pid() and backend_type = 'client backend'"))
            await using (var reader = await command.ExecuteReaderAsync(CancellationToken.None))
            {
                await reader.ReadAsync(CancellationToken.None);
                var mark = reader.GetInt64(0);
                if (mark != lastMark) (steps, lastMark) = (steps + 1, mark);
                foreach (var wait in reader.GetString(1).Split(',', StringSplitOptions.RemoveEmptyEntries)) waits[wait] = waits.GetValueOrDefault(wait) + 1;
            }
            var now = (int)Stopwatch.GetElapsedTime(t0).TotalSeconds;
            if (now != second)
            {
                var used = CpuTime.Now(host) - cpu;
                timeline._lines.Add($"{second - (int)warmup.TotalSeconds}s: high-water mark moved {steps}x; pool queue max {poolMax}, threads {ThreadPool.ThreadCount}; " +
                    $"gen0 {GC.CollectionCount(0) - gen0}, gen1 {GC.CollectionCount(1) - gen1}; cores: host {used.Process.TotalSeconds:N2}, PostgreSQL {used.Postgres.TotalSeconds:N2}; " +
                    "active backends sampled: " + string.Join(" ", waits.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key}={kv.Value}")));
                waits.Clear();
                (second, steps, poolMax) = (now, 0, 0);
                (gen0, gen1, cpu) = (GC.CollectionCount(0), GC.CollectionCount(1), CpuTime.Now(host));
            }
            try { await Task.Delay(50, stop); }
            catch (OperationCanceledException) { }
        }
        return timeline;
    }

    public void Print(string label)
    {
        foreach (var line in _lines) Progress.Line($"  {label}: {line}");
    }

    /// <summary>
    /// Holds the reporting projections until <paramref name="stop"/> (<c>--experiment=hold-reports</c>), through the
    /// hold a large trigger uses: renewed every half second, let go at the end.
    /// </summary>
    public static async Task HoldReportsAsync(BenchHost host, CancellationToken stop)
    {
        var hold = host.Grains.GetGrain<IReportsHoldGrain>(IReportsHoldGrain.TheKey);
        while (!stop.IsCancellationRequested)
        {
            await hold.Hold(TimeSpan.FromSeconds(3));
            try { await Task.Delay(500, stop); }
            catch (OperationCanceledException) { }
        }
        await hold.Hold(TimeSpan.Zero);
    }
}
