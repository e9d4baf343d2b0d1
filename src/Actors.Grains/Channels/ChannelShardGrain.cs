using System.Diagnostics;
using Actors.Channels.Delivery;
using Actors.Domain.Tracking;
using Actors.Grains.Hosting;
using Actors.Grains.Visitors;
using Actors.Storage.Channels;
using Microsoft.Extensions.Logging;

namespace Actors.Grains.Channels;

/// <summary>
/// Delivers one shard of one channel's outbox. The order of things is what makes delivery exactly once as far as a
/// provider allows: the row exists before any attempt (written with the decision); it is claimed with a lease before
/// the provider is called; it is marked sent right after the provider accepts, one row at a time (the window in which
/// a crash leaves "accepted but not recorded" is one provider round trip and one UPDATE wide); the outcome is then
/// written into the visitor's stream, marking the row reported in the same transaction, and a row whose outcome is not
/// there yet is reported again later (a duplicate report is recognised by its message id).
/// </summary>
public sealed partial class ChannelShardGrain(
    OutboxStore outbox,
    IEnumerable<IChannelProvider> providers,
    ChannelSettings settings,
    TimeProvider clock,
    ActorsMetrics metrics,
    OutageLog outage,
    ProviderThreads providerThreads,
    ILogger<ChannelShardGrain> logger) : Grain, IChannelShardGrain
{
    private static readonly TimeSpan ReportSweepEvery = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan TickBudget = TimeSpan.FromSeconds(2);

    private string _channel = "";
    private int _shard;
    private int _shards;
    private IChannelProvider? _provider;
    private IGrainTimer? _timer;
    private bool _pumping;
    private bool _wakeRequested;
    private bool _lingering; // a wake armed the timer for the linger, and the tick has not started yet
    private DateTimeOffset _lastSweep = DateTimeOffset.MinValue;
    private long _sent, _failed, _retried, _recovered, _reportBatches;
    // Outcomes finished but not yet written into the visitors' streams (ReportLinger), and the report being written:
    // one at a time, so a visitor's outcomes reach its stream in the order they finished.
    private readonly List<UnreportedOutcome> _toReport = [];
    private Task _reporting = Task.CompletedTask;
    private IGrainTimer? _reportTimer;
    private bool _reportArmed;
    private readonly SendPacer _pacer = new(clock); // the provider's rate limit, this shard's share of it
    private DateTimeOffset _bulkHeldUntil = DateTimeOffset.MinValue;
    private double _bulkAllowance; // bulk rows this shard may still claim while held (its share of BulkRateWhileHeld)
    private DateTimeOffset _bulkAllowanceAt;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var key = this.GetPrimaryKeyString();
        var slash = key.LastIndexOf('/');
        _channel = key[..slash];
        _shard = int.Parse(key[(slash + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        _shards = Math.Max(1, settings.Shards);
        _provider = providers.LastOrDefault(p => p.Channel == _channel);
        _timer = this.RegisterGrainTimer(PumpAsync, new GrainTimerCreationOptions(TimeSpan.Zero, settings.PollEvery) { Interleave = false, KeepAlive = true });
        _reportTimer = this.RegisterGrainTimer(_ => FlushReportsAsync(), new GrainTimerCreationOptions(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan) { Interleave = false, KeepAlive = true });
        LogActivated(_channel, _shard, _shards, _provider?.GetType().Name ?? "none");
        return Task.CompletedTask;
    }

    public Task Wake()
    {
        _wakeRequested = true;
        // The first wake of an idle shard arms the linger; later ones join it. Re-arming on each wake would push the
        // tick back every time, and a steady stream of decisions (a wake every few ms) would keep it from ever firing.
        if (!_pumping && !_lingering)
        {
            _lingering = true;
            _timer?.Change(Linger, settings.PollEvery);
        }
        return Task.CompletedTask;
    }

    public Task WakeForBulk() => BulkHeld ? Task.CompletedTask : Wake();

    public Task HoldBulk(TimeSpan hold)
    {
        var now = clock.GetUtcNow();
        var wasHeld = now < _bulkHeldUntil;
        if (hold <= TimeSpan.Zero)
        {
            _bulkHeldUntil = DateTimeOffset.MinValue;
            if (!wasHeld) return Task.CompletedTask;
            LogBulkReleased(_channel, _shard);
            return Wake(); // what waited goes now, not at the next poll
        }
        if (!wasHeld)
        {
            _bulkAllowance = 0;
            _bulkAllowanceAt = now;
            LogBulkHeld(_channel, _shard);
        }
        _bulkHeldUntil = now + (hold > Journeys.LargeTriggerHold.LongestHold ? Journeys.LargeTriggerHold.LongestHold : hold);
        return Task.CompletedTask;
    }

    private bool BulkHeld => clock.GetUtcNow() < _bulkHeldUntil;

    /// <summary>
    /// Bulk rows this shard may claim now while held, at most <paramref name="wanted"/>: its share of the held rate,
    /// earned since the hold began and kept for at most two seconds' worth, so a shard that found nothing to send does
    /// not save up a burst.
    /// </summary>
    private int TakeBulkAllowance(int wanted)
    {
        var now = clock.GetUtcNow();
        var configured = settings.BulkRateWhileHeld;
        var rate = (double.IsFinite(configured) && configured > 0 ? configured : 0) / _shards; // "NaN" or a negative rate holds bulk entirely
        var cap = Math.Max(1, rate * 2);
        _bulkAllowance = Math.Min(cap, _bulkAllowance + Math.Max(0, (now - _bulkAllowanceAt).TotalSeconds) * rate);
        _bulkAllowanceAt = now;
        var taken = (int)Math.Min(wanted, Math.Floor(_bulkAllowance));
        _bulkAllowance -= taken;
        return taken;
    }

    private TimeSpan Linger => settings.WakeLingerTaken;

    public Task<ShardFigures> Figures() => Task.FromResult(new ShardFigures(_sent, _failed, _retried, _recovered, _reportBatches));

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _reportArmed = false; // its timer may be gone already: nothing to disarm
        await StartReportAsync(); // best effort: what is lost here the sweep writes later
        await _reporting;
    }

    private async Task PumpAsync(CancellationToken ct)
    {
        _pumping = true;
        _lingering = false;
        try
        {
            var started = clock.GetUtcNow();
            bool more;
            // A batch's outcomes are written into the visitors' streams while the next batch is claimed and sent (the
            // rows are finished already, so nothing waits for the report but the report before it), and not one
            // batch at a time: they gather for the report linger, or until a full batch has (QueueReportsAsync).
            try
            {
                do
                {
                    _wakeRequested = false;
                    var now = clock.GetUtcNow();
                    var limit = ClaimLimit();
                    var held = BulkHeld;
                    IReadOnlyList<OutboxEntry> claimed = await outbox.ClaimAsync(_channel, _shard, _shards, now, now + settings.Lease, limit, ct,
                        held ? OutboxStore.MarketingPriority : OutboxStore.BulkPriority);
                    if (held && claimed.Count < limit && TakeBulkAllowance(limit - claimed.Count) is > 0 and var allowed)
                    {
                        var bulk = await outbox.ClaimAsync(_channel, _shard, _shards, now, now + settings.Lease, allowed, ct);
                        _bulkAllowance += allowed - bulk.Count; // not found: still this shard's to take
                        if (bulk.Count > 0) claimed = [.. claimed, .. bulk];
                    }
                    outage.Succeeded("channel delivery");
                    if (claimed.Count == 0) break;
                    var finished = await DeliverAsync(claimed, ct);
                    await QueueReportsAsync(finished);
                    more = claimed.Count == limit || _wakeRequested;
                    // Only woken again, with less than a full batch found: let the next decisions gather first.
                    if (more && claimed.Count < limit && Linger > TimeSpan.Zero) await Task.Delay(Linger, clock, ct);
                }
                while (more && clock.GetUtcNow() - started < TickBudget);
            }
            finally
            {
                await _reporting; // never left running past the tick (it logs its own failures; the sweep retries them)
            }

            if (clock.GetUtcNow() - _lastSweep > ReportSweepEvery)
            {
                _lastSweep = clock.GetUtcNow();
                await SweepUnreportedAsync(ct);
            }
            // Work left (a full batch, or a wake during this tick): go on at once rather than after a poll period.
            if (_wakeRequested || clock.GetUtcNow() - started >= TickBudget) _timer?.Change(TimeSpan.Zero, settings.PollEvery);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            outage.Failed($"channel delivery {_channel}/{_shard}", e); // the next tick tries again; claimed rows come back when their lease ends
        }
        finally
        {
            _pumping = false;
        }
    }

    private async Task<List<UnreportedOutcome>> DeliverAsync(IReadOnlyList<OutboxEntry> claimed, CancellationToken ct)
    {
        var finished = new List<UnreportedOutcome>(claimed.Count);
        using var gate = new SemaphoreSlim(Math.Max(1, settings.Parallelism));
        await Task.WhenAll(claimed.Select(async entry =>
        {
            await gate.WaitAsync(ct);
            try
            {
                if (await DeliverOneAsync(entry, ct) is { } outcome)
                    lock (finished) finished.Add(outcome);
            }
            finally
            {
                gate.Release();
            }
        }));
        return finished;
    }

    /// <summary>Hands one message to the provider and records what happened; the finished outcome, or null while it is still to be retried.</summary>
    private async Task<UnreportedOutcome?> DeliverOneAsync(OutboxEntry entry, CancellationToken ct)
    {
        var m = entry.Message;
        var now = clock.GetUtcNow();
        if (entry.WasInFlight)
        {
            Interlocked.Increment(ref _recovered);
            LogRecovered(m.MessageKey, _channel, entry.Attempts);
        }
        if (now - m.DecidedAt > settings.MaxAge) return await FailAsync(entry, "expired: not sent within " + settings.MaxAge, ct);
        if (_provider is null) return await FailAsync(entry, $"channel_not_configured: no {_channel} provider is configured", ct);

        DeliveryResult result;
        // The provider takes its turn of the channel's rate right before its network write, so the time a message
        // waits for its turn is not the provider's: it is taken out of the timing.
        var paced = TimeSpan.Zero;
        async ValueTask Turn(CancellationToken token)
        {
            var waited = Stopwatch.GetTimestamp();
            await PaceAsync(token);
            paced += Stopwatch.GetElapsedTime(waited);
        }
        var watch = Stopwatch.StartNew();
        try
        {
            var provider = _provider;
            result = await providerThreads.Run(() => provider.SendAsync(m, Turn, ct));
        }
        catch (TemplateNotFoundException e)
        {
            result = DeliveryResult.Rejected("template_not_found: " + e.Template);
        }
        catch (MessageNotRenderableException e)
        {
            result = DeliveryResult.Rejected("template_unusable: " + e.Message);
        }
        catch (Actors.Channels.Templates.TemplateLimitException e)
        {
            // The same template and recipient break the same limit every time: retrying cannot help.
            result = DeliveryResult.Rejected($"template_limit: {m.Template}: {e.Message}");
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            result = DeliveryResult.Retry(e.GetType().Name + ": " + e.Message);
        }
        metrics.MessageDelivery(_channel, result.Status.ToString(), (watch.Elapsed - paced).TotalMilliseconds, (clock.GetUtcNow() - m.DecidedAt).TotalMilliseconds);
        if (result.GoneEndpoints is { Count: > 0 } gone) await ForgetGoneEndpointsAsync(m.ProfileId, m.MessageKey, gone);

        switch (result.Status)
        {
            case DeliveryStatus.Accepted:
                // Recorded at once, one row at a time: this UPDATE is what closes the window after the provider's answer.
                if (!await outbox.MarkSentAsync(m.MessageKey, result.ProviderMessageId, clock.GetUtcNow(), CancellationToken.None)) return null;
                Interlocked.Increment(ref _sent);
                return new UnreportedOutcome(m.MessageKey, m.ProfileId, m.Channel, "sent", result.ProviderMessageId, null, entry.Attempts, m.JourneyId, m.StepId);
            case DeliveryStatus.Rejected:
                return await FailAsync(entry, result.Error ?? "rejected", ct, result.Bounced, result.Unreachable);
            default:
                if (entry.Attempts >= settings.MaxAttempts)
                    return await FailAsync(entry, $"retries_exhausted after {entry.Attempts} attempts: {result.Error}", ct);
                var wait = result.RetryAfter ?? Backoff(entry.Attempts);
                await outbox.RetryLaterAsync(m.MessageKey, result.Error ?? "retry", clock.GetUtcNow() + wait, CancellationToken.None);
                Interlocked.Increment(ref _retried);
                LogRetry(m.MessageKey, _channel, entry.Attempts, wait, Actors.Domain.Privacy.PersonalText.Redact(result.Error));
                return null;
        }
    }

    /// <summary>
    /// A push service said these subscriptions are gone (404/410): the visitor's profile forgets them, so the next message
    /// does not knock again. Best effort: if this report is lost, the next send learns the same and reports it then.
    /// </summary>
    private async Task ForgetGoneEndpointsAsync(string profileId, string messageKey, IReadOnlyList<string> endpoints)
    {
        var now = clock.GetUtcNow();
        var events = endpoints.Distinct(StringComparer.Ordinal).Select(endpoint => (VisitorEvent)new PushUnsubscribed(endpoint, "gone")
        {
            MessageId = $"{messageKey}:gone:{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(endpoint)))[..16]}",
            EventTime = now,
            ReceivedTime = now,
        }).ToList();
        try
        {
            await GrainFactory.Visitor(profileId).Track(new Immutable<IReadOnlyList<VisitorEvent>>(events));
        }
        catch (Exception e)
        {
            LogReportFailed(profileId, e.GetType().Name, e.Message);
        }
    }

    private async Task<UnreportedOutcome?> FailAsync(OutboxEntry entry, string error, CancellationToken ct, bool bounced = false, bool unreachable = false)
    {
        var m = entry.Message;
        var finished = bounced
            ? await outbox.MarkBouncedAsync(m.MessageKey, error, clock.GetUtcNow(), ct)
            : await outbox.MarkFailedAsync(m.MessageKey, error, clock.GetUtcNow(), ct);
        if (!finished) return null;
        Interlocked.Increment(ref _failed);
        // A visitor with no address on the channel is an expected outcome (a campaign to anonymous visitors meets
        // thousands): recorded in the stream and the metrics, logged at Debug, and a line per message at Warning would
        // bury the failures an operator must act on (and cost a console write each).
        if (unreachable) LogUnreachable(m.MessageKey, _channel, error);
        else LogFailed(m.MessageKey, _channel, Actors.Domain.Privacy.PersonalText.Redact(error));
        return new UnreportedOutcome(m.MessageKey, m.ProfileId, m.Channel, bounced ? "bounced" : "failed", null, error, entry.Attempts, m.JourneyId, m.StepId);
    }

    /// <summary>Exponential backoff with jitter: 5 s, 10 s, 20 s … up to the maximum.</summary>
    private TimeSpan Backoff(int attempts)
    {
        var exponent = Math.Min(attempts - 1, 20);
        var ticks = Math.Min(settings.FirstRetryAfter.Ticks * Math.Pow(2, exponent), settings.MaxRetryAfter.Ticks);
        return TimeSpan.FromTicks((long)(ticks * (0.8 + Random.Shared.NextDouble() * 0.4)));
    }

    /// <summary>
    /// Under a rate limit, no more rows than the shard may send in one tick: a claimed row waiting for the pacer is
    /// "in flight" for the lease, and would be resent after a crash although it was never handed over.
    /// </summary>
    private int ClaimLimit()
    {
        var batch = Math.Max(1, settings.BatchSize);
        if (!settings.RatePerSecond.TryGetValue(_channel, out var rate) || rate <= 0) return batch;
        return (int)Math.Clamp(Math.Ceiling(rate / _shards * TickBudget.TotalSeconds), 1, batch);
    }

    /// <summary>The cluster-wide rate of the channel, split evenly between its shards.</summary>
    private Task PaceAsync(CancellationToken ct) =>
        settings.RatePerSecond.TryGetValue(_channel, out var rate) && rate > 0
            ? _pacer.WaitTurnAsync(TimeSpan.FromTicks((long)(TimeSpan.TicksPerSecond * _shards / rate)), ct)
            : Task.CompletedTask;

    /// <summary>
    /// Gathers finished outcomes for one report: written at once when a full batch has gathered (or with no linger),
    /// otherwise when the linger's timer fires. Starts the write without waiting for it (the pump's next claim goes on
    /// meanwhile); only the report before it is waited for.
    /// </summary>
    private async Task QueueReportsAsync(List<UnreportedOutcome> finished)
    {
        if (finished.Count == 0) return;
        _toReport.AddRange(finished);
        var linger = settings.ReportLingerTaken;
        if (_toReport.Count >= Math.Max(1, settings.BatchSize) || linger <= TimeSpan.Zero)
        {
            await StartReportAsync();
            return;
        }
        if (_reportArmed) return;
        _reportArmed = true;
        _reportTimer?.Change(linger, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The linger's end: writes what gathered and waits for it, so the timer's turn covers the report.</summary>
    private async Task FlushReportsAsync()
    {
        await StartReportAsync();
        await _reporting;
    }

    private async Task StartReportAsync()
    {
        if (_reportArmed)
        {
            _reportArmed = false;
            _reportTimer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
        if (_toReport.Count == 0) return;
        var batch = _toReport.ToArray();
        _toReport.Clear();
        await _reporting; // it logs its own failures
        _reportBatches++;
        _reporting = ReportAsync(batch);
    }

    /// <summary>
    /// Writes outcomes into the visitors' streams; the append marks their rows reported in the same transaction. Those
    /// that could not be written stay unreported for the sweep; those the stream had already (a report repeated after a
    /// crash, or by the sweep) are marked here.
    /// </summary>
    private async Task ReportAsync(IReadOnlyList<UnreportedOutcome> outcomes)
    {
        if (outcomes.Count == 0) return;
        var reported = new List<string>();
        var now = clock.GetUtcNow();
        await Task.WhenAll(outcomes.GroupBy(o => o.ProfileId, StringComparer.Ordinal).Select(async group =>
        {
            var events = group.Select(o => OutcomeEvent(o, now)).ToList();
            try
            {
                var already = await GrainFactory.Visitor(group.Key).ReportDelivery(new Immutable<IReadOnlyList<VisitorEvent>>(events));
                if (already > 0) lock (reported) reported.AddRange(group.Select(o => o.MessageKey));
            }
            catch (Exception e)
            {
                LogReportFailed(group.Key, e.GetType().Name, e.Message);
            }
        }));
        if (reported.Count == 0) return;
        try
        {
            await outbox.MarkReportedAsync(reported);
        }
        catch (Exception e)
        {
            LogReportFailed("(outbox)", e.GetType().Name, e.Message); // reported again by the sweep: a duplicate there is recognised
        }
    }

    private async Task SweepUnreportedAsync(CancellationToken ct)
    {
        var stale = await outbox.UnreportedAsync(_channel, _shard, _shards, clock.GetUtcNow() - ReportSweepEvery, 500, ct);
        if (stale.Count > 0) LogSweep(stale.Count, _channel, _shard);
        await ReportAsync(stale);
    }

    internal static VisitorEvent OutcomeEvent(UnreportedOutcome o, DateTimeOffset now) => o.Status switch
    {
        "sent" => new MessageSent(o.MessageKey, o.Channel, o.ProviderId, o.Attempts)
            { MessageId = o.MessageKey + ":sent", EventTime = now, ReceivedTime = now, JourneyId = o.JourneyId, StepId = o.StepId },
        "bounced" => new MessageBounced(o.MessageKey, o.Channel, o.Error ?? "bounced", Permanent: true)
            { MessageId = o.MessageKey + ":bounced", EventTime = now, ReceivedTime = now, JourneyId = o.JourneyId, StepId = o.StepId },
        _ => new MessageFailed(o.MessageKey, o.Channel, o.Error ?? "failed", o.Attempts)
            { MessageId = o.MessageKey + ":failed", EventTime = now, ReceivedTime = now, JourneyId = o.JourneyId, StepId = o.StepId },
    };

    [LoggerMessage(Level = LogLevel.Debug, Message = "Channel shard {Channel}/{Shard} holds bulk messages back while a large trigger runs")]
    private partial void LogBulkHeld(string channel, int shard);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Channel shard {Channel}/{Shard} sends bulk messages again")]
    private partial void LogBulkReleased(string channel, int shard);

    [LoggerMessage(Level = LogLevel.Information, Message = "Channel shard {Channel}/{Shard} of {Shards} active (provider {Provider})")]
    private partial void LogActivated(string channel, int shard, int shards, string provider);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Message {MessageKey} ({Channel}) was in flight when its claimer stopped (attempt {Attempts}): sending again; the provider may already have it")]
    private partial void LogRecovered(string messageKey, string channel, int attempts);

    [LoggerMessage(Level = LogLevel.Information, Message = "Message {MessageKey} ({Channel}) attempt {Attempts} failed, retrying in {Wait}: {Error}")]
    private partial void LogRetry(string messageKey, string channel, int attempts, TimeSpan wait, string? error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Message {MessageKey} ({Channel}) failed: {Error}")]
    private partial void LogFailed(string messageKey, string channel, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Message {MessageKey} ({Channel}) not sent, the visitor has no address on the channel: {Error}")]
    private partial void LogUnreachable(string messageKey, string channel, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not report delivery outcomes to {ProfileId} ({Error}: {Detail}); the sweep reports them later")]
    private partial void LogReportFailed(string profileId, string error, string detail);

    [LoggerMessage(Level = LogLevel.Information, Message = "Reporting {Count} delivery outcomes of {Channel}/{Shard} that were not in the visitors' streams yet")]
    private partial void LogSweep(int count, string channel, int shard);
}
