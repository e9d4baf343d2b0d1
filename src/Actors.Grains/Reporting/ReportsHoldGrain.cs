namespace Actors.Grains.Reporting;

/// <summary>
/// Whether a large trigger runs somewhere in the cluster, for the node that runs the reporting projections
/// (<see cref="ReportsPause"/> asks every second). Nodes running a large trigger renew their hold every second;
/// a hold is a duration measured by this grain's clock, so the nodes' clocks need not agree.
/// </summary>
public interface IReportsHoldGrain : IGrainWithIntegerKey
{
    public const long TheKey = 0;

    /// <summary>Hold the reports for this long, or let go now (<see cref="TimeSpan.Zero"/>).</summary>
    [OneWay, AlwaysInterleave]
    Task Hold(TimeSpan hold);

    [AlwaysInterleave]
    Task<bool> IsHeld();

    /// <summary>The daemon's node says whether it has paused the projections (since when), every second while paused.</summary>
    [OneWay, AlwaysInterleave]
    Task DaemonPaused(DateTimeOffset? since);

    /// <summary>Since when the projections are paused, for /v1/reports/status; null when they run.</summary>
    [AlwaysInterleave]
    Task<DateTimeOffset?> DaemonPausedSince();
}

public sealed class ReportsHoldGrain(TimeProvider clock) : Grain, IReportsHoldGrain
{
    private DateTimeOffset _heldUntil = DateTimeOffset.MinValue;
    private DateTimeOffset? _pausedSince;
    private DateTimeOffset _pausedToldAt;

    public Task Hold(TimeSpan hold)
    {
        _heldUntil = hold <= TimeSpan.Zero ? DateTimeOffset.MinValue : clock.GetUtcNow() + (hold > Journeys.LargeTriggerHold.LongestHold ? Journeys.LargeTriggerHold.LongestHold : hold);
        return Task.CompletedTask;
    }

    public Task<bool> IsHeld() => Task.FromResult(clock.GetUtcNow() < _heldUntil);

    public Task DaemonPaused(DateTimeOffset? since)
    {
        _pausedSince = since;
        _pausedToldAt = clock.GetUtcNow();
        return Task.CompletedTask;
    }

    /// <summary>A pause not told again for a while is over (its node went away, or the resume's message was lost).</summary>
    public Task<DateTimeOffset?> DaemonPausedSince() =>
        Task.FromResult(clock.GetUtcNow() - _pausedToldAt < TimeSpan.FromSeconds(10) ? _pausedSince : null);
}
