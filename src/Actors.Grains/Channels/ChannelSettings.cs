namespace Actors.Grains.Channels;

/// <summary>Delivery of decided messages (section "Actors:Channels").</summary>
public sealed record ChannelSettings
{
    /// <summary>Shard grains per channel: each claims its own part of the outbox, so no grain is a hot spot.</summary>
    public int Shards { get; init; } = 8;

    /// <summary>Rows one shard claims at a time.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Messages one shard hands to its provider at once.</summary>
    public int Parallelism { get; init; } = 8;

    /// <summary>How often an idle shard looks for due rows (new decisions also wake it at once).</summary>
    public TimeSpan PollEvery { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a woken shard waits before it claims, so that the decisions of those milliseconds are claimed (and
    /// their rows updated) by one statement rather than one each: under a steady stream of decisions a shard was
    /// claiming one or two rows at a time, hundreds of claims a second. Zero claims at once. Taken within 0 and
    /// <see cref="MaxWakeLinger"/> (<see cref="WakeLingerTaken"/>): "10" in a settings file is ten days, and a shard
    /// waiting that long would deliver nothing but what its poll finds.
    /// </summary>
    public TimeSpan WakeLinger { get; init; } = TimeSpan.FromMilliseconds(10);

    public static readonly TimeSpan MaxWakeLinger = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a shard gathers its finished messages' outcomes before it writes them into the visitors' streams
    /// (<c>message_sent</c>, <c>message_failed</c>, ...), unless a full batch (<see cref="BatchSize"/>) gathers first.
    /// Nothing waits on these reports, and written one batch of one or two at a time (eight shards under a steady
    /// stream of decisions) they were most of what delivery cost the visitors' requests beside it
    /// (docs/benchmarks-log.md, twenty-third session). Taken within 0 (at once) and <see cref="MaxReportLinger"/>; a
    /// report lost in between (the node died) is written by the sweep of unreported rows.
    /// </summary>
    public TimeSpan ReportLinger { get; init; } = TimeSpan.FromMilliseconds(500);

    public static readonly TimeSpan MaxReportLinger = TimeSpan.FromSeconds(5);

    /// <summary>The report linger a shard uses: <see cref="ReportLinger"/> within 0 and <see cref="MaxReportLinger"/>.</summary>
    public TimeSpan ReportLingerTaken => Within(ReportLinger, MaxReportLinger);

    private static TimeSpan Within(TimeSpan value, TimeSpan max) => value < TimeSpan.Zero ? TimeSpan.Zero : value > max ? max : value;

    /// <summary>The linger a shard uses: <see cref="WakeLinger"/> within 0 and <see cref="MaxWakeLinger"/>.</summary>
    public TimeSpan WakeLingerTaken => Within(WakeLinger, MaxWakeLinger);

    /// <summary>
    /// The niceness (Linux, 0 to 19) of the threads the channel providers render, compose and encrypt on
    /// (<see cref="Actors.Grains.Channels.ProviderThreads"/>): 10 lets the shop's requests have a busy node's cores first. 0 runs the providers
    /// on the shard grains' turns, at the requests' priority.
    /// </summary>
    public int ProviderNice { get; init; } = 10;

    /// <summary>How many such threads (0: one per core).</summary>
    public int ProviderThreads { get; init; }

    /// <summary>The provider threads started: <see cref="ProviderThreads"/>, or one per core, at most 64.</summary>
    public int ProviderThreadsTaken => ProviderThreads <= 0 ? Environment.ProcessorCount : Math.Min(ProviderThreads, 64);

    /// <summary>How long a claimed row stays with its claimer; after that (its node died) it is due again.</summary>
    public TimeSpan Lease { get; init; } = TimeSpan.FromMinutes(2);

    public TimeSpan FirstRetryAfter { get; init; } = TimeSpan.FromSeconds(5);
    public TimeSpan MaxRetryAfter { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Attempts before a message is given up as failed.</summary>
    public int MaxAttempts { get; init; } = 10;

    /// <summary>A message still unsent this long after its decision is failed as expired: a cart reminder a week late does harm.</summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromDays(3);

    /// <summary>Provider rate limits in messages per second for the whole cluster, by channel (e.g. "sms": 10); absent or 0: none.</summary>
    public Dictionary<string, double> RatePerSecond { get; init; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Bulk messages a second per channel, for the whole cluster, while a large trigger runs
    /// (<see cref="Journeys.JourneySettings.LargeTriggerFromVisitors"/>; 0: none until it ends). Transactional messages
    /// and those a visitor's own behaviour brought are never held; what waited is sent at full speed after.
    /// </summary>
    public double BulkRateWhileHeld { get; init; } = 20;

    /// <summary>How often each silo makes sure every shard grain is active somewhere in the cluster.</summary>
    public TimeSpan KeepAliveEvery { get; init; } = TimeSpan.FromSeconds(15);

    public static readonly string[] DeliveredChannels = ["email", "sms", "push", "webhook"];
}
