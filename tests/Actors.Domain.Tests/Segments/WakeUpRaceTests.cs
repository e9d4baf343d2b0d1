using Actors.Domain.Lifecycle;
using Actors.Domain.Profiles;
using Actors.Domain.Segments;
using Actors.Domain.Tracking;

namespace Actors.Domain.Tests.Segments;

/// <summary>
/// A wake-up that fires a hair before a window closes decides "no change"; the question "when next?" asked a moment
/// later, after the close, must still answer (now), not "never": seen in a full test run, where the visitor then stayed
/// in the segment for good.
/// </summary>
public class WakeUpRaceTests
{
    private static readonly LifecycleSettings Settings = LifecycleSettings.Default;

    [Fact]
    public void A_window_that_closes_between_the_decision_and_the_next_wake_up_question_is_due_at_once()
    {
        var oldest = new DateTimeOffset(2026, 11, 29, 16, 6, 11, TimeSpan.Zero).AddTicks(1_540_909);
        var segment = new SegmentDefinition("shoes", "Shoes", 1,
            SegmentKit.Rule("""{"count":{"event":"product_viewed","category":"shoes","atLeast":3,"withinHours":1}}"""));
        var context = new SegmentContext([segment], null);
        var profile = new VisitorProfile("anon:v");
        for (var i = 0; i < 3; i++)
            Intake.Handle(profile, [Make.View($"sku-{i}", "shoes", oldest.AddSeconds(i))], oldest.AddSeconds(i), Settings, context);
        Assert.True(profile.Segments.ContainsKey("shoes"));
        var exit = oldest.AddHours(1);

        // The reminder fires 87 µs early: still inside the window, nothing to do.
        var early = exit.AddTicks(-868);
        Assert.Empty(Intake.HandleWakeUp(profile, early, Settings, context));

        // Scheduling reads the clock again, just after the close: the change is due now, not never.
        var late = exit.AddTicks(868);
        Assert.Equal(late, Intake.NextWakeUp(profile, late, Settings, context));
        var left = Assert.Single(Intake.HandleWakeUp(profile, late, Settings, context));
        Assert.IsType<SegmentLeft>(left);
        Assert.Null(Intake.NextWakeUp(profile, late, Settings, context));
    }
}
