using System.Diagnostics;
using HdrHistogram;

namespace Actors.Benchmarks;

/// <summary>Operations done in a measured window, and their latencies in microseconds.</summary>
public sealed record LoadResult(long Ops, long Errors, TimeSpan Elapsed, HistogramBase Latency, GcWindow Gc, string Wal = "", WarmupResult? Warmup = null)
{
    public double PerSecond => Ops / Elapsed.TotalSeconds;
    public double Ms(double percentile) => Load.Ms(Latency, percentile);
    public string Summary => $"{PerSecond:N0}/s, p50 {Ms(50):N2} ms, p99 {Ms(99):N2} ms, p99.9 {Ms(99.9):N2} ms, {Errors} errors; {Gc.AllocatedPer(Ops)}; {Gc}{Wal}";
}

/// <summary>What an open loop's warm-up saw: served at the same rate as its window, not counted in it.</summary>
public sealed record WarmupResult(long Ops, long Errors, TimeSpan Elapsed, HistogramBase Latency, long Slow)
{
    public double Ms(double percentile) => Load.Ms(Latency, percentile);
    public string Summary => $"{Elapsed.TotalSeconds:N0} s warm-up at the same rate, not counted: {Ops:N0} requests, p50 {Ms(50):N2} ms, p99 {Ms(99):N2} ms, {Slow} over 50 ms, {Errors} errors";
}

/// <summary>
/// Bounded load loops: each runs a fixed warm-up and a fixed measured window and stops by itself. Latencies go into
/// one HdrHistogram per worker (no shared lock on the hot path), merged at the end.
/// </summary>
public static class Load
{
    private const long MaxMicros = 60_000_000;
    private static readonly long TimerSlack = Stopwatch.Frequency * 2 / 1_000; // 2 ms

    /// <summary>A latency percentile in milliseconds (NaN when nothing was recorded).</summary>
    public static double Ms(HistogramBase latency, double percentile) =>
        latency.TotalCount == 0 ? double.NaN : latency.GetValueAtPercentile(percentile) / 1000.0;

    /// <summary>The workers' histograms as one.</summary>
    public static LongHistogram Merge(IEnumerable<LongHistogram> histograms)
    {
        var merged = new LongHistogram(MaxMicros, 3);
        foreach (var h in histograms) merged.Add(h);
        return merged;
    }

    public static long Micros(long fromTimestamp, long toTimestamp) =>
        Math.Max(0, (toTimestamp - fromTimestamp) * 1_000_000 / Stopwatch.Frequency);

    /// <summary>Closed loop: <paramref name="concurrency"/> workers each send the next request as soon as one completes.</summary>
    /// <param name="op">(worker, sequence) → success. Exceptions count as errors.</param>
    public static async Task<LoadResult> ClosedAsync(string label, int concurrency, TimeSpan warmup, TimeSpan duration,
        Func<int, long, Task<bool>> op, CancellationToken ct)
    {
        var histograms = new LongHistogram[concurrency];
        var ops = new long[concurrency];
        var errors = new long[concurrency];
        long measureFrom = 0, measureUntil = long.MaxValue, sequence = 0;
        var stop = false;

        var workers = Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
        {
            var h = histograms[w] = new LongHistogram(MaxMicros, 3);
            while (!Volatile.Read(ref stop) && !ct.IsCancellationRequested)
            {
                var start = Stopwatch.GetTimestamp();
                bool ok;
                try { ok = await op(w, Interlocked.Increment(ref sequence)); }
                catch (Exception) when (!ct.IsCancellationRequested) { ok = false; }
                var end = Stopwatch.GetTimestamp();
                // Only operations that started and ended inside the window count.
                var from = Volatile.Read(ref measureFrom);
                if (from == 0 || start < from || end > Volatile.Read(ref measureUntil)) continue;
                if (ok)
                {
                    ops[w]++;
                    h.RecordValue(Math.Min(MaxMicros, Micros(start, end)));
                }
                else errors[w]++;
            }
        }, CancellationToken.None)).ToList();

        await Progress.WaitAsync(label, warmup, "warm-up", () => null, ct);
        await Progress.SettleJitAsync(label, ct);
        var wal = WalCounters.Read();
        var gc = GcWindow.Start();
        var windowStart = Stopwatch.GetTimestamp();
        Volatile.Write(ref measureFrom, windowStart);
        await Progress.WaitAsync(label, duration, "measuring", () => ops.Sum() / Stopwatch.GetElapsedTime(windowStart).TotalSeconds, ct);
        var windowEnd = Stopwatch.GetTimestamp();
        Volatile.Write(ref measureUntil, windowEnd);
        Volatile.Write(ref stop, true);
        await Task.WhenAll(workers);

        var result = new LoadResult(ops.Sum(), errors.Sum(), Stopwatch.GetElapsedTime(windowStart, windowEnd), Merge(histograms), gc.Since(),
            WalCounters.Describe(wal, ops.Sum()));
        Progress.Line($"{label}: {result.Summary}");
        return result;
    }

    /// <summary>
    /// Open loop at a fixed rate: request k is due at start + k / rate, whether or not earlier ones are done. A request
    /// that starts late because every worker was busy is timed from when it was due (queueing counts); one that waited
    /// for its due time is timed from when it was sent if the timer woke it within its resolution (2 ms), and from when
    /// it was due if later (a stalled process counts). Lateness never accumulates: each moment is fixed from the start.
    /// With a <paramref name="warmup"/>, the same schedule runs that long first: the requests due in it are served and
    /// described apart (<see cref="LoadResult.Warmup"/>), and the window's figures are those of a loop already running.
    /// </summary>
    public static async Task<LoadResult> OpenAsync(string label, double rate, int workers, TimeSpan duration,
        Func<long, Task<bool>> op, CancellationToken ct, TimeSpan warmup = default)
    {
        if (warmup < TimeSpan.Zero) warmup = TimeSpan.Zero;
        // Every worker's histogram is made before the loop starts: 64 of them are megabytes, which allocated inside
        // the window brought a collection into its first second.
        var warmCount = (long)(rate * warmup.TotalSeconds);
        var histograms = Enumerable.Range(0, workers).Select(_ => new LongHistogram(MaxMicros, 3)).ToArray();
        // The same latencies less the collectors' pauses that fell inside each request: what the tail would be if a
        // collection cost nothing, which says how much of a p99 is the collector's and how much is the machine's.
        var lessPauses = Enumerable.Range(0, workers).Select(_ => new LongHistogram(MaxMicros, 3)).ToArray();
        long slowWithPause = 0;
        var slowRequests = new System.Collections.Concurrent.ConcurrentQueue<(long From, long To)>();
        var warmHistograms = Enumerable.Range(0, warmCount > 0 ? workers : 0).Select(_ => new LongHistogram(MaxMicros, 3)).ToArray();
        var ops = new long[workers];
        var errors = new long[workers];
        var warmOps = new long[workers];
        var warmErrors = new long[workers];
        long warmSlow = 0;
        // Slow requests by second of the window: a tail spread evenly is load, one packed into a second or two is an event
        // (a collection, a checkpoint, a vacuum) that the progress line then places in time.
        var slowBySecond = new long[(int)Math.Ceiling(duration.TotalSeconds) + 1];
        var total = warmCount + (long)(rate * duration.TotalSeconds);
        long next = -1;
        var start = Stopwatch.GetTimestamp();
        var ticksPerRequest = Stopwatch.Frequency / rate;
        var windowStart = start + (long)(warmCount * ticksPerRequest);

        var tasks = Enumerable.Range(0, workers).Select(w => Task.Run(async () =>
        {
            var h = histograms[w];
            while (!ct.IsCancellationRequested)
            {
                var k = Interlocked.Increment(ref next);
                if (k >= total) return;
                var due = start + (long)(k * ticksPerRequest);
                var now = Stopwatch.GetTimestamp();
                // A late request is timed from when it was due; pauses between then and now are not taken out of it.
                var pausedBefore = GC.GetTotalPauseDuration();
                long timedFrom;
                if (due > now)
                {
                    // Sleep on the runtime's timer (millisecond resolution, rounded up so it never fires early). The
                    // workers used to wake a millisecond early and spin to the exact moment: at 600 requests a second
                    // that spinning was a third of the process's CPU samples on 2 cores, taken from the host under test.
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Ceiling((due - now) * 1_000.0 / Stopwatch.Frequency)), ct);
                    var woke = Stopwatch.GetTimestamp();
                    // Later than the timer's resolution: the process was stalled (a collection, a starved thread pool
                    // shared with the host), which a client would have waited through, so it counts.
                    timedFrom = woke - due > TimerSlack ? due : woke;
                    if (timedFrom == woke) pausedBefore = GC.GetTotalPauseDuration();
                }
                else timedFrom = due;

                bool ok;
                try { ok = await op(k); }
                catch (Exception) when (!ct.IsCancellationRequested) { ok = false; }
                var ended = Stopwatch.GetTimestamp();
                var micros = Math.Min(MaxMicros, Micros(timedFrom, ended));
                var pausedMicros = (long)(GC.GetTotalPauseDuration() - pausedBefore).TotalMicroseconds;
                if (k < warmCount)
                {
                    if (!ok) { warmErrors[w]++; continue; }
                    warmOps[w]++;
                    warmHistograms[w].RecordValue(micros);
                    if (micros > SlowMicros) Interlocked.Increment(ref warmSlow);
                }
                else if (ok)
                {
                    ops[w]++;
                    h.RecordValue(micros);
                    lessPauses[w].RecordValue(Math.Max(0, micros - pausedMicros));
                    if (micros > SlowMicros)
                    {
                        Interlocked.Increment(ref slowBySecond[Math.Min(slowBySecond.Length - 1, (int)((due - windowStart) / Stopwatch.Frequency))]);
                        slowRequests.Enqueue((timedFrom, ended));
                        if (pausedMicros > 0) Interlocked.Increment(ref slowWithPause);
                    }
                }
                else errors[w]++;
            }
        }, CancellationToken.None)).ToList();

        var all = Task.WhenAll(tasks);
        if (warmCount > 0) await Progress.WaitAsync(label, warmup, $"warm-up at {rate:N0}/s", () => null, ct, all);
        var wal = WalCounters.Read();
        var gc = GcWindow.Start();
        var measuring = Stopwatch.GetTimestamp();
        await Progress.WaitAsync(label, duration, $"open loop at {rate:N0}/s", () => ops.Sum() / Stopwatch.GetElapsedTime(measuring).TotalSeconds, ct, all);
        await all;
        var warm = warmCount > 0 ? new WarmupResult(warmOps.Sum(), warmErrors.Sum(), warmup, Merge(warmHistograms), warmSlow) : null;
        var result = new LoadResult(ops.Sum(), errors.Sum(), Stopwatch.GetElapsedTime(warmCount > 0 ? Math.Max(measuring, windowStart) : start), Merge(histograms), gc.Since(),
            WalCounters.Describe(wal, ops.Sum()), warm);
        if (warm is not null) Progress.Line($"  {label}: {warm.Summary}");
        Progress.Line($"{label}: {result.Summary}");
        if (slowBySecond.Sum() > 0)
            Progress.Line($"  {label}: requests over {SlowMicros / 1000} ms by second of the window: " +
                string.Join(", ", slowBySecond.Select((n, second) => (n, second)).Where(x => x.n > 0).Select(x => $"{x.second}s:{x.n}")) +
                $"; {slowWithPause:N0} of the {slowBySecond.Sum():N0} had a collection's pause inside them");
        // Stopwatch ticks to the UTC times the runtime's GC events carry.
        var (nowTicks, nowUtc) = (Stopwatch.GetTimestamp(), DateTime.UtcNow);
        DateTime Utc(long ticks) => nowUtc - Stopwatch.GetElapsedTime(ticks, nowTicks);
        if (!slowRequests.IsEmpty)
            Progress.Line($"  {label}: the requests over {SlowMicros / 1000} ms against the collections: " +
                GcPhases.Relate([.. slowRequests.Select(r => (Utc(r.From), Utc(r.To)))], Utc(windowStart), Utc(Stopwatch.GetTimestamp())));
        var less = Merge(lessPauses);
        Progress.Line($"  {label}: less the collections' pauses inside each request: p50 {Ms(less, 50):N2} ms, p99 {Ms(less, 99):N2} ms, p99.9 {Ms(less, 99.9):N2} ms");
        return result;
    }

    private const long SlowMicros = 50_000;

    /// <summary>Runs <paramref name="op"/> for 0..count-1 with bounded parallelism (setup work, not measured).</summary>
    public static async Task ForEachAsync(string label, int count, int parallelism, Func<int, Task> op, CancellationToken ct)
    {
        var done = 0;
        var started = Stopwatch.GetTimestamp();
        var lastReport = started;
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = ct }, async (i, _) =>
        {
            await op(i);
            var n = Interlocked.Increment(ref done);
            var now = Stopwatch.GetTimestamp();
            var last = Volatile.Read(ref lastReport);
            if (Micros(last, now) > 2_000_000 && Interlocked.CompareExchange(ref lastReport, now, last) == last)
                Progress.Line($"{label}: {n:N0}/{count:N0}");
        });
        Progress.Line($"{label}: {count:N0} done in {Stopwatch.GetElapsedTime(started).TotalSeconds:N1} s");
    }
}

/// <summary>Progress on stderr, so stdout carries only the table.</summary>
public static class Progress
{
    private static readonly Stopwatch Clock = Stopwatch.StartNew();

    public static void Line(string text) => Console.Error.WriteLine($"[{Clock.Elapsed.TotalSeconds,6:F1}s] {text}");

    /// <summary>Methods compiled per second below which the JIT counts as settled (a warm host compiles a few dozen).</summary>
    public const int SettledJitPerSecond = 100;

    /// <summary>Longest a warm-up is extended while the JIT is busy.</summary>
    public static readonly TimeSpan MaxJitSettle = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Extends a warm-up while the JIT is still compiling the code paths under load (host and client share this
    /// process): a path measured in its first seconds pays for its own compilation, hundreds of methods a second on
    /// these 2 cores, which a running node has long finished. Waits half-second steps until fewer than
    /// <see cref="SettledJitPerSecond"/> methods a second are compiled, at most <see cref="MaxJitSettle"/>.
    /// </summary>
    public static async Task SettleJitAsync(string label, CancellationToken ct)
    {
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < MaxJitSettle)
        {
            var before = System.Runtime.JitInfo.GetCompiledMethodCount();
            await Task.Delay(500, ct);
            var perSecond = (System.Runtime.JitInfo.GetCompiledMethodCount() - before) * 2;
            if (perSecond < SettledJitPerSecond) return;
            Line($"  {label} warm-up: the JIT still compiles {perSecond:N0} methods/s");
        }
        Line($"  {label} warm-up: the JIT did not settle within {MaxJitSettle.TotalSeconds:N0} s; measuring anyway");
    }

    /// <summary>Waits <paramref name="duration"/>, printing a line a second with the current rate when there is one.</summary>
    public static async Task WaitAsync(string label, TimeSpan duration, string phase, Func<double?> rate, CancellationToken ct, Task? until = null)
    {
        var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        while (!ct.IsCancellationRequested)
        {
            var left = Load.Micros(Stopwatch.GetTimestamp(), end);
            if (left <= 0 || until is { IsCompleted: true }) break;
            var step = TimeSpan.FromMicroseconds(Math.Min(left, 1_000_000));
            if (until is null) await Task.Delay(step, ct);
            else await Task.WhenAny(Task.Delay(step, ct), until);
            var remaining = Load.Micros(Stopwatch.GetTimestamp(), end) / 1e6;
            if (remaining > 0.05)
                Line(rate() is { } r && !double.IsNaN(r) ? $"  {label} {phase}: {r:N0}/s, {remaining:N0} s left" : $"  {label} {phase}: {remaining:N0} s left");
        }
        ct.ThrowIfCancellationRequested();
    }
}
