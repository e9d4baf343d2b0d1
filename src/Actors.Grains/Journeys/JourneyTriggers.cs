using System.Collections.Concurrent;
using System.Diagnostics;
using Actors.Grains.Hosting;
using Actors.Grains.Identity;
using Actors.Grains.Segments;
using Actors.Storage.Segments;
using Microsoft.Extensions.Logging;

namespace Actors.Grains.Journeys;

/// <summary>Who a trigger is for: a segment's members, or a list of visitor ids ("user:…", "anon:…").</summary>
public sealed record TriggerTarget(string? SegmentId, IReadOnlyList<string>? Profiles);

/// <summary>
/// A trigger's progress: running, done or failed; <see cref="Total"/> is the segment's size when the trigger started
/// (members come and go meanwhile: <see cref="Done"/> is who it reached) or the number of distinct ids in the list.
/// </summary>
public sealed record TriggerProgress(
    string JourneyId, string TriggerId, string State, long Total, long Done, long Entered, long HeldOut, long AlreadyInside, long AlreadyTriggered,
    IReadOnlyDictionary<string, long> NotEligible, double Rate, DateTimeOffset StartedAt, DateTimeOffset? FinishedAt, string? Error);

/// <summary>
/// Marketers' triggers of a journey, for a segment or a list of visitors: each visitor's grain is asked, with bounded
/// parallelism, to enter them (<see cref="Visitors.IVisitorGrain.TriggerJourney"/>), and the outcomes are counted.
/// The grain remembers which triggers let the visitor in, so running a trigger id again (after a failure, or to be
/// sure) enters nobody twice: those it reached answer "already_triggered". The progress is kept in memory on the node
/// that runs the trigger (like a segment backfill): it is lost with the node, and then the same trigger id is simply
/// posted again. The latest <see cref="Kept"/> finished triggers are remembered.
/// </summary>
public sealed partial class JourneyTriggers(
    SegmentStore store, SegmentCatalog catalog, VisitorDirectory directory, LargeTriggerHold largeTrigger, TimeProvider clock, ActorsSettings settings,
    ILogger<JourneyTriggers> logger)
{
    /// <summary>
    /// Grain calls in flight (<see cref="JourneySettings.TriggerParallelism"/>): each is one small append, and the
    /// append batcher writes the ones that wait together in one statement, so more in flight means fuller batches.
    /// </summary>
    public int Parallelism { get; } = Math.Clamp(settings.Journeys.TriggerParallelism, 1, JourneySettings.MaxTriggerParallelism);

    public const int MaxProfiles = 10_000;
    private const int Page = 1000;
    private const int Kept = 1000;
    private readonly object _gate = new();
    private readonly ConcurrentDictionary<(string JourneyId, string TriggerId), Job> _jobs = new();

    private sealed class Job(string journeyId, string triggerId, TriggerTarget target, DateTimeOffset startedAt)
    {
        public readonly string JourneyId = journeyId;
        public readonly string TriggerId = triggerId;
        public readonly TriggerTarget Target = target;
        public readonly DateTimeOffset StartedAt = startedAt;
        public readonly Stopwatch Watch = Stopwatch.StartNew();
        public readonly ConcurrentDictionary<string, long> NotEligible = new(StringComparer.Ordinal);
        public long Total, Done, Entered, HeldOut, AlreadyInside, AlreadyTriggered;
        public volatile string State = "running";
        public DateTimeOffset? FinishedAt;
        public string? Error;

        public double Rate
        {
            get
            {
                var seconds = Watch.Elapsed.TotalSeconds;
                return seconds > 0 ? Math.Round(Interlocked.Read(ref Done) / seconds, 1) : 0;
            }
        }

        public void Count(string outcome)
        {
            switch (outcome)
            {
                case "entered": Interlocked.Increment(ref Entered); break;
                case "held_out": Interlocked.Increment(ref HeldOut); break;
                case "already_inside": Interlocked.Increment(ref AlreadyInside); break;
                case "already_triggered": Interlocked.Increment(ref AlreadyTriggered); break;
                default:
                    var reason = outcome.StartsWith("not_eligible:", StringComparison.Ordinal) ? outcome["not_eligible:".Length..] : outcome;
                    NotEligible.AddOrUpdate(reason, 1, (_, n) => n + 1);
                    break;
            }
            Interlocked.Increment(ref Done);
        }

        public TriggerProgress Progress() => new(JourneyId, TriggerId, State, Interlocked.Read(ref Total), Interlocked.Read(ref Done),
            Interlocked.Read(ref Entered), Interlocked.Read(ref HeldOut), Interlocked.Read(ref AlreadyInside), Interlocked.Read(ref AlreadyTriggered),
            new SortedDictionary<string, long>(NotEligible, StringComparer.Ordinal), Rate, StartedAt, FinishedAt, Error);
    }

    /// <summary>
    /// Starts the trigger, or, when this trigger id is running for the journey, answers with that one (Started false).
    /// A finished trigger id runs again (it enters nobody twice).
    /// </summary>
    public (TriggerProgress Progress, bool Started) Start(string journeyId, string triggerId, TriggerTarget target)
    {
        lock (_gate)
        {
            if (_jobs.TryGetValue((journeyId, triggerId), out var existing) && existing.State == "running") return (existing.Progress(), false);
            var job = new Job(journeyId, triggerId, target, clock.GetUtcNow());
            if (target.Profiles is { } profiles) job.Total = profiles.Count;
            _jobs[(journeyId, triggerId)] = job;
            Forget();
            _ = Task.Run(() => RunAsync(job)); // RunAsync catches everything: its end is the job's state
            return (job.Progress(), true);
        }
    }

    public TriggerProgress? Progress(string journeyId, string triggerId) =>
        _jobs.TryGetValue((journeyId, triggerId), out var job) ? job.Progress() : null;

    /// <summary>Drops the oldest finished triggers beyond <see cref="Kept"/> (under the gate).</summary>
    private void Forget()
    {
        if (_jobs.Count <= Kept) return;
        foreach (var old in _jobs.Values.Where(j => j.State != "running").OrderBy(j => j.StartedAt).Take(_jobs.Count - Kept).ToList())
            _jobs.TryRemove(new KeyValuePair<(string, string), Job>((old.JourneyId, old.TriggerId), old));
    }

    private async Task RunAsync(Job job)
    {
        var target = job.Target.SegmentId is { } segment ? $"segment {segment}" : $"{job.Target.Profiles?.Count ?? 0} profiles";
        try
        {
            // This node's catalogue sees the journey as stored now (it was checked active); the grains here read it.
            await catalog.RefreshAsync(CancellationToken.None);
            if (job.Target.SegmentId is { } segmentId)
            {
                job.Total = await store.CountAsync(segmentId);
                LogStarted(job.JourneyId, job.TriggerId, target, job.Total);
                using var hold = largeTrigger.IsLarge(job.Total) ? largeTrigger.Begin($"trigger {job.TriggerId} of journey {job.JourneyId}") : null;
                // One stream of members across pages: no pause at the end of each page for its slowest visitor.
                await Parallel.ForEachAsync(MembersOf(segmentId), new ParallelOptions { MaxDegreeOfParallelism = Parallelism },
                    async (profileId, _) => job.Count(await directory.Visitor(profileId).TriggerJourney(job.JourneyId, job.TriggerId)));
                // Members who joined while it ran are reached too: the total is at least who was reached.
                Interlocked.Exchange(ref job.Total, Math.Max(Interlocked.Read(ref job.Total), Interlocked.Read(ref job.Done)));
            }
            else
            {
                LogStarted(job.JourneyId, job.TriggerId, target, job.Total);
                using var hold = largeTrigger.IsLarge(job.Total) ? largeTrigger.Begin($"trigger {job.TriggerId} of journey {job.JourneyId}") : null;
                await Parallel.ForEachAsync(job.Target.Profiles ?? [], new ParallelOptions { MaxDegreeOfParallelism = Parallelism },
                    async (alias, _) =>
                    {
                        var profileId = await directory.ResolveAsync(alias);
                        job.Count(await directory.Visitor(profileId).TriggerJourney(job.JourneyId, job.TriggerId));
                    });
            }
            job.Watch.Stop(); // the rate of a finished trigger stays what it was
            job.FinishedAt = clock.GetUtcNow();
            job.State = "done";
            LogDone(job.JourneyId, job.TriggerId, target, job.Done, job.Entered, job.HeldOut, job.AlreadyInside, job.AlreadyTriggered,
                job.NotEligible.Values.Sum(), job.Rate, job.Watch.Elapsed.TotalSeconds);
        }
        catch (Exception e)
        {
            job.Watch.Stop();
            job.Error = e.Message;
            job.FinishedAt = clock.GetUtcNow();
            job.State = "failed";
            LogFailed(e, job.JourneyId, job.TriggerId, target, job.Done, job.Total);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Trigger {TriggerId} of journey {JourneyId} started for {Target}: {Total} visitors")]
    private partial void LogStarted(string journeyId, string triggerId, string target, long total);

    [LoggerMessage(Level = LogLevel.Information, Message = "Trigger {TriggerId} of journey {JourneyId} for {Target} done: {Done} visitors, {Entered} entered, " +
        "{HeldOut} held out, {AlreadyInside} already inside, {AlreadyTriggered} already triggered, {NotEligible} not eligible; {Rate} visitors/s in {Seconds:0.0} s")]
    private partial void LogDone(string journeyId, string triggerId, string target, long done, long entered, long heldOut, long alreadyInside,
        long alreadyTriggered, long notEligible, double rate, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Trigger {TriggerId} of journey {JourneyId} for {Target} failed after {Done}/{Total} visitors; post it again to go on")]
    private partial void LogFailed(Exception e, string journeyId, string triggerId, string target, long done, long total);

    private async IAsyncEnumerable<string> MembersOf(string segmentId)
    {
        string? after = null;
        do
        {
            var (members, next) = await store.MembersAsync(segmentId, after, Page);
            foreach (var member in members) yield return member.ProfileId;
            after = next;
        } while (after is not null);
    }
}
