using System.Text.Json;
using Actors.Domain.Lifecycle;
using Actors.Domain.Profiles;
using Actors.Domain.Segments;
using Actors.Domain.Tracking;
using static Actors.Domain.Tests.Segments.SegmentKit;

namespace Actors.Domain.Tests.Tracking;

/// <summary>
/// Streams written before the edge bounded times and amounts can hold 9999-12-31, 0001-01-01 or 5e28: the domain must
/// load them, accept new events and compute wake-ups without throwing (issue 10).
/// </summary>
public class ExtremesTests
{
    private static readonly LifecycleSettings Settings = LifecycleSettings.Default;

    public static TheoryData<DateTimeOffset> ExtremeTimes => new()
    {
        DateTimeOffset.MaxValue,
        new DateTimeOffset(9999, 12, 31, 0, 0, 0, TimeSpan.Zero),
        DateTimeOffset.MinValue,
        new DateTimeOffset(1, 1, 1, 0, 0, 0, TimeSpan.Zero).AddDays(1),
    };

    /// <summary>Every day-one template plus a rule of each time-sensitive kind, so every NextChange and Explain runs.</summary>
    private static SegmentContext AllRules()
    {
        string[] extra =
        [
            """{"count":{"event":"product_viewed","atLeast":1,"withinHours":2}}""",
            """{"count":{"event":"product_viewed","atLeast":12,"withinDays":30}}""",
            """{"lastEvent":{"event":"order_placed","withinDays":7}}""",
            """{"ordersTotal":{"atLeast":100,"withinDays":365}}""",
            """{"ordersTotal":{"atLeast":100}}""",
            """{"orders":{"atLeast":1,"withinDays":30}}""",
            """{"noOrderForDays":30}""",
            """{"cartAbandoned":{"afterHours":1,"withinHours":24,"checkoutStarted":true}}""",
            """{"paused":true}""",
            """{"rfmCell":["555","111"]}""",
        ];
        var rules = SegmentTemplates.All.Select(t => t.RuleJson).Concat(extra)
            .Select((json, i) => new SegmentDefinition($"s{i}", $"s{i}", 1, Rule(json))).ToList();
        var rfm = new RfmThresholds([1, 7, 30, 90], [1, 2, 3, 5], [10, 50, 100, 1000], T0);
        return new SegmentContext(rules, rfm);
    }

    private static VisitorEvent[] Everything(DateTimeOffset at, decimal amount = 30m) =>
    [
        Stamp(new Identified("u1", new Dictionary<string, string>()) { MessageId = "", EventTime = at, ReceivedTime = at }, at),
        Make.Newsletter(at).At(at),
        Make.View("a", "shoes", at),
        CartAdd("a", at, "shoes"),
        Checkout(at),
        Make.Order($"o-{Make.Id()}", amount, at),
        Preferences(at, topics: ["x"], pausedUntil: at),
        Custom("video played", at),
    ];

    [Theory]
    [MemberData(nameof(ExtremeTimes))]
    public void A_profile_with_an_event_at_the_edge_of_the_calendar_takes_new_events_and_computes_wake_ups(DateTimeOffset extreme)
    {
        var segments = AllRules();
        var profile = new VisitorProfile("p1");
        var stored = new List<VisitorEvent>();
        var now = T0;
        stored.AddRange(Intake.Handle(profile, Everything(extreme), now, Settings, segments).ToAppend);
        stored.AddRange(Intake.Handle(profile, Everything(T0), now, Settings, segments).ToAppend);
        var next = Intake.NextWakeUp(profile, now, Settings, segments);
        Assert.True(next is null || next >= now || next.Value.UtcTicks >= 0);
        stored.AddRange(Intake.HandleWakeUp(profile, now.AddDays(200), Settings, segments));
        Intake.NextWakeUp(profile, now.AddDays(200), Settings, segments);
        foreach (var s in segments.Active) s.Rule.Explain(profile, now, segments.Rfm);
        ProfileView.From(profile);

        // Replayed from the stream (as the grain does on activation) and round-tripped through JSON (snapshots).
        var replayed = new VisitorProfile("p1");
        foreach (var e in stored) replayed.Apply(JsonSerializer.Deserialize<VisitorEvent>(JsonSerializer.Serialize(e))!);
        Assert.Equal(JsonSerializer.Serialize(profile), JsonSerializer.Serialize(replayed));
    }

    [Fact]
    public void The_next_inactivity_check_saturates_at_the_end_of_the_calendar()
    {
        var profile = Profile(Make.Newsletter(DateTimeOffset.MaxValue.AddDays(-1)), StageTo(Stage.Anonymous, Stage.Lead, T0, LeadKind.Newsletter));
        Assert.Equal(DateTimeOffset.MaxValue, StageMachine.NextInactivityCheck(profile, Settings));
    }

    [Fact]
    public void Huge_order_totals_saturate_instead_of_throwing_and_leave_the_profile_whole()
    {
        var segments = AllRules();
        var profile = new VisitorProfile("p1");
        Intake.Handle(profile, [Make.Order("o1", 5e28m, T0), Make.Order("o2", 5e28m, T0.AddMinutes(1))], T0, Settings, segments);
        Assert.Equal(2, profile.Orders.Count); // the second order was applied whole, not half
        Assert.Equal(decimal.MaxValue, profile.Orders.Total);
        Intake.Handle(profile, [Refund("o1", 5e28m, T0.AddMinutes(2)), Refund("o2", 5e28m, T0.AddMinutes(3)),
            Stamp(new OrderRefunded("o1", null, "EUR") { MessageId = "", EventTime = T0, ReceivedTime = T0 }, T0.AddMinutes(4))], T0, Settings, segments);
        Assert.Equal(decimal.MaxValue, profile.Orders.Refunded);
        Intake.NextWakeUp(profile, T0.AddDays(100), Settings, segments);
        foreach (var s in segments.Active) s.Rule.Explain(profile, T0.AddDays(100), segments.Rfm);
        Assert.NotNull(Rfm.Cell(profile, segments.Rfm!, T0));
    }

    [Fact]
    public void A_huge_cart_quantity_saturates()
    {
        var profile = Profile(CartAdd("a", T0, quantity: int.MaxValue), CartAdd("a", T0, quantity: int.MaxValue));
        Assert.Equal(int.MaxValue, profile.Cart.Items["a"]);
    }

    [Fact]
    public void SafeTime_and_SafeMoney_clamp_at_the_extremes()
    {
        Assert.Equal(DateTimeOffset.MaxValue, SafeTime.Add(DateTimeOffset.MaxValue, TimeSpan.FromDays(1)));
        Assert.Equal(DateTimeOffset.MinValue, SafeTime.Add(DateTimeOffset.MinValue, TimeSpan.FromDays(-1)));
        Assert.Equal(DateTimeOffset.MinValue, SafeTime.Subtract(DateTimeOffset.MinValue, TimeSpan.MaxValue));
        Assert.Equal(DateTimeOffset.MaxValue, SafeTime.Subtract(T0, TimeSpan.MinValue));
        Assert.Equal(DateTimeOffset.MinValue, SafeTime.Add(T0, TimeSpan.MinValue));
        Assert.Equal(DateTimeOffset.MaxValue, SafeTime.Add(T0, TimeSpan.MaxValue));
        Assert.Equal(T0.AddDays(1), SafeTime.Add(T0, TimeSpan.FromDays(1)));
        Assert.Equal(decimal.MaxValue, SafeMoney.Add(decimal.MaxValue, 1));
        Assert.Equal(decimal.MinValue, SafeMoney.Subtract(decimal.MinValue, 1));
        Assert.Equal(decimal.MaxValue, SafeMoney.Times(decimal.MaxValue, 2));
        Assert.Equal(decimal.MaxValue / 3 * 2, SafeMoney.Share(decimal.MaxValue, 2, 3));
        Assert.Equal(200m / 3, SafeMoney.Share(100m, 2, 3));
    }
}
