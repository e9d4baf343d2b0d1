using System.Diagnostics;
using Actors.Grains.Reporting;

namespace Actors.Benchmarks;

/// <summary>
/// Diagnostics of an open loop, second by second (<c>--timeline</c>): how often the reporting daemon's high-water mark
/// moved, the thread pool's longest queue, collections, the cores the host and PostgreSQL used, the whole machine's busy
/// and stolen cores, and what PostgreSQL's active backends waited on (sampled every 50 ms). A slow second then shows what
/// the machine was doing in it.
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
        var doing = new Dictionary<string, int>();
        var (second, steps, lastMark, poolMax) = (0, 0, 0L, 0L);
        var (gen0, gen1, cpu) = (GC.CollectionCount(0), GC.CollectionCount(1), CpuTime.Now(host));
        var machine = MachineTime.Now();
        var windowMachine = machine;
        while (!stop.IsCancellationRequested)
        {
            poolMax = Math.Max(poolMax, ThreadPool.PendingWorkItemCount);
            await using (var command = host.Database.CreateCommand(
                $"select coalesce((select last_seq_id from {schema}.mt_event_progression where name = 'HighWaterMark'), 0), " +
                "coalesce(string_agg(coalesce(wait_event_type || ':' || wait_event, 'CPU'), ',') filter (where backend_type = 'client backend'), ''), " +
                // What they ran: a client's statement by its first words; any other busy backend (an autovacuum worker, the
                // checkpointer) by its type and what it says it does.
                "coalesce(string_agg(case when backend_type = 'client backend' then left(ltrim(regexp_replace(query, '[\\s,|=]+', ' ', 'g')), 48) " +
                "else backend_type || ' ' || regexp_replace(coalesce(query, ''), '[\\s,|=]+', ' ', 'g') end, ','), '') from pg_stat_activity " +
                "where pid <> pg_backend_pid() and (state = 'active' and backend_type = 'client backend' or backend_type = 'autovacuum worker' " +
                "or backend_type in ('checkpointer', 'walwriter') and coalesce(wait_event, '') not in ('CheckpointerMain', 'WalWriterMain'))"))
            await using (var reader = await command.ExecuteReaderAsync(CancellationToken.None))
            {
                await reader.ReadAsync(CancellationToken.None);
                var mark = reader.GetInt64(0);
                if (mark != lastMark) (steps, lastMark) = (steps + 1, mark);
                foreach (var wait in reader.GetString(1).Split(',', StringSplitOptions.RemoveEmptyEntries)) waits[wait] = waits.GetValueOrDefault(wait) + 1;
                foreach (var what in reader.GetString(2).Split(',', StringSplitOptions.RemoveEmptyEntries)) doing[what] = doing.GetValueOrDefault(what) + 1;
            }
            var now = (int)Stopwatch.GetElapsedTime(t0).TotalSeconds;
            if (now != second)
            {
                var used = CpuTime.Now(host) - cpu;
                var whole = MachineTime.Now();
                var (busy, stolen) = whole.CoresSince(machine);
                machine = whole;
                if (second == (int)warmup.TotalSeconds - 1) windowMachine = whole; // the warm-up's last second ends: the window starts
                timeline._lines.Add($"{second - (int)warmup.TotalSeconds}s (ended {DateTime.UtcNow:HH:mm:ss} UTC): high-water mark moved {steps}x; pool queue max {poolMax}, threads {ThreadPool.ThreadCount}; " +
                    $"gen0 {GC.CollectionCount(0) - gen0}, gen1 {GC.CollectionCount(1) - gen1}; cores: host {used.Process.TotalSeconds:N2}, PostgreSQL {used.Postgres.TotalSeconds:N2}, the machine's busy {busy:N2} and stolen {stolen:N2}; " +
                    "active backends sampled: " + string.Join(" ", waits.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key}={kv.Value}")) +
                    "; running: " + string.Join(" | ", doing.OrderByDescending(kv => kv.Value).Take(6).Select(kv => $"{kv.Key}={kv.Value}")));
                waits.Clear();
                doing.Clear();
                (second, steps, poolMax) = (now, 0, 0);
                (gen0, gen1, cpu) = (GC.CollectionCount(0), GC.CollectionCount(1), CpuTime.Now(host));
            }
            try { await Task.Delay(50, stop); }
            catch (OperationCanceledException) { }
        }
        var (windowBusy, windowStolen) = MachineTime.Now().CoresSince(windowMachine);
        timeline._lines.Add($"from the window's start to the end: the machine's cores busy {windowBusy:N2} (of {Environment.ProcessorCount}) and stolen by the hypervisor {windowStolen:N2} on average");
        return timeline;
    }

    /// <summary>
    /// What the database has done so far, for <see cref="PrintCountsAsync"/> after an open loop (<c>--timeline</c>):
    /// autovacuum's runs by table are read now, and PostgreSQL's statement counts start afresh.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, (long Vacuums, long Analyses)>> StartCountingAsync(BenchHost host)
    {
        var maintenance = await MaintenanceAsync(host);
        try
        {
            await IngestDiagnostics.Execute(host, "create extension if not exists pg_stat_statements", CancellationToken.None);
            await IngestDiagnostics.Execute(host, "select pg_stat_statements_reset()", CancellationToken.None);
        }
        catch (Npgsql.PostgresException e)
        {
            Progress.Line($"  (no statement counts: {e.MessageText})");
        }
        return maintenance;
    }

    /// <summary>Autovacuum's and autoanalyze's runs so far, by table.</summary>
    private static async Task<IReadOnlyDictionary<string, (long Vacuums, long Analyses)>> MaintenanceAsync(BenchHost host)
    {
        var counts = new Dictionary<string, (long, long)>();
        await using var command = host.Database.CreateCommand(
            "select schemaname || '.' || relname, autovacuum_count, autoanalyze_count from pg_stat_user_tables");
        await using var reader = await command.ExecuteReaderAsync(CancellationToken.None);
        while (await reader.ReadAsync(CancellationToken.None)) counts[reader.GetString(0)] = (reader.GetInt64(1), reader.GetInt64(2));
        return counts;
    }

    /// <summary>
    /// Since <see cref="StartCountingAsync"/>: the tables autovacuum ran on, and the statements that took the most of
    /// PostgreSQL's time, per request (milliseconds planning and running, calls, rows), each by its first words.
    /// </summary>
    public static async Task PrintCountsAsync(BenchHost host, string label, long requests, IReadOnlyDictionary<string, (long Vacuums, long Analyses)> maintenanceBefore)
    {
        // The statistics of a run are published when it ends: what autovacuum did to which table during the loop.
        var ran = (await MaintenanceAsync(host))
            .Select(kv => (Table: kv.Key, Vacuums: kv.Value.Vacuums - maintenanceBefore.GetValueOrDefault(kv.Key).Vacuums,
                Analyses: kv.Value.Analyses - maintenanceBefore.GetValueOrDefault(kv.Key).Analyses))
            .Where(t => t.Vacuums > 0 || t.Analyses > 0).OrderBy(t => t.Table, StringComparer.Ordinal).ToList();
        Progress.Line($"  {label}: autovacuum ran on " + (ran.Count == 0 ? "no table" : string.Join(", ", ran.Select(t => $"{t.Table} (vacuum {t.Vacuums}, analyze {t.Analyses})"))));
        try
        {
            await using var command = host.Database.CreateCommand(
                "select total_exec_time + total_plan_time, calls, rows, query from pg_stat_statements " +
                "where dbid = (select oid from pg_database where datname = current_database()) and query not like '%pg_stat%' " +
                "order by 1 desc limit 14");
            await using var reader = await command.ExecuteReaderAsync(CancellationToken.None);
            var per = Math.Max(1, requests);
            while (await reader.ReadAsync(CancellationToken.None))
                Progress.Line($"  {label}: {reader.GetDouble(0) / per:N3} ms, {(double)reader.GetInt64(1) / per:N2} calls, {(double)reader.GetInt64(2) / per:N2} rows a request: {IngestDiagnostics.Shorten(reader.GetString(3))}");
        }
        catch (Npgsql.PostgresException e)
        {
            Progress.Line($"  (no statement counts: {e.MessageText})");
        }
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
