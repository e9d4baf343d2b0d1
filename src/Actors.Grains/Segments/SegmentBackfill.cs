using System.Collections.Concurrent;
using System.Diagnostics;
using Actors.Grains.Visitors;
using Actors.Storage.Segments;
using Microsoft.Extensions.Logging;

namespace Actors.Grains.Segments;

public sealed record BackfillProgress(
    string SegmentId, int Version, long Total, long Done, long Changed, double PerSecond, string State,
    DateTimeOffset StartedAt, DateTimeOffset? FinishedAt, string? Error);

/// <summary>
/// Applies new or changed rules to every existing profile: pages through the visitor streams and asks each grain to
/// re-evaluate (all active segments at once), with bounded parallelism, counting progress. New events keep being
/// evaluated meanwhile (the grains read the same catalogue). One pass serves every change: a change while a pass runs
/// cancels it and starts one pass over again for all the segments it was doing plus the new one, so every profile ends
/// evaluated against the latest rules, and a burst of changes (a marketer creating ten segments) costs one pass.
/// </summary>
public sealed partial class SegmentBackfill(
    SegmentStore store, SegmentCatalog catalog, IGrainFactory grains, SegmentSettings settings, TimeProvider clock, ILogger<SegmentBackfill> logger)
{
    private const int Page = 1000;
    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(300);
    private readonly object _gate = new();
    private readonly ConcurrentDictionary<string, Job> _bySegment = new(StringComparer.Ordinal);
    private Job? _current;

    private sealed class Job(IReadOnlyDictionary<string, int> segments, DateTimeOffset startedAt)
    {
        public readonly CancellationTokenSource Cancel = new();
        public readonly IReadOnlyDictionary<string, int> Segments = segments;
        public readonly DateTimeOffset StartedAt = startedAt;
        public long Total, Done, Changed;
        public volatile string State = "running";
        public DateTimeOffset? FinishedAt;
        public string? Error;
        public Task Completion = Task.CompletedTask;
        public readonly Stopwatch Watch = Stopwatch.StartNew();

        public BackfillProgress Progress(string segmentId) => new(segmentId, Segments.GetValueOrDefault(segmentId), Interlocked.Read(ref Total),
            Interlocked.Read(ref Done), Interlocked.Read(ref Changed),
            Watch.Elapsed.TotalSeconds > 0 ? Math.Round(Interlocked.Read(ref Done) / Watch.Elapsed.TotalSeconds, 1) : 0, State, StartedAt, FinishedAt, Error);
    }

    public BackfillProgress Start(string segmentId, int version)
    {
        lock (_gate)
        {
            var segments = new Dictionary<string, int>(StringComparer.Ordinal) { [segmentId] = version };
            if (_current is { State: "running" } running)
            {
                running.Cancel.Cancel();
                foreach (var (id, v) in running.Segments) segments.TryAdd(id, v);
            }
            var job = new Job(segments, clock.GetUtcNow());
            _current = job;
            foreach (var id in segments.Keys) _bySegment[id] = job;
            job.Completion = Task.Run(() => RunAsync(job));
            return job.Progress(segmentId);
        }
    }

    public BackfillProgress? Progress(string segmentId) => _bySegment.TryGetValue(segmentId, out var job) ? job.Progress(segmentId) : null;

    /// <summary>For tests and the API: waits for the pass covering a segment to end.</summary>
    public async Task<BackfillProgress?> WaitAsync(string segmentId, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (_bySegment.TryGetValue(segmentId, out var job))
        {
            try { await job.Completion.WaitAsync(deadline - DateTime.UtcNow); }
            catch (OperationCanceledException) { }
            if (_bySegment.TryGetValue(segmentId, out var now) && ReferenceEquals(now, job)) return job.Progress(segmentId);
        }
        return null;
    }

    private async Task RunAsync(Job job)
    {
        var ct = job.Cancel.Token;
        var names = string.Join(", ", job.Segments.Keys);
        try
        {
            await Task.Delay(Debounce, clock, ct); // let a burst of changes gather into this pass
            await catalog.RefreshAsync(ct);
            var catalogVersion = catalog.Current.Version;
            job.Total = await store.ProfileCountAsync(ct);
            LogStarted(names, job.Total);
            var lastLog = Stopwatch.StartNew();
            string? after = null;
            while (true)
            {
                var ids = await store.ProfileIdsAsync(after, Page, ct);
                if (ids.Count == 0) break;
                await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = settings.BackfillParallelism, CancellationToken = ct },
                    async (id, _) =>
                    {
                        var changed = await grains.Visitor(id).ReevaluateSegments(catalogVersion);
                        if (changed > 0) Interlocked.Add(ref job.Changed, changed);
                        Interlocked.Increment(ref job.Done);
                    });
                after = ids[^1];
                if (lastLog.Elapsed > TimeSpan.FromSeconds(2))
                {
                    LogProgress(names, Interlocked.Read(ref job.Done), job.Total);
                    lastLog.Restart();
                }
            }
            job.FinishedAt = clock.GetUtcNow();
            foreach (var id in job.Segments.Keys) await store.RecordSizeAsync(id, job.FinishedAt.Value, CancellationToken.None);
            job.State = "completed";
            LogCompleted(names, job.Done, job.Changed, job.Watch.Elapsed.TotalSeconds);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            job.FinishedAt = clock.GetUtcNow();
            job.State = "superseded";
        }
        catch (Exception e)
        {
            job.Error = e.Message;
            job.FinishedAt = clock.GetUtcNow();
            job.State = "failed";
            LogFailed(e, names);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Backfill for segments {Segments} started over {Total} profiles")]
    private partial void LogStarted(string segments, long total);

    [LoggerMessage(Level = LogLevel.Information, Message = "Backfill for segments {Segments}: {Done}/{Total} profiles")]
    private partial void LogProgress(string segments, long done, long total);

    [LoggerMessage(Level = LogLevel.Information, Message = "Backfill for segments {Segments} completed: {Done} profiles, {Changed} membership changes in {Seconds:0.0} s")]
    private partial void LogCompleted(string segments, long done, long changed, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Backfill for segments {Segments} failed")]
    private partial void LogFailed(Exception e, string segments);
}
