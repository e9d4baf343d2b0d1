using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Actors.Grains.Channels;

/// <summary>
/// Keeps every channel shard grain active somewhere in the cluster, so that messages whose decision woke nobody (a
/// node died after the append, a retry came due) are still delivered. Every silo does it; waking an active grain is a
/// one-way message, and Orleans keeps one activation per shard.
/// </summary>
public sealed partial class ChannelDispatch(IGrainFactory grains, ChannelSettings settings, ILogger<ChannelDispatch> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Let the silo finish starting before the first wake-ups.
        try { await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken); }
        catch (OperationCanceledException) { return; }
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                WakeAll(grains, settings);
            }
            catch (Exception e)
            {
                LogWakeFailed(e);
            }
            try { await Task.Delay(settings.KeepAliveEvery, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    public static void WakeAll(IGrainFactory grains, ChannelSettings settings)
    {
        foreach (var shard in AllShards(grains, settings)) _ = shard.Wake();
    }

    /// <summary>Every shard grain of every delivered channel in the cluster.</summary>
    public static IEnumerable<IChannelShardGrain> AllShards(IGrainFactory grains, ChannelSettings settings)
    {
        foreach (var channel in ChannelSettings.DeliveredChannels)
            for (var shard = 0; shard < Math.Max(1, settings.Shards); shard++)
                yield return grains.GetGrain<IChannelShardGrain>(IChannelShardGrain.KeyOf(channel, shard));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Waking the channel shards failed; trying again later")]
    private partial void LogWakeFailed(Exception e);
}
