using Actors.Domain.Lifecycle;
using Actors.Domain.Profiles;
using static Actors.Domain.Tests.Segments.SegmentKit;

namespace Actors.Domain.Tests.Segments;

public class ConditionTests
{
    [Fact]
    public void No_order_for_90_days_starts_to_hold_exactly_90_days_after_the_last_order()
    {
        var rule = Rule("""{"noOrderForDays":90}""");
        var profile = Profile(Make.Order("o1", 50, T0), Make.Order("o2", 20, T0.AddDays(10)));
        var now = T0.AddDays(11);
        Assert.False(rule.Matches(profile, now, null));
        var start = rule.NextChange(profile, now, null);
        Assert.Equal(T0.AddDays(100), start);
        Assert.False(rule.Matches(profile, start!.Value - Tick, null));
        Assert.True(rule.Matches(profile, start.Value, null));
        Assert.Null(rule.NextChange(profile, start.Value, null));
        Assert.Equal("last order 90 days ago", rule.Explain(profile, start.Value, null));
    }

    [Fact]
    public void A_visitor_who_never_ordered_has_no_order_for_90_days_once_known_for_90_days()
    {
        var rule = Rule("""{"noOrderForDays":90}""");
        var profile = Profile(Make.View("a", null, T0));
        Assert.False(rule.Matches(profile, T0.AddDays(89), null));
        Assert.Equal(T0.AddDays(90), rule.NextChange(profile, T0.AddDays(89), null));
        Assert.True(rule.Matches(profile, T0.AddDays(90), null));
        Assert.False(rule.Matches(new VisitorProfile("unknown"), T0, null));
    }

    [Fact]
    public void A_cart_counts_as_abandoned_from_after_hours_until_within_hours_after_its_last_change()
    {
        var rule = Rule("""{"cartAbandoned":{"afterHours":1,"withinHours":24}}""");
        var profile = Profile(CartAdd("a", T0), CartAdd("b", T0.AddMinutes(10), quantity: 2));
        var changed = T0.AddMinutes(10);

        Assert.False(rule.Matches(profile, changed.AddMinutes(30), null));
        Assert.Equal(changed.AddHours(1), rule.NextChange(profile, changed.AddMinutes(30), null));
        Assert.True(rule.Matches(profile, changed.AddHours(1), null));
        Assert.Equal("cart with 3 items unchanged for 1 hour", rule.Explain(profile, changed.AddHours(1), null));
        Assert.Equal(changed.AddHours(24), rule.NextChange(profile, changed.AddHours(1), null));
        Assert.True(rule.Matches(profile, changed.AddHours(24) - Tick, null));
        Assert.False(rule.Matches(profile, changed.AddHours(24), null));
        Assert.Null(rule.NextChange(profile, changed.AddHours(24), null));
    }

    [Fact]
    public void A_cart_is_not_abandoned_once_emptied_or_ordered()
    {
        var rule = Rule("""{"cartAbandoned":{"afterHours":1}}""");
        var emptied = Profile(CartAdd("a", T0), CartRemove("a", T0.AddMinutes(5)));
        Assert.False(rule.Matches(emptied, T0.AddHours(5), null));
        Assert.Equal("cart is empty", rule.Explain(emptied, T0.AddHours(5), null));

        var ordered = Profile(CartAdd("a", T0), Make.Order("o1", 10, T0.AddMinutes(5)));
        Assert.False(rule.Matches(ordered, T0.AddHours(5), null));

        // A late cart event from before the order does not make the cart abandoned.
        ordered.Apply(CartAdd("b", T0.AddMinutes(1)));
        Assert.False(rule.Matches(ordered, T0.AddHours(5), null));
        Assert.Equal("ordered since the cart last changed", rule.Explain(ordered, T0.AddHours(5), null));
    }

    [Fact]
    public void A_checkout_abandoner_must_have_started_checkout()
    {
        var rule = Rule("""{"cartAbandoned":{"afterHours":1,"checkoutStarted":true}}""");
        var profile = Profile(CartAdd("a", T0));
        Assert.False(rule.Matches(profile, T0.AddHours(2), null));
        profile.Apply(Checkout(T0.AddMinutes(1)));
        Assert.True(rule.Matches(profile, T0.AddHours(2), null));
    }

    [Fact]
    public void Lifetime_orders_total_is_net_of_refunds()
    {
        var rule = Rule("""{"ordersTotal":{"atLeast":100}}""");
        var profile = Profile(Make.Order("o1", 80, T0), Make.Order("o2", 40, T0.AddDays(1)));
        Assert.True(rule.Matches(profile, T0.AddDays(2), null));
        profile.Apply(Refund("o2", 30, T0.AddDays(3)));
        Assert.False(rule.Matches(profile, T0.AddDays(3), null));
        Assert.Equal("orders worth 90 in total", rule.Explain(profile, T0.AddDays(3), null));
        Assert.Null(rule.NextChange(profile, T0.AddDays(3), null));
    }

    [Fact]
    public void Orders_total_in_a_window_is_exact_when_all_or_no_orders_are_inside_and_estimated_between()
    {
        var rule = Rule("""{"ordersTotal":{"atLeast":100,"withinDays":30}}""");
        var profile = Profile(Make.Order("o1", 60, T0), Make.Order("o2", 60, T0.AddDays(10)), Make.Order("o3", 60, T0.AddDays(20)));

        // All three inside: the lifetime net total, 180.
        Assert.True(rule.Matches(profile, T0.AddDays(21), null));
        Assert.Equal("orders worth 180 in the last 30 days", rule.Explain(profile, T0.AddDays(21), null));
        // The first leaves at T0 + 30 days: two of three inside, estimated at 2/3 of 180 = 120, still enough.
        Assert.Equal("orders worth about 120 in the last 30 days", rule.Explain(profile, T0.AddDays(30), null));
        Assert.True(rule.Matches(profile, T0.AddDays(30), null));
        // The second leaves at T0 + 40 days: about 60, and the visitor leaves exactly then.
        Assert.Equal(T0.AddDays(40), rule.NextChange(profile, T0.AddDays(21), null));
        Assert.False(rule.Matches(profile, T0.AddDays(40), null));
        Assert.Equal("orders worth 0 in the last 30 days", rule.Explain(profile, T0.AddDays(50), null));
    }

    [Fact]
    public void Orders_count_lifetime_or_in_a_window()
    {
        var profile = Profile(Make.Order("o1", 10, T0), Make.Order("o2", 10, T0.AddDays(40)));
        Assert.True(Rule("""{"orders":{"atLeast":2}}""").Matches(profile, T0.AddDays(41), null));
        var recent = Rule("""{"orders":{"atLeast":2,"withinDays":30}}""");
        Assert.False(recent.Matches(profile, T0.AddDays(41), null));
        Assert.Equal("1 order in the last 30 days", recent.Explain(profile, T0.AddDays(41), null));
        Assert.True(Rule("""{"orders":{"atMost":0}}""").Matches(Profile(Make.Newsletter(T0)), T0, null));
    }

    [Fact]
    public void Attributes_compare_as_numbers_when_both_sides_are_numbers_and_as_strings_otherwise()
    {
        var profile = Profile(Attributes(T0, ("score", "10.0"), ("tier", "Gold"), ("age", "abc")));
        Assert.True(Rule("""{"attribute":"score","equals":10}""").Matches(profile, T0, null));
        Assert.True(Rule("""{"attribute":"score","in":["x","1e1"]}""").Matches(profile, T0, null));
        Assert.True(Rule("""{"attribute":"score","gt":9.5,"lte":10}""").Matches(profile, T0, null));
        Assert.False(Rule("""{"attribute":"score","lt":10}""").Matches(profile, T0, null));
        Assert.False(Rule("""{"attribute":"tier","equals":"gold"}""").Matches(profile, T0, null));
        Assert.True(Rule("""{"attribute":"tier","equals":"Gold"}""").Matches(profile, T0, null));
        Assert.False(Rule("""{"attribute":"age","gte":0}""").Matches(profile, T0, null));
        Assert.False(Rule("""{"attribute":"missing","gte":0}""").Matches(profile, T0, null));
        Assert.True(Rule("""{"attribute":"missing","exists":false}""").Matches(profile, T0, null));
        Assert.True(Rule("""{"attribute":"tier","exists":true}""").Matches(profile, T0, null));
    }

    [Fact]
    public void Consents_topics_and_frequency_are_read_as_the_profile_keeps_them()
    {
        var profile = Profile(Consent("Email", "Marketing", T0), Preferences(T0, topics: ["Shoes", "bags"], frequency: "Weekly"));
        Assert.True(Rule("""{"consent":"email:marketing"}""").Matches(profile, T0, null));
        Assert.False(Rule("""{"consent":"sms:marketing"}""").Matches(profile, T0, null));
        Assert.True(Rule("""{"topic":"shoes"}""").Matches(profile, T0, null));
        Assert.False(Rule("""{"topic":"hats"}""").Matches(profile, T0, null));
        Assert.True(Rule("""{"frequency":"weekly"}""").Matches(profile, T0, null));
        Assert.False(Rule("""{"contentType":"video"}""").Matches(profile, T0, null));
    }

    [Fact]
    public void A_pause_ends_by_itself_at_paused_until()
    {
        var rule = Rule("""{"paused":true}""");
        var profile = Profile(Preferences(T0, pausedUntil: T0.AddDays(7)));
        Assert.True(rule.Matches(profile, T0, null));
        Assert.Equal(T0.AddDays(7), rule.NextChange(profile, T0, null));
        Assert.False(rule.Matches(profile, T0.AddDays(7), null));
        Assert.True(Rule("""{"paused":false}""").Matches(profile, T0.AddDays(7), null));
    }

    [Fact]
    public void Stage_lead_kind_and_newsletter_follow_the_profile()
    {
        var profile = Profile(Make.Newsletter(T0), StageTo(Stage.Anonymous, Stage.Lead, T0, LeadKind.Newsletter));
        Assert.True(Rule("""{"stage":["lead","customer"]}""").Matches(profile, T0, null));
        Assert.True(Rule("""{"leadKind":"newsletter"}""").Matches(profile, T0, null));
        Assert.False(Rule("""{"leadKind":"account"}""").Matches(profile, T0, null));
        Assert.True(Rule("""{"newsletter":true}""").Matches(profile, T0, null));
        profile.Apply(Unsubscribe(T0.AddDays(1)));
        Assert.True(Rule("""{"newsletter":false}""").Matches(profile, T0.AddDays(1), null));
        Assert.Equal("unsubscribed from the newsletter 24 hours ago", Rule("""{"newsletter":true}""").Explain(profile, T0.AddDays(2), null));
    }

    [Fact]
    public void An_all_with_a_part_that_stays_false_never_changes_by_itself()
    {
        var rule = Rule("""{"all":[{"lastEvent":{"event":"product_viewed","withinDays":1}},{"topic":"shoes"}]}""");
        var profile = Profile(Make.View("a", null, T0));
        Assert.Null(rule.NextChange(profile, T0, null));
    }

    [Fact]
    public void An_any_leaves_only_when_its_last_holding_part_expires()
    {
        var rule = Rule("""{"any":[{"lastEvent":{"event":"product_viewed","withinDays":1}},{"lastEvent":{"event":"cart_item_added","withinDays":3}}]}""");
        var profile = Profile(Make.View("a", null, T0), CartAdd("b", T0.AddHours(1)));
        // The view expires after a day, but the cart addition keeps the visitor in until T0 + 1 h + 3 days.
        Assert.Equal(T0.AddHours(1).AddDays(3), rule.NextChange(profile, T0.AddHours(2), null));
    }

    [Fact]
    public void Not_flips_when_its_part_does()
    {
        var rule = Rule("""{"not":{"lastEvent":{"event":"product_viewed","withinDays":1}}}""");
        var profile = Profile(Make.View("a", null, T0));
        Assert.False(rule.Matches(profile, T0, null));
        Assert.Equal(T0.AddDays(1), rule.NextChange(profile, T0, null));
        Assert.True(rule.Matches(profile, T0.AddDays(1), null));
    }
}
