using Microsoft.Extensions.Logging;

namespace Actors.Grains.Channels;

/// <summary>
/// Holds bulk delivery back in the whole cluster while this node runs a large trigger (<see cref="ChannelSettings.BulkHoldFromVisitors"/>).
/// On two cores, the trigger's own emails sent beside it (a claim, a send, a finish and an append each) took about a
/// fifth to a quarter of its rate, and they only wait for it: they leave at full speed once it ends. Every second while
/// at least one hold is taken, each channel shard is told to hold for a few seconds more, so a node that dies holding
/// lets go on its own; the last release tells them to send again at once.
/// </summary>
public sealed partial class BulkDeliveryHold(IGrainFactory grains, ChannelSettings settings, TimeProvider clock, ILogger<BulkDeliveryHold> logger)
{
    public static readonly TimeSpan RenewEvery = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(5);

    private readonly Lock _gate = new();
    private int _holders;
    private CancellationTokenSource? _renewing;

    /// <summary>Whether a trigger of this many visitors holds bulk delivery back.</summary>
    public bool Holds(long visitors) => settings.BulkHoldFromVisitors > 0 && visitors >= settings.BulkHoldFromVisitors;

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
            foreach (var channel in ChannelSettings.DeliveredChannels)
                for (var shard = 0; shard < Math.Max(1, settings.Shards); shard++)
                    _ = grains.GetGrain<IChannelShardGrain>(IChannelShardGrain.KeyOf(channel, shard)).HoldBulk(hold);
        }
        catch (Exception e)
        {
            LogTellFailed(e); // the next renewal tries again; a release that failed ends with the lease
        }
    }

    private sealed class Taken(BulkDeliveryHold hold) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) hold.End();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Bulk delivery held back in the cluster while {Reason} runs")]
    private partial void LogHeld(string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Bulk delivery released: no large trigger runs on this node")]
    private partial void LogReleased();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Telling the channel shards about the bulk hold failed; trying again")]
    private partial void LogTellFailed(Exception e);
}
