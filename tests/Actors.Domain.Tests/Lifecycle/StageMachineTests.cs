using Actors.Domain.Lifecycle;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Domain.Tests.Lifecycle;

public class StageMachineTests
{
    private static readonly LifecycleSettings Settings = new() { RepeatCustomerOrders = 2, AtRiskAfter = TimeSpan.FromDays(60), LapsedAfter = TimeSpan.FromDays(120) };
    private static readonly DateTimeOffset T0 = Make.T0;

    private static (VisitorProfile Profile, List<VisitorEvent> Stored) Run(params VisitorEvent[] events)
    {
        var profile = new VisitorProfile("p1");
        var stored = new List<VisitorEvent>();
        foreach (var e in events) stored.AddRange(Intake.Handle(profile, [e], e.EventTime, Settings).ToAppend);
        return (profile, stored);
    }

    [Fact]
    public void A_visitor_who_only_browses_stays_anonymous()
    {
        var (profile, stored) = Run(Make.View("a", "shoes", T0), Make.View("b", "shoes", T0.AddMinutes(1)));
        Assert.Equal(Stage.Anonymous, profile.Stage);
        Assert.DoesNotContain(stored, e => e is StageChanged);
    }

    [Fact]
    public void Newsletter_signup_makes_a_newsletter_lead_with_its_reason()
    {
        var (profile, stored) = Run(Make.Newsletter(T0));
        Assert.Equal(Stage.Lead, profile.Stage);
        Assert.Equal(LeadKind.Newsletter, profile.LeadKind);
        var change = Assert.Single(stored.OfType<StageChanged>());
        Assert.Equal("newsletter_signup", change.Reason);
        Assert.Equal(Stage.Anonymous, change.From);
    }

    [Fact]
    public void Registering_an_account_makes_an_account_lead()
    {
        var (profile, _) = Run(Make.Newsletter(T0), Make.Account(T0.AddMinutes(1)));
        Assert.Equal(Stage.Lead, profile.Stage);
        Assert.Equal(LeadKind.Account, profile.LeadKind);
    }

    [Fact]
    public void First_order_makes_a_customer_and_the_threshold_a_repeat_customer()
    {
        var (profile, stored) = Run(Make.Order("o1", 50, T0), Make.Order("o2", 70, T0.AddDays(3)));
        Assert.Equal(Stage.RepeatCustomer, profile.Stage);
        Assert.Equal(["first_order", "orders_reached_2"], stored.OfType<StageChanged>().Select(s => s.Reason));
        Assert.Equal(120m, profile.Orders.Total);
    }

    [Fact]
    public void The_same_order_reported_online_and_by_the_store_counts_once()
    {
        var (profile, _) = Run(Make.Order("o1", 50, T0), Make.Order("o1", 50, T0.AddHours(1), SalesChannel.Store));
        Assert.Equal(1, profile.Orders.Count);
        Assert.Equal(Stage.Customer, profile.Stage);
    }

    [Fact]
    public void Store_orders_count_like_online_ones()
    {
        var (profile, _) = Run(Make.Order("o1", 50, T0, SalesChannel.Store), Make.Order("o2", 20, T0.AddDays(1), SalesChannel.Store));
        Assert.Equal(Stage.RepeatCustomer, profile.Stage);
        Assert.Equal(2, profile.Orders.StoreCount);
    }

    [Fact]
    public void Inactivity_moves_a_customer_to_at_risk_then_lapsed_and_activity_brings_them_back()
    {
        var (profile, _) = Run(Make.Order("o1", 50, T0));
        Assert.Equal(T0 + Settings.AtRiskAfter, StageMachine.NextInactivityCheck(profile, Settings));

        Assert.Null(Intake.HandleWakeUp(profile, T0.AddDays(59), Settings));
        var atRisk = Assert.IsType<StageChanged>(Intake.HandleWakeUp(profile, T0.AddDays(60), Settings));
        Assert.Equal(Stage.AtRisk, atRisk.To);
        Assert.Equal(T0 + Settings.LapsedAfter, StageMachine.NextInactivityCheck(profile, Settings));

        var lapsed = Assert.IsType<StageChanged>(Intake.HandleWakeUp(profile, T0.AddDays(120), Settings));
        Assert.Equal(Stage.Lapsed, lapsed.To);
        Assert.Null(StageMachine.NextInactivityCheck(profile, Settings));

        var back = Intake.Handle(profile, [Make.View("x", "shoes", T0.AddDays(200))], T0.AddDays(200), Settings).ToAppend.OfType<StageChanged>().Single();
        Assert.Equal((Stage.Lapsed, Stage.Customer, "returned_from_lapsed"), (back.From, back.To, back.Reason));
    }

    [Fact]
    public void Anonymous_visitors_never_lapse()
    {
        var (profile, _) = Run(Make.View("a", "shoes", T0));
        Assert.Null(StageMachine.NextInactivityCheck(profile, Settings));
        Assert.Null(Intake.HandleWakeUp(profile, T0.AddYears(1), Settings));
    }

    [Fact]
    public void A_late_event_does_not_move_last_activity_backwards()
    {
        var (profile, _) = Run(Make.Order("o1", 50, T0.AddDays(10)), Make.View("a", "shoes", T0));
        Assert.Equal(T0.AddDays(10), profile.LastActivity);
        Assert.Equal(Stage.Customer, profile.Stage);
    }

    [Fact]
    public void Inactivity_thresholds_must_be_ordered()
    {
        Assert.Throws<ArgumentException>(() => new LifecycleSettings { AtRiskAfter = TimeSpan.FromDays(10), LapsedAfter = TimeSpan.FromDays(5) }.Validate());
    }

    [Fact]
    public void A_refund_without_an_amount_refunds_the_whole_order()
    {
        var (profile, _) = Run(Make.Order("o1", 50, T0), Make.Order("o2", 20, T0.AddDays(1)));
        profile.Apply(new OrderRefunded("o1", null, "EUR") { MessageId = Make.Id(), EventTime = T0.AddDays(2), ReceivedTime = T0.AddDays(2) });
        profile.Apply(new OrderRefunded("o2", 5m, "EUR") { MessageId = Make.Id(), EventTime = T0.AddDays(2), ReceivedTime = T0.AddDays(2) });
        profile.Apply(new OrderRefunded("unknown", null, "EUR") { MessageId = Make.Id(), EventTime = T0.AddDays(2), ReceivedTime = T0.AddDays(2) });
        Assert.Equal(55m, profile.Orders.Refunded);
    }
}
