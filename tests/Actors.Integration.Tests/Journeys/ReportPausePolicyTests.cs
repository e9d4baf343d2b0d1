using Actors.Grains.Reporting;
using static Actors.Grains.Reporting.ReportPausePolicy;

namespace Actors.Integration.Tests.Journeys;

/// <summary>When the reporting projections pause for large triggers: pure logic, no host.</summary>
public class ReportPausePolicyTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 3, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Held_pauses_once_and_the_end_of_the_hold_resumes()
    {
        var policy = new ReportPausePolicy(TimeSpan.FromMinutes(5));
        Assert.Equal(Step.None, policy.Next(held: false, rebuilding: false, T0));
        Assert.Equal(Step.Pause, policy.Next(held: true, rebuilding: false, T0));
        policy.Paused(T0);
        Assert.Equal(Step.None, policy.Next(held: true, rebuilding: false, T0.AddMinutes(1)));
        Assert.Equal(Step.Resume, policy.Next(held: false, rebuilding: false, T0.AddMinutes(2)));
        policy.Resumed();
        Assert.Equal(Step.None, policy.Next(held: false, rebuilding: false, T0.AddMinutes(2)));
        Assert.Equal(Step.Pause, policy.Next(held: true, rebuilding: false, T0.AddMinutes(3)));
    }

    [Fact]
    public void A_pause_ends_at_its_limit_and_no_new_one_starts_until_the_hold_has_ended()
    {
        var policy = new ReportPausePolicy(TimeSpan.FromMinutes(5));
        Assert.Equal(Step.Pause, policy.Next(true, false, T0));
        policy.Paused(T0);
        Assert.Equal(Step.None, policy.Next(true, false, T0.AddMinutes(5).AddSeconds(-1)));
        Assert.Equal(Step.Resume, policy.Next(true, false, T0.AddMinutes(5)));
        policy.Resumed();
        // Back-to-back triggers keep the hold on: the reports run and catch up.
        Assert.Equal(Step.None, policy.Next(true, false, T0.AddMinutes(6)));
        Assert.Equal(Step.None, policy.Next(true, false, T0.AddMinutes(30)));
        Assert.Equal(Step.None, policy.Next(false, false, T0.AddMinutes(31)));
        Assert.Equal(Step.Pause, policy.Next(true, false, T0.AddMinutes(32)));
    }

    [Fact]
    public void No_pause_while_a_rebuild_runs()
    {
        var policy = new ReportPausePolicy(TimeSpan.FromMinutes(5));
        Assert.Equal(Step.None, policy.Next(true, rebuilding: true, T0));
        Assert.Equal(Step.Pause, policy.Next(true, rebuilding: false, T0.AddSeconds(1)));
    }
}
