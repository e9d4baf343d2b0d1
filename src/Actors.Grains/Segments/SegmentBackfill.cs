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
/// Applies a new or changed rule to every existing profile: pages through the visitor streams and asks each grain to
/// re-evaluate, with bounded parallelism, counting progress. New events keep being evaluated meanwhile (the grains
/// read the same catalogue). A rule changed during a backfill cancels it and starts over at the new version, so every
/// profile ends evaluated against the latest rule.
/// </summary>
public sealed partial class SegmentBackfill(
    SegmentStore store, SegmentCatalog catalog, IGrainFactory grains, SegmentSettings settings, TimeProvider clock, ILogger<SegmentBackfill> logger)
{
    private const int Page = 1000;
    private readonly ConcurrentDictionary<string, Job> _jobs = new(StringComparer.Ordinal);

    private sealed class Job(string segmentId, int version, DateTimeOffset startedAt)
    {
        public readonly CancellationTokenSource Cancel = new();
        public readonly string SegmentId = segmentId;
        public readonly int Version = version;
        public readonly DateTimeOffset StartedAt = startedAt;
        public long Total, Done, Changed;
        public volatile string State = "running";
        public DateTimeOffset? FinishedAt;
        public string? Error;
        public Task Completion = Task.CompletedTask;
        public readonly Stopwatch Watch = Stopwatch.StartNew();

        public BackfillProgress Progress() => new(SegmentId, Version, Interlocked.Read(ref Total), Interlocked.Read(ref Done), Interlocked.Read(ref Changed),
            Watch.Elapsed.TotalSeconds > 0 ? Math.Round(Interlocked.Read(ref Done) / Watch.Elapsed.TotalSeconds, 1) : 0, State, StartedAt, FinishedAt, Error);
    }

    public BackfillProgress Start(string segmentId, int version)
    {
        var job = new Job(segmentId, version, clock.GetUtcNow());
        var previous = _jobs.AddOrUpdate(segmentId, job, (_, old) => { old.Cancel.Cancel(); return job; });
        job.Completion = Task.Run(() => RunAsync(job));
        return job.Progress();
    }

    public BackfillProgress? Progress(string segmentId) => _jobs.TryGetValue(segmentId, out var job) ? job.Progress() : null;

    /// <summary>For tests and the API: waits for the current job of a segment to end.</summary>
    public async Task<BackfillProgress?> WaitAsync(string segmentId, TimeSpan timeout)
    {
        if (!_jobs.TryGetValue(segmentId, out var job)) return null;
        await job.Completion.WaitAsync(timeout);
        return job.Progress();
    }

    private async Task RunAsync(Job job)
    {
        var ct = job.Cancel.Token;
        try
        {
            await catalog.RefreshAsync(ct);
            var catalogVersion = catalog.Current.Version;
            job.Total = await store.ProfileCountAsync(ct);
            LogStarted(job.SegmentId, job.Version, job.Total);
            var lastLog = Stopwatch.StartNew();
            string? after = null;
            while (true)
            {
                var ids = await store.ProfileIdsAsync(after, Page, ct);
                if (ids.Count == 0) break;
                await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = settings.BackfillParallelism, CancellationToken = ct },
                    async (id, _) =>
                    {
                        var changed = await grains.GetGrain<IVisitorGrain>(id).ReevaluateSegments(catalogVersion);
                        if (changed > 0) Interlocked.Add(ref job.Changed, changed);
                        Interlocked.Increment(ref job.Done);
                    });
                after = ids[^1];
                if (lastLog.Elapsed > TimeSpan.FromSeconds(2))
                {
                    var p = job.Progress();
                    LogProgress(job.SegmentId, job.Version, p.Done, p.Total, p.PerSecond);
                    lastLog.Restart();
                }
            }
            job.State = "completed";
            job.FinishedAt = clock.GetUtcNow();
            await store.RecordSizeAsync(job.SegmentId, job.FinishedAt.Value, CancellationToken.None);
            var done = job.Progress();
            LogCompleted(job.SegmentId, job.Version, done.Done, done.Changed, done.PerSecond);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            job.State = "superseded";
            job.FinishedAt = clock.GetUtcNow();
        }
        catch (Exception e)
        {
            job.State = "failed";
            job.Error = e.Message;
            job.FinishedAt = clock.GetUtcNow();
            LogFailed(e, job.SegmentId, job.Version);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Backfill of segment {SegmentId} v{Version} started over {Total} profiles")]
    private partial void LogStarted(string segmentId, int version, long total);

    [LoggerMessage(Level = LogLevel.Information, Message = "Backfill of segment {SegmentId} v{Version}: {Done}/{Total} profiles, {PerSecond}/s")]
    private partial void LogProgress(string segmentId, int version, long done, long total, double perSecond);

    [LoggerMessage(Level = LogLevel.Information, Message = "Backfill of segment {SegmentId} v{Version} completed: {Done} profiles, {Changed} membership changes, {PerSecond}/s")]
    private partial void LogCompleted(string segmentId, int version, long done, long changed, double perSecond);

    [LoggerMessage(Level = LogLevel.Error, Message = "Backfill of segment {SegmentId} v{Version} failed")]
    private partial void LogFailed(Exception e, string segmentId, int version);
}
