using Actors.Domain.Lifecycle;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Domain.Tests.Lifecycle;

public class WakeUpSequenceTests
{
    [Fact]
    public void A_lead_left_alone_goes_at_risk_then_lapsed_on_successive_wake_ups()
    {
        var settings = new LifecycleSettings { AtRiskAfter = TimeSpan.FromSeconds(3), LapsedAfter = TimeSpan.FromSeconds(6) };
        var t = Make.T0;
        var profile = new VisitorProfile("p");
        Intake.Handle(profile, [Make.Newsletter(t)], t.AddMilliseconds(6), settings);
        var first = Intake.HandleWakeUp(profile, t.AddMilliseconds(3008), settings) as StageChanged;
        Assert.Equal(Stage.AtRisk, first?.To);
        Assert.Equal(t, profile.LastActivity);

        // The same, after a reload from the stored events.
        var reloaded = new VisitorProfile("p");
        foreach (var e in new VisitorEvent[] { Make.Newsletter(t) }) reloaded.Apply(e);
        var second = Intake.HandleWakeUp(profile, t.AddMilliseconds(6005), settings) as StageChanged;
        Assert.Equal(Stage.Lapsed, second?.To);
    }

    [Fact]
    public void Time_alone_never_brings_a_visitor_back_from_at_risk()
    {
        var settings = new LifecycleSettings { AtRiskAfter = TimeSpan.FromSeconds(3), LapsedAfter = TimeSpan.FromSeconds(6) };
        var t = Make.T0;
        var profile = new VisitorProfile("p");
        Intake.Handle(profile, [Make.Newsletter(t)], t, settings);
        Assert.Equal(Stage.AtRisk, (Intake.HandleWakeUp(profile, t.AddSeconds(4), settings) as StageChanged)?.To);

        // A late event (dated before the visitor went at risk) is not a return, and a wake-up at any time is not either.
        Intake.Handle(profile, [Make.View("x", null, t.AddSeconds(-1))], t.AddSeconds(5), settings);
        Assert.Equal(Stage.AtRisk, profile.Stage);
        Assert.Equal(Stage.Lapsed, (Intake.HandleWakeUp(profile, t.AddSeconds(6), settings) as StageChanged)?.To);

        // New activity does bring them back.
        var back = Intake.Handle(profile, [Make.View("y", null, t.AddSeconds(20))], t.AddSeconds(20), settings).ToAppend.OfType<StageChanged>().Single();
        Assert.Equal((Stage.Lapsed, Stage.Lead), (back.From, back.To));
    }
}
