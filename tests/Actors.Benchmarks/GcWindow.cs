using System.Collections.Concurrent;
using System.Globalization;

namespace Actors.Benchmarks;

/// <summary>
/// Garbage collections of this process during a phase. The host under test shares the process, so a collection pauses
/// its requests too: the pauses explain much of a p99 on this machine.
/// </summary>
public readonly record struct GcWindow(TimeSpan Pause, int Gen0, int Gen1, int Gen2, TimeSpan LongestSeen, long FromIndex, string Detail, long Allocated)
{
    public static GcWindow Start()
    {
        GcLog.EnsureStarted();
        GcPhases.EnsureStarted();
        GcPhases.TakeAllocations();
        return new(GC.GetTotalPauseDuration(), GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), TimeSpan.Zero, GcLog.LastIndex, "", GC.GetTotalAllocatedBytes());
    }

    /// <summary>The collections since <see cref="Start"/>, with what each generation's collections carried.</summary>
    public GcWindow Since() =>
        new(GC.GetTotalPauseDuration() - Pause, GC.CollectionCount(0) - Gen0, GC.CollectionCount(1) - Gen1, GC.CollectionCount(2) - Gen2,
            GcLog.Longest(FromIndex), FromIndex, GcLog.Describe(FromIndex) + GcPhases.Describe(FromIndex) + GcPhases.TakeAllocations(),
            GC.GetTotalAllocatedBytes() - Allocated);

    /// <summary>Bytes this process allocated per operation of the phase (the host's and the load generator's).</summary>
    public string AllocatedPer(long operations) =>
        operations <= 0 ? "" : string.Create(CultureInfo.InvariantCulture, $"{Allocated / (double)operations / 1024:N1} KB allocated per operation");

    public override string ToString() =>
        $"GC paused {Pause.TotalMilliseconds:N0} ms in {Gen0} gen0, {Gen1} gen1, {Gen2} gen2 collections (longest {LongestSeen.TotalMilliseconds:N0} ms){Detail}";
}

/// <summary>
/// One line per collection, read by a thread that looks every 2 ms (collections here come a few per second, so it
/// sees almost all): the pause, the bytes promoted and gen0's size before, which say why a pause was as long as it was.
/// </summary>
internal static class GcLog
{
    private sealed record Entry(long Index, int Generation, double PauseMs, long PromotedBytes, long Gen0BeforeBytes, long HeapBytes, bool Compacted);

    private static readonly ConcurrentQueue<Entry> Entries = new();
    private static int _started;
    private static long _last;

    public static long LastIndex => Interlocked.Read(ref _last);

    public static void EnsureStarted()
    {
        if (Interlocked.Exchange(ref _started, 1) == 1) return;
        _last = GC.GetGCMemoryInfo(GCKind.Any).Index;
        new Thread(Watch) { IsBackground = true, Name = "bench-gc-log", Priority = ThreadPriority.AboveNormal }.Start();
    }

    private static void Watch()
    {
        while (true)
        {
            Thread.Sleep(2);
            var info = GC.GetGCMemoryInfo(GCKind.Any);
            if (info.Index <= _last) continue;
            var gen0 = info.GenerationInfo.Length > 0 ? info.GenerationInfo[0].SizeBeforeBytes : 0;
            Entries.Enqueue(new(info.Index, info.Generation, info.PauseDurations.Length > 0 ? info.PauseDurations[0].TotalMilliseconds : 0,
                info.PromotedBytes, gen0, info.HeapSizeBytes, info.Compacted));
            Interlocked.Exchange(ref _last, info.Index);
            while (Entries.Count > 10_000) Entries.TryDequeue(out _);
        }
    }

    public static TimeSpan Longest(long fromIndex) =>
        TimeSpan.FromMilliseconds(Entries.Where(e => e.Index > fromIndex).Select(e => e.PauseMs).DefaultIfEmpty(0).Max());

    public static string Describe(long fromIndex)
    {
        var seen = Entries.Where(e => e.Index > fromIndex).ToList();
        if (seen.Count == 0) return "";
        var parts = seen.GroupBy(e => e.Generation).OrderBy(g => g.Key).Select(g => string.Create(CultureInfo.InvariantCulture,
            $"gen{g.Key}: {g.Count()} seen, pause mean {g.Average(e => e.PauseMs):N1} max {g.Max(e => e.PauseMs):N1} ms, promoted mean {g.Average(e => e.PromotedBytes) / 1e6:N1} max {g.Max(e => e.PromotedBytes) / 1e6:N1} MB, gen0 before mean {g.Average(e => e.Gen0BeforeBytes) / 1e6:N0} MB, heap {g.Last().HeapBytes / 1e6:N0} MB{(g.Any(e => e.Compacted) ? ", compacting" : "")}"));
        return "; " + string.Join("; ", parts);
    }
}

/// <summary>
/// The runtime's own GC events, read in-process: how long a pause waited for threads to stop (suspension), how long the
/// collection itself took, and which roots its survivors were found from (stacks, handles, older generations' cards).
/// </summary>
internal sealed class GcPhases : System.Diagnostics.Tracing.EventListener
{
    private sealed record Phase(long Index, int Depth, double SuspendMs, double CollectMs, double TotalMs, Dictionary<int, long> MarkedBytes, Dictionary<int, double> MarkedAtMs,
        DateTime Began, DateTime Ended);

    private static readonly ConcurrentQueue<Phase> Done = new();
    private static GcPhases? _instance;
    private DateTime _suspendBegin, _suspendEnd, _gcStart, _gcEnd;
    private long _index;
    private int _depth;
    private Dictionary<int, long> _marked = [];
    private Dictionary<int, double> _markedAt = [];

    public static void EnsureStarted() => _instance ??= new GcPhases();

    protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, SampleAllocations ? System.Diagnostics.Tracing.EventLevel.Verbose : System.Diagnostics.Tracing.EventLevel.Informational,
                (System.Diagnostics.Tracing.EventKeywords)0x1);
    }

    protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
    {
        switch (e.EventId)
        {
            case 9: _suspendBegin = e.TimeStamp; _marked = []; _markedAt = []; break;
            case 8: _suspendEnd = e.TimeStamp; break;
            case 1:
                _gcStart = e.TimeStamp;
                _index = Convert.ToInt64(e.Payload![0], CultureInfo.InvariantCulture);
                _depth = Convert.ToInt32(e.Payload![1], CultureInfo.InvariantCulture);
                break;
            case 2: _gcEnd = e.TimeStamp; break;
            case 10 when SampleAllocations:
                // AllocationTick: one event per ~100 KB allocated, naming the type that crossed the mark.
                var name = e.PayloadNames!.IndexOf("TypeName") is var at and >= 0 ? e.Payload![at] as string ?? "?" : "?";
                Allocated.AddOrUpdate(name, 1, (_, n) => n + 1);
                break;
            case 202:
                var type = Convert.ToInt32(e.Payload![2], CultureInfo.InvariantCulture);
                var bytes = Convert.ToInt64(e.Payload![3], CultureInfo.InvariantCulture);
                _marked[type] = _marked.GetValueOrDefault(type) + bytes;
                // When each root's marking ended (the last heap's), from the collection's start: how long each took.
                _markedAt[type] = Math.Max(_markedAt.GetValueOrDefault(type), (e.TimeStamp - _gcStart).TotalMilliseconds);
                break;
            case 3:
                if (_gcStart > _suspendBegin)
                    Done.Enqueue(new(_index, _depth, (_suspendEnd - _suspendBegin).TotalMilliseconds, (_gcEnd - _gcStart).TotalMilliseconds,
                        (e.TimeStamp - _suspendBegin).TotalMilliseconds, _marked, _markedAt, _suspendBegin.ToUniversalTime(), e.TimeStamp.ToUniversalTime()));
                while (Done.Count > 10_000) Done.TryDequeue(out _);
                break;
        }
    }

    /// <summary>Set <c>ACTORS_BENCH_ALLOCATIONS=1</c> to sample which types the process allocates, per phase.</summary>
    private static readonly bool SampleAllocations = Environment.GetEnvironmentVariable("ACTORS_BENCH_ALLOCATIONS") == "1";
    private static readonly ConcurrentDictionary<string, long> Allocated = new();

    /// <summary>The types sampled since the last call, each with its share of the ~100 KB samples.</summary>
    public static string TakeAllocations()
    {
        if (!SampleAllocations) return "";
        var taken = Allocated.ToArray();
        Allocated.Clear();
        var total = taken.Sum(kv => kv.Value);
        if (total == 0) return "";
        return "; allocation samples " + total.ToString(CultureInfo.InvariantCulture) + ": " + string.Join(", ", taken.OrderByDescending(kv => kv.Value).Take(25)
            .Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {100.0 * kv.Value / total:N1}%")));
    }

    /// <summary>
    /// Where the slow requests of a window fell against the collections (times in UTC): overlapping one, or
    /// how long after the end of the last collection before them (by its generation), each against the share of the
    /// window's time that lies that far after one. A tail made by the pauses' aftermath (the work queued while the
    /// process stood still) shows as slow requests packed into the first few hundred milliseconds after them.
    /// </summary>
    public static string Relate(IReadOnlyCollection<(DateTime From, DateTime To)> slow, DateTime windowFrom, DateTime windowTo)
    {
        if (slow.Count == 0) return "";
        var phases = Done.Where(p => p.Ended >= windowFrom.AddSeconds(-5) && p.Began <= windowTo).OrderBy(p => p.Began).ToList();
        if (phases.Count == 0) return "no collections seen";
        string[] buckets = ["0-100", "100-300", "300-1000", "1000+"];
        static int Bucket(double ms) => ms < 100 ? 0 : ms < 300 ? 1 : ms < 1000 ? 2 : 3;
        (int Depth, int Bucket)? After(DateTime t)
        {
            var last = phases.LastOrDefault(p => p.Ended <= t);
            return last is null ? null : (Math.Min(last.Depth, 1), Bucket((t - last.Ended).TotalMilliseconds));
        }
        var inside = 0;
        var counts = new Dictionary<(int, int), int>();
        foreach (var r in slow)
        {
            if (phases.Any(p => p.Began <= r.To && p.Ended >= r.From)) inside++;
            else if (After(r.From) is { } k) counts[k] = counts.GetValueOrDefault(k) + 1;
        }
        var time = new Dictionary<(int, int), int>();
        var steps = 0;
        for (var t = windowFrom; t < windowTo; t = t.AddMilliseconds(5), steps++)
            if (After(t) is { } k) time[k] = time.GetValueOrDefault(k) + 1;
        var parts = new List<string>();
        foreach (var depth in new[] { 1, 0 })
            parts.Add((depth == 1 ? "after a gen1 or gen2" : "after a gen0") + ": " + string.Join(", ", buckets.Select((b, i) => string.Create(CultureInfo.InvariantCulture,
                $"{b} ms {counts.GetValueOrDefault((depth, i))} ({100.0 * time.GetValueOrDefault((depth, i)) / Math.Max(1, steps):N0}% of the time)"))));
        return string.Create(CultureInfo.InvariantCulture, $"{inside} overlapping a collection from the start of its suspension to the restart (the runtime's events; the pause count above is the runtime's pause time, so it can be lower); " +
            $"the others by how long after the last collection they were due: {string.Join("; ", parts)}");
    }

    private static readonly string[] Roots = ["stack", "finalize", "handles", "older", "sizedref", "overflow", "dependent", "new-finalize", "steal"];

    public static string Describe(long fromIndex)
    {
        var seen = Done.Where(p => p.Index > fromIndex).ToList();
        if (seen.Count == 0) return "";
        return "; events: " + string.Join("; ", seen.GroupBy(p => p.Depth).OrderBy(g => g.Key).Select(g =>
        {
            var roots = g.SelectMany(p => p.MarkedBytes).GroupBy(kv => kv.Key).OrderBy(r => r.Key)
                .Select(r => $"{(r.Key < Roots.Length ? Roots[r.Key] : r.Key.ToString(CultureInfo.InvariantCulture))} {r.Sum(kv => kv.Value) / (double)g.Count() / 1e6:N2}");
            var ends = g.SelectMany(p => p.MarkedAtMs).GroupBy(kv => kv.Key).OrderBy(r => r.Average(kv => kv.Value))
                .Select(r => $"{(r.Key < Roots.Length ? Roots[r.Key] : r.Key.ToString(CultureInfo.InvariantCulture))} {r.Average(kv => kv.Value):N1}");
            return string.Create(CultureInfo.InvariantCulture,
                $"gen{g.Key} x{g.Count()}: root marking done at (ms from start, mean): {string.Join(", ", ends)}; suspend mean {g.Average(p => p.SuspendMs):N2} max {g.Max(p => p.SuspendMs):N2}, collect mean {g.Average(p => p.CollectMs):N1} max {g.Max(p => p.CollectMs):N1}, whole mean {g.Average(p => p.TotalMs):N1} max {g.Max(p => p.TotalMs):N1} ms, marked MB per GC by root: {string.Join(", ", roots)}");
        }));
    }
}
