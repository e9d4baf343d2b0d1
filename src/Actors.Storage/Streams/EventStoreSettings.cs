namespace Actors.Storage.Streams;

public sealed record EventStoreSettings
{
    /// <summary>The PostgreSQL schema that Marten owns (events, snapshots, keys).</summary>
    public string Schema { get; init; } = "actors";

    /// <summary>A snapshot is written when this many events were applied since the last one.</summary>
    public int SnapshotEvery { get; init; } = 100;

    /// <summary>Most appends (from different visitors) committed in one transaction by the append batcher.</summary>
    public int MaxAppendBatch { get; init; } = 256;

    /// <summary>Transactions the append batcher keeps in flight at once.</summary>
    public int AppendWriters { get; init; } = 4;

    /// <summary>
    /// Appends the batcher holds waiting for a writer; beyond this it refuses new ones (the API answers 503 with
    /// Retry-After) instead of queueing without end while the database is slow or away.
    /// </summary>
    public int MaxPendingAppends { get; init; } = 10_000;

    /// <summary>
    /// This node runs Marten's async daemon (Solo) for the reporting projections. Exactly one node of a cluster may:
    /// default true for the single node; a cluster's configuration sets it on one (README "Reports").
    /// </summary>
    public bool RunProjections { get; init; } = true;

    /// <summary>
    /// The node that runs the daemon pauses it while a large trigger runs anywhere in the cluster (up to
    /// <see cref="MaxReportPause"/> at a time) and it catches up after: on two cores, the daemon beside a trigger of
    /// 100,000 halved the trigger's rate.
    /// </summary>
    public bool PauseReportsForLargeTriggers { get; init; } = true;

    /// <summary>Longest a pause lasts: after it the reports run until the large triggers end, so they never stand still for long.</summary>
    public TimeSpan MaxReportPause { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The planner's cost of a random page read on the event store's connections (PostgreSQL's default is 4, meant
    /// for spinning disks). Marten's daemon reads each page of events joined to their streams; at the default the
    /// planner hashes the whole stream table for every page once the daemon is behind (measured: 92 ms a page at
    /// 10,000 streams, growing with them), at 1.1 it walks the events' index and looks each stream up (2 ms).
    /// Null leaves the server's setting.
    /// </summary>
    public double? RandomPageCost { get; init; } = 1.1;

    /// <summary>
    /// The channel shards that claim the outbox (the host copies "Actors:Channels:Shards" here): the outbox's claim
    /// index is built on each row's shard, so a shard's claim reads its own rows only. Every node of a cluster should
    /// say the same: a node started with another number rebuilds the index for its own (claims stay right either way).
    /// </summary>
    public int OutboxShards { get; init; } = 8;
}
