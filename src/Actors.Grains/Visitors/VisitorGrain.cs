using Actors.Domain.Channels;
using Actors.Grains.Channels;
using Actors.Storage.Channels;
using Actors.Domain.Journeys;
using Actors.Domain.Lifecycle;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;
using Actors.Grains.Hosting;
using Actors.Grains.Segments;
using Actors.Storage.Streams;
using Microsoft.Extensions.Logging;

namespace Actors.Grains.Visitors;

/// <summary>
/// Holds one visitor's profile in memory, decides with the domain, and appends to the visitor's stream.
/// The profile is advanced before the append; if the append fails the profile is reloaded from the stream,
/// so memory never runs ahead of what is durable.
/// </summary>
public sealed partial class VisitorGrain(
    IVisitorStreams streams,
    ActorsSettings settings,
    TimeProvider clock,
    ActorsMetrics metrics,
    SegmentCatalog segments,
    Channels.PopularityBoard popularity,
    ILogger<VisitorGrain> logger) : Grain, IVisitorGrain, IRemindable
{
    private const int MaxConflictRetries = 3;
    private VisitorProfile _profile = null!;
    private long _snapshotVersion;
    private bool _needsReload = true;
    private ProfileView? _view;
    private long _viewVersion = -1;

    private string ProfileId => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken ct)
    {
        await ReloadAsync(ct);
        // A visitor that can change by time alone holds a reminder (kept so by every change); assume it is there.
        _wakeUpDue = Intake.NextWakeUp(_profile, clock.GetUtcNow(), settings.Lifecycle, segments.Context);
        ArmTimer(_wakeUpDue);
    }

    public async Task<int> ReevaluateSegments(long catalogVersion)
    {
        await EnsureLoadedAsync();
        if (_profile.MergedIntoProfileId is not null) return 0;
        await segments.EnsureAtLeastAsync(catalogVersion);
        IReadOnlyList<VisitorEvent> changes = [];
        await AppendWithRetryAsync(() => changes = Intake.Reevaluate(_profile, segments.Context, clock.GetUtcNow(), $"segments:{catalogVersion}"));
        await AfterChangeAsync();
        return changes.Count;
    }

    public async Task<bool> Matches(string ruleJson)
    {
        await EnsureLoadedAsync();
        if (_profile.MergedIntoProfileId is not null || _profile.Version == 0) return false;
        using var json = System.Text.Json.JsonDocument.Parse(ruleJson);
        var parsed = Actors.Domain.Segments.SegmentRule.Parse(json.RootElement);
        return parsed.IsValid && parsed.Rule!.Matches(_profile, clock.GetUtcNow(), segments.Context.Rfm);
    }

    public async Task<TrackResult> Track(Immutable<IReadOnlyList<VisitorEvent>> events)
    {
        await EnsureLoadedAsync();
        if (_profile.ForwardTo is { } target)
            return await GrainFactory.Visitor(target).Track(events);
        var result = await HandleAsync(events.Value, background: false);
        var acks = new EventAck[result.Outcomes.Count];
        var duplicates = 0;
        for (var i = 0; i < acks.Length; i++)
        {
            var duplicate = result.Outcomes[i].Status == IntakeStatus.Duplicate;
            if (duplicate) duplicates++;
            acks[i] = new EventAck(result.Outcomes[i].MessageId, duplicate);
        }
        metrics.Duplicates(duplicates);
        return new TrackResult(ProfileId, _profile.Version, _profile.Stage.ToWire(), acks);
    }

    public async Task<int> ReportDelivery(Immutable<IReadOnlyList<VisitorEvent>> outcomes)
    {
        await EnsureLoadedAsync();
        if (_profile.ForwardTo is { } target)
            return await GrainFactory.Visitor(target).ReportDelivery(outcomes);
        var result = await HandleAsync(outcomes.Value, background: true);
        return result.Outcomes.Count(o => o.Status == IntakeStatus.Duplicate);
    }

    private async Task<IntakeResult> HandleAsync(IReadOnlyList<VisitorEvent> events, bool background)
    {
        IntakeResult result = null!;
        await AppendWithRetryAsync(() =>
        {
            result = Intake.Handle(_profile, events, clock.GetUtcNow(), settings.Lifecycle, segments.Context);
            return result.ToAppend;
        }, background);
        await AfterChangeAsync();
        return result;
    }

    public async Task<string> TriggerJourney(string journeyId, string triggerId)
    {
        await EnsureLoadedAsync();
        if (_profile.ForwardTo is { } target)
            return await GrainFactory.Visitor(target).TriggerJourney(journeyId, triggerId);
        if (_profile.Version == 0) return "not_eligible:unknown_profile"; // no such visitor: a trigger makes none up
        // Published a moment ago on another node: this silo's catalogue may not have it yet; read it now, not in 2 s.
        if (!segments.Context.Journeys.Journeys.Any(j => j.Latest.Id == journeyId)) await segments.RefreshAsync(CancellationToken.None);

        var outcome = "";
        // A trigger keeps hundreds of these in flight; the shop's own requests are stored first (background lane).
        await AppendWithRetryAsync(() =>
        {
            var toAppend = new List<VisitorEvent>();
            outcome = JourneyRunner.Trigger(_profile, journeyId, triggerId, segments.Context.Journeys, clock.GetUtcNow(), toAppend);
            return toAppend;
        }, background: true);
        await AfterChangeAsync();
        return outcome;
    }

    public async Task<Immutable<ProfileView>> GetProfile()
    {
        await EnsureLoadedAsync();
        if (_profile.ForwardTo is { } target)
            return await GrainFactory.Visitor(target).GetProfile();
        // Reads outnumber writes: the view is built once per change, not once per read.
        if (_view is null || _viewVersion != _profile.Version) (_view, _viewVersion) = (ProfileView.From(_profile), _profile.Version);
        return _view.AsImmutable();
    }

    public async Task<Immutable<MessageRecipient?>> Recipient()
    {
        await EnsureLoadedAsync();
        if (_profile.ForwardTo is { } target) return await GrainFactory.Visitor(target).Recipient();
        return (_profile.Version == 0 ? null : MessageRecipient.From(_profile, popularity.Current)).AsImmutable();
    }

    public Task<string> MergeInto(string targetProfileId) => MergeAsync(targetProfileId, actor: null, reason: null);

    public Task<string> MergeKnownInto(string targetProfileId, string actor, string reason) => MergeAsync(targetProfileId, actor, reason);

    /// <summary>
    /// Carries the history over, then ends this stream. A crash in between leaves this stream open: the retry carries
    /// again only what came after the version the target already holds, so events that arrived meanwhile are not lost.
    /// </summary>
    private async Task<string> MergeAsync(string targetProfileId, string? actor, string? reason)
    {
        await EnsureLoadedAsync();
        if (targetProfileId == ProfileId) return ProfileId;
        if (_profile.MergedIntoProfileId is { } already) return already;

        var version = _profile.Version;
        if (version > 0)
        {
            var history = await ReadStreamAsync();
            IReadOnlyList<CarriedEvent> carried = [.. history.Where(h => !h.Event.IsDerived).Select(h => new CarriedEvent(h.Version, h.Event))];
            await GrainFactory.Visitor(targetProfileId).Absorb(ProfileId, carried.AsImmutable(), version, actor, reason);
        }

        var now = clock.GetUtcNow();
        await AppendWithRetryAsync(() => Intake.EndByMerge(_profile, targetProfileId, now, actor, reason));
        LogMerged(ProfileId, targetProfileId, _profile.Version, actor);
        await AfterChangeAsync();
        return targetProfileId;
    }

    public async Task Absorb(string sourceProfileId, Immutable<IReadOnlyList<CarriedEvent>> history, long sourceVersion, string? actor, string? reason)
    {
        await EnsureLoadedAsync();
        if (_profile.MergedIntoProfileId is { } target)
        {
            await GrainFactory.Visitor(target).Absorb(sourceProfileId, history, sourceVersion, actor, reason);
            return;
        }
        await AppendWithRetryAsync(() => Intake.Absorb(
            _profile, sourceProfileId, history.Value, sourceVersion, clock.GetUtcNow(), settings.Lifecycle, segments.Context, actor, reason));
        await AfterChangeAsync();
    }

    public async Task<string> Unmerge(string actor, string reason)
    {
        await EnsureLoadedAsync();
        if (_profile.MergedIntoProfileId is not { } target) return ProfileId;
        await GrainFactory.Visitor(target).TakeBack(ProfileId, actor, reason);
        await AppendWithRetryAsync(() => Intake.Reopen(_profile, actor, reason, clock.GetUtcNow(), settings.Lifecycle, segments.Context));
        LogUnmerged(ProfileId, target, actor, reason);
        await AfterChangeAsync();
        return target;
    }

    public async Task TakeBack(string sourceProfileId, string actor, string reason)
    {
        await EnsureLoadedAsync();
        if (!_profile.MergedFrom.Contains(sourceProfileId)) return;
        // The fold without the carried events needs the whole stream; an unmerge is rare and explicit, so read it all.
        var stream = await ReadStreamAsync();
        if (stream.Count != _profile.Version)
        {
            _needsReload = true;
            throw new InvalidOperationException($"The stream of {ProfileId} holds {stream.Count} events, the profile {_profile.Version}; retry the unmerge.");
        }
        var (profile, toAppend) = Intake.TakeBack(
            ProfileId, [.. stream.Select(s => s.Event)], sourceProfileId, actor, reason, clock.GetUtcNow(), settings.Lifecycle, segments.Context);
        try
        {
            await streams.AppendAsync(ProfileId, _profile.Version, toAppend);
        }
        catch
        {
            _needsReload = true;
            throw;
        }
        _profile = profile;
        _view = null;
        // Loading folds the whole stream whenever the tail after a snapshot holds an unmerge, so an older snapshot
        // never brings the carried events back; a fresh one just spares that full read.
        _snapshotVersion = long.MinValue / 2;
        await AfterChangeAsync();
    }

    public async Task<ProfileIdentity> Identity()
    {
        await EnsureLoadedAsync();
        return new ProfileIdentity(ProfileId, Actors.Domain.Identity.IdentityRules.OwnerOf(ProfileId, _profile.UserId), _profile.MergedIntoProfileId, _profile.ForwardTo, _profile.Version);
    }

    public async Task RecordIdentityChange(Immutable<VisitorEvent> fact)
    {
        await EnsureLoadedAsync();
        await AppendWithRetryAsync(() => Intake.Record(_profile, fact.Value));
        await AfterChangeAsync();
    }

    private async Task<List<StoredEvent>> ReadStreamAsync()
    {
        const int page = 5_000;
        var all = new List<StoredEvent>();
        for (var from = 1L; ;)
        {
            var next = await streams.ReadAsync(ProfileId, new EventQuery(from, page));
            all.AddRange(next);
            if (next.Count < page) return all;
            from = next[^1].Version + 1;
        }
    }

    /// <summary>
    /// Decides and appends; on a version conflict (another activation wrote first) reloads and decides again, so
    /// events already stored by the other writer are recognised as duplicates: nothing lost, nothing twice.
    /// Deciding changes the profile in memory before anything is stored, so until the append is durable the profile is
    /// marked for reload: whatever throws (decide halfway through, the append, a reload) leaves memory to be rebuilt
    /// from the stream, never ahead of it.
    /// </summary>
    private async Task AppendWithRetryAsync(Func<IReadOnlyList<VisitorEvent>> decide, bool background = false)
    {
        for (var attempt = 1; ; attempt++)
        {
            var expected = _profile.Version;
            _needsReload = true;
            var toAppend = decide();
            if (toAppend.Count == 0)
            {
                // Nothing to store; a decide that changed nothing leaves the profile as durable as it was.
                _needsReload = _profile.Version != expected;
                return;
            }
            try
            {
                var outbound = OutboundMessage.Among(_profile, toAppend, popularity.Current);
                await (background
                    ? streams.AppendInBackgroundAsync(ProfileId, expected, toAppend, outbound)
                    : streams.AppendAsync(ProfileId, expected, toAppend, outbound));
                _needsReload = false;
                if (outbound.Count > 0) WakeChannels(outbound);
                metrics.EventsStored(toAppend.Count);
                foreach (var e in toAppend)
                {
                    if (e is StageChanged s) metrics.StageChanged(s.To.ToWire());
                    else if (e is MergedInto) metrics.Merged();
                }
                return;
            }
            catch (StreamConflictException) when (attempt < MaxConflictRetries)
            {
                LogConflict(ProfileId, expected, attempt);
                await ReloadAsync(CancellationToken.None);
            }
        }
    }

    /// <summary>
    /// Tells the shards that own the new outbox rows to look now (one-way; their poll would find them anyway). A bulk
    /// row says so: while a large trigger holds bulk delivery back, its shard leaves such a row to its paced poll.
    /// </summary>
    private void WakeChannels(IReadOnlyList<OutboundMessage> outbound)
    {
        var shards = Math.Max(1, settings.Channels.Shards);
        foreach (var m in outbound)
        {
            var shard = GrainFactory.GetGrain<IChannelShardGrain>(IChannelShardGrain.KeyOf(m.Channel, OutboxStore.BucketOf(m.MessageKey) % shards));
            _ = OutboxStore.PriorityOf(m) == OutboxStore.BulkPriority ? shard.WakeForBulk() : shard.Wake();
        }
    }

    private async Task EnsureLoadedAsync()
    {
        if (_needsReload) await ReloadAsync(CancellationToken.None);
    }

    private async Task ReloadAsync(CancellationToken ct)
    {
        _needsReload = true; // stays set if loading throws, so the next call tries again
        _view = null;
        _profile = await streams.LoadAsync(ProfileId, ct);
        _snapshotVersion = _profile.Version;
        _needsReload = false;
    }

    /// <summary>
    /// Snapshots only a profile that equals the stream (never one marked for reload). The caller's events are
    /// durable by now, so a failed snapshot is logged, not thrown: it only makes the next load read more events.
    /// </summary>
    private async Task AfterChangeAsync()
    {
        if (!_needsReload && _profile.Version - _snapshotVersion >= settings.EventStore.SnapshotEvery)
        {
            try
            {
                await streams.SaveSnapshotAsync(_profile);
                _snapshotVersion = _profile.Version;
            }
            catch (Exception e)
            {
                LogSnapshotFailed(e, ProfileId, _profile.Version);
            }
        }
        await ScheduleWakeUpAsync();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Snapshot of {ProfileId} at version {Version} failed; its events are stored, the next load reads them")]
    private partial void LogSnapshotFailed(Exception error, string profileId, long version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stream of {ProfileId} moved past version {ExpectedVersion}; reloading (attempt {Attempt})")]
    private partial void LogConflict(string profileId, long expectedVersion, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Profile {ProfileId} merged into {TargetProfileId} at version {Version} (by {Actor})")]
    private partial void LogMerged(string profileId, string targetProfileId, long version, string? actor);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Profile {ProfileId} unmerged from {TargetProfileId} by {Actor}: {Reason}")]
    private partial void LogUnmerged(string profileId, string targetProfileId, string actor, string reason);
}
