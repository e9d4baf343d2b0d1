namespace Actors.Grains.Journeys;

/// <summary>Journeys (section "Actors:Journeys").</summary>
public sealed record JourneySettings
{
    /// <summary>
    /// Grain calls a marketer's trigger keeps in flight. More in flight fills the append batcher's batches, so a
    /// trigger enters more visitors a second (docs/benchmarks-log.md, "The write path, the daemon's reads and the JIT": 128 → 2,071/s,
    /// 512 → 3,418/s on 2 cores; 1,024 about a fifth more again). The shop's own events do not queue behind them: a
    /// trigger's appends wait in a lane of their own that batches fill last. Taken within 1 and
    /// <see cref="MaxTriggerParallelism"/> (each call in flight is a task that waits, so a typo of a few more zeros must
    /// not start millions of them).
    /// </summary>
    public int TriggerParallelism { get; init; } = 1024;

    /// <summary>
    /// A marketer's trigger or broadcast of at least this many visitors is large: while one runs, work that can wait
    /// for it does (bulk delivery at <see cref="Channels.ChannelSettings.BulkRateWhileHeld"/>, the reporting
    /// projections paused unless "Actors:EventStore:PauseReportsForLargeTriggers" is false), and catches up after it.
    /// 0: no trigger is large.
    /// </summary>
    public int LargeTriggerFromVisitors { get; init; } = 5_000;

    public const int MaxTriggerParallelism = 4096;
}
