namespace Actors.Grains.Channels;

/// <summary>
/// One shard of one channel's delivery, keyed "{channel}/{shard}": it claims its part of the outbox, hands each message
/// to the channel's provider, records the outcome and reports it into the visitor's stream. Orleans keeps one
/// activation per key in the cluster, and the outbox's row claims hold even when a failover briefly makes two.
/// </summary>
public interface IChannelShardGrain : IGrainWithStringKey
{
    /// <summary>Look for due messages now (a visitor grain just decided one). Never waits for delivery.</summary>
    [OneWay, AlwaysInterleave]
    Task Wake();

    /// <summary>
    /// A new bulk message is due (a marketer's trigger or broadcast decided it): as <see cref="Wake"/>, unless bulk
    /// delivery is held, when the shard's paced poll takes it.
    /// </summary>
    [OneWay, AlwaysInterleave]
    Task WakeForBulk();

    /// <summary>
    /// Hold bulk messages back for this long (a large trigger is running; its node renews the hold every second), or
    /// stop holding them now (<see cref="TimeSpan.Zero"/>). A duration, not a moment, so nodes' clocks need not agree.
    /// </summary>
    [OneWay, AlwaysInterleave]
    Task HoldBulk(TimeSpan hold);

    /// <summary>Delivery figures of this shard since its activation.</summary>
    [AlwaysInterleave]
    Task<ShardFigures> Figures();

    public static string KeyOf(string channel, int shard) => $"{channel}/{shard}";
}

[GenerateSerializer, Immutable]
public sealed record ShardFigures(
    [property: Id(0)] long Sent, [property: Id(1)] long Failed, [property: Id(2)] long Retried, [property: Id(3)] long RecoveredInFlight,
    [property: Id(4)] long ReportBatches = 0);
