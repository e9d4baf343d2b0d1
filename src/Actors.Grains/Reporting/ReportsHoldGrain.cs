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
}

public sealed class ReportsHoldGrain(TimeProvider clock) : Grain, IReportsHoldGrain
{
    /// <summary>A hold lasts at most this long past its last renewal, whatever a node asked.</summary>
    public static readonly TimeSpan MaxHold = TimeSpan.FromMinutes(1);

    private DateTimeOffset _heldUntil = DateTimeOffset.MinValue;

    public Task Hold(TimeSpan hold)
    {
        _heldUntil = hold <= TimeSpan.Zero ? DateTimeOffset.MinValue : clock.GetUtcNow() + (hold > MaxHold ? MaxHold : hold);
        return Task.CompletedTask;
    }

    public Task<bool> IsHeld() => Task.FromResult(clock.GetUtcNow() < _heldUntil);
}
