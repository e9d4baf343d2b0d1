using Actors.Grains.Channels;
using Actors.Grains.Reporting;
using Microsoft.Extensions.Logging;

namespace Actors.Grains.Journeys;

/// <summary>
/// While this node runs a large trigger (<see cref="JourneySettings.LargeTriggerFromVisitors"/>), the work that can wait
/// for it waits, in the whole cluster: bulk delivery (each channel shard sends bulk messages at a trickle) and the
/// reporting projections (paused on the node that runs them). On two cores, the trigger's own emails sent beside it took
/// about a tenth to a fifth of its rate and the reporting daemon about half; both only wait for it, and catch up after.
/// Every second while at least one hold is taken, the shards and the reports' hold are told to hold for a few seconds
/// more, so a node that dies holding lets go on its own; the last release tells them at once.
/// </summary>
public sealed partial class LargeTriggerHold(IGrainFactory grains, JourneySettings journeys, ChannelSettings channels, TimeProvider clock,
    ILogger<LargeTriggerHold> logger)
{
    public static readonly TimeSpan RenewEvery = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(5);

    /// <summary>The longest a receiver holds past the last word it got, whatever a node asked (a node renews every second).</summary>
    public static readonly TimeSpan LongestHold = TimeSpan.FromMinutes(1);

    private readonly Lock _gate = new();
    private int _holders;
    private CancellationTokenSource? _renewing;

    /// <summary>Whether a trigger of this many visitors is large.</summary>
    public bool IsLarge(long visitors) => journeys.LargeTriggerFromVisitors > 0 && visitors >= journeys.LargeTriggerFromVisitors;

    /// <summary>Takes a hold until the returned lease is disposed; holds overlap (the last one out lets go).</summary>
    public IDisposable Begin(string reason)
    {
        lock (_gate)
        {
            if (_holders++ == 0)
            {
                _renewing = new CancellationTokenSource();
                LogHeld(reason);
                _ = RenewAsync(_renewing.Token);
            }
        }
        return new Taken(this);
    }

    /// <summary>Holds taken and not yet released on this node.</summary>
    public int Holders
    {
        get { lock (_gate) return _holders; }
    }

    private void End()
    {
        lock (_gate)
        {
            if (--_holders > 0) return;
            _renewing?.Cancel();
            _renewing?.Dispose();
            _renewing = null;
        }
    }

    private async Task RenewAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Tell(Lease);
            try { await Task.Delay(RenewEvery, clock, ct); }
            catch (OperationCanceledException) { break; }
        }
        // Sent by the loop itself, after its last renewal, so the release cannot overtake it.
        Tell(TimeSpan.Zero);
        LogReleased();
    }

    private void Tell(TimeSpan hold)
    {
        try
        {
            foreach (var shard in ChannelDispatch.AllShards(grains, channels)) _ = shard.HoldBulk(hold);
            _ = grains.GetGrain<IReportsHoldGrain>(IReportsHoldGrain.TheKey).Hold(hold);
        }
        catch (Exception e)
        {
            LogTellFailed(e); // the next renewal tries again; a release that failed ends with the lease
        }
    }

    private sealed class Taken(LargeTriggerHold hold) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) hold.End();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Bulk delivery and reports wait in the cluster while {Reason} runs")]
    private partial void LogHeld(string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Bulk delivery and reports released: no large trigger runs on this node")]
    private partial void LogReleased();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Telling the channel shards and the reports about a large trigger failed; trying again")]
    private partial void LogTellFailed(Exception e);
}
