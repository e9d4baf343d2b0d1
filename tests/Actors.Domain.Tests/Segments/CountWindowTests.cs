using Actors.Domain.Profiles;
using Actors.Domain.Tracking;
using static Actors.Domain.Tests.Segments.SegmentKit;

namespace Actors.Domain.Tests.Segments;

public class CountWindowTests
{
    private const string ThreeShoeViewsIn14Days = """{"count":{"event":"product_viewed","category":"shoes","atLeast":3,"withinDays":14}}""";

    [Fact]
    public void Three_views_of_shoes_in_14_days_enter_on_the_third_view_and_leave_exactly_when_the_oldest_falls_out_of_the_window()
    {
        var rule = Rule(ThreeShoeViewsIn14Days);
        var first = T0;
        var second = T0.AddDays(2).AddHours(3);
        var third = T0.AddDays(5).AddMinutes(7);
        var profile = Profile(Make.View("a", "shoes", first), Make.View("b", "shoes", second));

        Assert.False(rule.Matches(profile, third, null));
        Assert.Null(rule.NextChange(profile, third, null)); // only a view can let them in

        profile.Apply(Make.View("c", "Shoes", third));
        Assert.True(rule.Matches(profile, third, null));

        var exit = rule.NextChange(profile, third, null);
        Assert.Equal(first.AddDays(14), exit);
        Assert.True(rule.Matches(profile, exit!.Value - Tick, null));
        Assert.False(rule.Matches(profile, exit.Value, null));
        Assert.Null(rule.NextChange(profile, exit.Value, null));
    }

    [Fact]
    public void A_fourth_view_moves_the_exit_to_when_the_second_view_leaves_the_window()
    {
        var rule = Rule(ThreeShoeViewsIn14Days);
        var profile = Profile(
            Make.View("a", "shoes", T0), Make.View("b", "shoes", T0.AddDays(1)), Make.View("c", "shoes", T0.AddDays(2)),
            Make.View("d", "shoes", T0.AddDays(3)));
        Assert.Equal(T0.AddDays(15), rule.NextChange(profile, T0.AddDays(3), null));
    }

    [Fact]
    public void A_late_view_is_filed_under_its_own_time_and_the_exit_stays_exact()
    {
        var rule = Rule(ThreeShoeViewsIn14Days);
        var profile = Profile(Make.View("a", "shoes", T0.AddDays(4)), Make.View("b", "shoes", T0.AddDays(6)), Make.View("late", "shoes", T0.AddDays(1)));
        Assert.True(rule.Matches(profile, T0.AddDays(6), null));
        Assert.Equal(T0.AddDays(15), rule.NextChange(profile, T0.AddDays(6), null));
    }

    [Fact]
    public void Views_of_other_categories_and_other_events_do_not_count()
    {
        var rule = Rule(ThreeShoeViewsIn14Days);
        var profile = Profile(
            Make.View("a", "shoes", T0), Make.View("b", "bags", T0.AddHours(1)), Make.View("c", null, T0.AddHours(2)),
            CartAdd("d", T0.AddHours(3), "shoes"));
        Assert.False(rule.Matches(profile, T0.AddHours(4), null));
        Assert.True(Rule("""{"count":{"event":"product_viewed","atLeast":3,"withinDays":14}}""").Matches(profile, T0.AddHours(4), null));
    }

    [Fact]
    public void An_hour_window_closes_to_the_tick()
    {
        var rule = Rule("""{"count":{"event":"cart_item_added","atLeast":2,"withinHours":6}}""");
        var profile = Profile(CartAdd("a", T0), CartAdd("b", T0.AddHours(1)));
        Assert.Equal(T0.AddHours(6), rule.NextChange(profile, T0.AddHours(1), null));
        Assert.True(rule.Matches(profile, T0.AddHours(6) - Tick, null));
        Assert.False(rule.Matches(profile, T0.AddHours(6), null));
    }

    [Fact]
    public void At_most_becomes_true_by_itself_when_the_extra_event_leaves_the_window()
    {
        var rule = Rule("""{"count":{"event":"page_viewed","atMost":2,"withinDays":1}}""");
        var views = Enumerable.Range(0, 3).Select(i => Stamp(new PageViewed("home", null, "/", null) { MessageId = "", EventTime = T0, ReceivedTime = T0 }, T0.AddHours(i))).ToArray();
        var profile = Profile(views);
        Assert.False(rule.Matches(profile, T0.AddHours(3), null));
        Assert.Equal(T0.AddDays(1), rule.NextChange(profile, T0.AddHours(3), null));
        Assert.True(rule.Matches(profile, T0.AddDays(1), null));
        Assert.True(Rule("""{"count":{"event":"page_viewed","atMost":2,"withinDays":1}}""").Matches(new VisitorProfile("empty"), T0, null));
    }

    [Fact]
    public void Between_bounds_hold_only_inside_them()
    {
        var rule = Rule("""{"count":{"event":"product_viewed","atLeast":2,"atMost":3,"withinDays":7}}""");
        var profile = Profile(Make.View("a", null, T0));
        Assert.False(rule.Matches(profile, T0, null));
        profile.Apply(Make.View("b", null, T0.AddHours(1)));
        Assert.True(rule.Matches(profile, T0.AddHours(1), null));
        profile.Apply(Make.View("c", null, T0.AddHours(2)));
        profile.Apply(Make.View("d", null, T0.AddHours(3)));
        Assert.False(rule.Matches(profile, T0.AddHours(3), null));
        // The oldest leaves at T0 + 7 days: three remain, and "at most 3" holds again.
        Assert.Equal(T0.AddDays(7), rule.NextChange(profile, T0.AddHours(3), null));
        Assert.True(rule.Matches(profile, T0.AddDays(7), null));
    }

    [Fact]
    public void Beyond_the_exact_times_the_count_uses_day_buckets_and_leaves_at_a_utc_midnight_plus_the_window()
    {
        var rule = Rule("""{"count":{"event":"product_viewed","atLeast":10,"withinDays":14}}""");
        var day1 = new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);
        var day2 = day1.AddDays(1);
        var events = Enumerable.Range(0, 5).Select(i => Make.View($"a{i}", null, day1.AddMinutes(i)))
            .Concat(Enumerable.Range(0, 5).Select(i => Make.View($"b{i}", null, day2.AddMinutes(i)))).ToArray();
        var profile = Profile(events);
        var now = day2.AddHours(1);
        Assert.True(rule.Matches(profile, now, null));

        // Day 1 counts while any part of it lies in the window: until its end (midnight) + 14 days.
        var exit = new DateTimeOffset(2026, 3, 2, 0, 0, 0, TimeSpan.Zero).AddDays(14);
        Assert.Equal(exit, rule.NextChange(profile, now, null));
        Assert.True(rule.Matches(profile, exit - Tick, null));
        Assert.False(rule.Matches(profile, exit, null));
    }

    [Fact]
    public void A_long_window_over_merged_month_buckets_counts_a_bucket_while_its_first_day_is_inside()
    {
        var rule = Rule("""{"count":{"event":"product_viewed","atLeast":11,"withinDays":150}}""");
        var events = Enumerable.Range(0, 10).Select(i => Make.View($"old{i}", null, T0.AddDays(i)))
            .Append(Make.View("recent", null, T0.AddDays(100))).ToArray();
        var profile = Profile(events);
        var now = T0.AddDays(100);
        Assert.True(rule.Matches(profile, now, null));

        var oldest = profile.Counters.Days[EventNames.ProductViewed][0];
        Assert.True(oldest.Span > 1, "the old views were merged into a month");
        var exit = new DateTimeOffset((oldest.Day + 1) * TimeSpan.TicksPerDay, TimeSpan.Zero).AddDays(150);
        Assert.Equal(exit, rule.NextChange(profile, now, null));
        Assert.True(exit <= T0.UtcDateTime.Date.AddDays(151), "a merged month leaves no later than its first view's day would");
        Assert.True(rule.Matches(profile, exit - Tick, null));
        Assert.False(rule.Matches(profile, exit, null));
    }

    [Fact]
    public void Custom_events_count_under_behaviour_tracked_only()
    {
        var rule = Rule("""{"count":{"event":"behaviour_tracked","atLeast":2,"withinDays":7}}""");
        var profile = Profile(Custom("wishlist_added", T0), Custom("video_played", T0.AddHours(1)));
        Assert.True(rule.Matches(profile, T0.AddHours(2), null));
        Assert.Equal(2, profile.Counters.Total(EventNames.BehaviourTracked));
    }

    [Fact]
    public void Last_event_within_a_window_holds_until_the_latest_such_event_is_that_old()
    {
        var rule = Rule("""{"lastEvent":{"event":"cart_item_added","withinHours":24}}""");
        var profile = Profile(CartAdd("a", T0), CartAdd("b", T0.AddHours(5)));
        Assert.True(rule.Matches(profile, T0.AddHours(6), null));
        Assert.Equal(T0.AddHours(29), rule.NextChange(profile, T0.AddHours(6), null));
        Assert.False(rule.Matches(profile, T0.AddHours(29), null));
        Assert.Equal("last cart addition 1 hour ago", rule.Explain(profile, T0.AddHours(6), null));
        Assert.Equal("no cart addition yet", rule.Explain(new VisitorProfile("x"), T0, null));
    }
}
