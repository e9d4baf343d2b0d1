using System.Text.Json;
using Actors.Domain.Profiles;
using Actors.Domain.Segments;
using Actors.Domain.Tracking;
using static Actors.Domain.Tests.Segments.SegmentKit;

namespace Actors.Domain.Tests.Segments;

public class SegmentMembershipTests
{
    private static readonly SegmentDefinition ShoeLovers =
        new("shoe-lovers", "Shoe lovers", 1, Rule("""{"count":{"event":"product_viewed","category":"shoes","atLeast":3,"withinDays":14}}"""));

    private static readonly SegmentDefinition Subscribers = new("subscribers", "Subscribers", 1, Rule("""{"newsletter":true}"""));

    /// <summary>Stores and reloads the events as the event store would, then applies them.</summary>
    private static void ApplyStored(VisitorProfile profile, IEnumerable<VisitorEvent> events)
    {
        foreach (var e in events)
        {
            var json = JsonSerializer.Serialize<VisitorEvent>(e);
            profile.Apply(JsonSerializer.Deserialize<VisitorEvent>(json)!);
        }
    }

    private static VisitorProfile ThreeShoeViews() =>
        Profile(Make.View("a", "shoes", T0), Make.View("b", "shoes", T0.AddDays(1)), Make.View("c", "shoes", T0.AddDays(2)));

    [Fact]
    public void A_matching_visitor_enters_with_the_reason_and_the_rule_version()
    {
        var profile = ThreeShoeViews();
        var now = T0.AddDays(2);
        var events = SegmentMembership.Evaluate(profile, [ShoeLovers, Subscribers], now, "m42", null);

        var entered = Assert.IsType<SegmentEntered>(Assert.Single(events));
        Assert.Equal("shoe-lovers", entered.SegmentId);
        Assert.Equal(1, entered.RuleVersion);
        Assert.Equal("3 product views with category shoes in the last 14 days", entered.Reason);
        Assert.Equal("m42:seg:shoe-lovers:enter", entered.MessageId);
        Assert.Equal(now, entered.EventTime);
        Assert.Equal(now, entered.ReceivedTime);

        ApplyStored(profile, events);
        Assert.Equal(new Dictionary<string, int> { ["shoe-lovers"] = 1 }, profile.Segments);
        Assert.Empty(SegmentMembership.Evaluate(profile, [ShoeLovers, Subscribers], now, "m43", null));
    }

    [Fact]
    public void A_member_leaves_when_the_window_closes_at_the_next_change()
    {
        var profile = ThreeShoeViews();
        ApplyStored(profile, SegmentMembership.Evaluate(profile, [ShoeLovers], T0.AddDays(2), "m1", null));

        var wakeUp = SegmentMembership.NextChange(profile, [ShoeLovers, Subscribers], T0.AddDays(2), null);
        Assert.Equal(T0.AddDays(14), wakeUp);
        Assert.Empty(SegmentMembership.Evaluate(profile, [ShoeLovers], wakeUp!.Value - Tick, "early", null));

        var events = SegmentMembership.Evaluate(profile, [ShoeLovers], wakeUp.Value, "wakeup:1", null);
        var left = Assert.IsType<SegmentLeft>(Assert.Single(events));
        Assert.Equal(("shoe-lovers", 1, "2 product views with category shoes in the last 14 days", "wakeup:1:seg:shoe-lovers:leave"),
            (left.SegmentId, left.RuleVersion, left.Reason, left.MessageId));

        ApplyStored(profile, events);
        Assert.Empty(profile.Segments);
        Assert.Null(SegmentMembership.NextChange(profile, [ShoeLovers], wakeUp.Value, null));
    }

    [Fact]
    public void Members_of_archived_segments_leave()
    {
        var profile = Profile(Make.Newsletter(T0));
        ApplyStored(profile, SegmentMembership.Evaluate(profile, [Subscribers, ShoeLovers], T0, "m1", null));
        var archivedToo = new SegmentDefinition("zz-old", "Old", 4, Rule("""{"newsletter":true}"""));
        ApplyStored(profile, SegmentMembership.Evaluate(profile, [Subscribers, archivedToo], T0, "m2", null));
        Assert.Equal(["subscribers", "zz-old"], profile.Segments.Keys.Order());

        var events = SegmentMembership.Evaluate(profile, [ShoeLovers], T0.AddHours(1), "m3", null);
        Assert.Equal(
            [("subscribers", 1, "segment archived", "m3:seg:subscribers:leave"), ("zz-old", 4, "segment archived", "m3:seg:zz-old:leave")],
            events.Cast<SegmentLeft>().Select(e => (e.SegmentId, e.RuleVersion, e.Reason, e.MessageId)));
        ApplyStored(profile, events);
        Assert.Empty(profile.Segments);
    }

    [Fact]
    public void A_member_who_still_matches_a_new_rule_version_is_re_entered_at_that_version()
    {
        var profile = Profile(Make.Newsletter(T0), Make.View("a", null, T0));
        ApplyStored(profile, SegmentMembership.Evaluate(profile, [Subscribers], T0, "m1", null));

        var v2 = Subscribers with { Version = 2, Rule = Rule("""{"all":[{"newsletter":true},{"lastEvent":{"event":"product_viewed","withinDays":30}}]}""") };
        var events = SegmentMembership.Evaluate(profile, [v2], T0.AddDays(1), "m2", null);
        var entered = Assert.IsType<SegmentEntered>(Assert.Single(events));
        Assert.Equal((2, "rule changed to version 2", "m2:seg:subscribers:enter"), (entered.RuleVersion, entered.Reason, entered.MessageId));
        ApplyStored(profile, events);
        Assert.Equal(2, profile.Segments["subscribers"]);
        Assert.Empty(SegmentMembership.Evaluate(profile, [v2], T0.AddDays(1), "m3", null));
    }

    [Fact]
    public void A_member_who_no_longer_matches_a_new_rule_version_leaves_saying_so()
    {
        var profile = Profile(Make.Newsletter(T0));
        ApplyStored(profile, SegmentMembership.Evaluate(profile, [Subscribers], T0, "m1", null));

        var v3 = Subscribers with { Version = 3, Rule = Rule("""{"all":[{"newsletter":true},{"consent":"email:marketing"}]}""") };
        var events = SegmentMembership.Evaluate(profile, [v3], T0, "m2", null);
        var left = Assert.IsType<SegmentLeft>(Assert.Single(events));
        Assert.Equal((3, "rule changed to version 3: has no consent email:marketing"), (left.RuleVersion, left.Reason));
        ApplyStored(profile, events);
        Assert.Empty(profile.Segments);
    }

    [Fact]
    public void Entering_and_leaving_happen_in_one_evaluation_in_the_order_of_the_definitions()
    {
        var profile = Profile(Make.Newsletter(T0));
        ApplyStored(profile, SegmentMembership.Evaluate(profile, [Subscribers], T0, "m1", null));
        profile.Apply(Unsubscribe(T0.AddDays(1)));
        profile.Apply(Make.View("a", "shoes", T0.AddDays(1)));
        profile.Apply(Make.View("b", "shoes", T0.AddDays(1)));
        profile.Apply(Make.View("c", "shoes", T0.AddDays(1)));

        var events = SegmentMembership.Evaluate(profile, [ShoeLovers, Subscribers], T0.AddDays(1), "m9", null);
        Assert.Equal(["m9:seg:shoe-lovers:enter", "m9:seg:subscribers:leave"], events.Select(e => e.MessageId));
    }

    [Fact]
    public void A_profile_merged_into_another_takes_no_segment_decisions()
    {
        var profile = Profile(Make.Newsletter(T0), Stamp(new MergedInto("other") { MessageId = "", EventTime = T0, ReceivedTime = T0 }, T0.AddMinutes(1)));
        Assert.Empty(SegmentMembership.Evaluate(profile, [Subscribers], T0.AddMinutes(2), "m1", null));
        Assert.Null(SegmentMembership.NextChange(profile, [ShoeLovers], T0, null));
    }

    [Fact]
    public void The_next_change_over_all_segments_is_the_earliest_one()
    {
        var recentCart = new SegmentDefinition("recent-cart", "Recent cart", 1, Rule("""{"lastEvent":{"event":"cart_item_added","withinHours":24}}"""));
        var profile = ThreeShoeViews();
        profile.Apply(CartAdd("x", T0.AddDays(2)));
        SegmentDefinition[] active = [ShoeLovers, recentCart, Subscribers];
        // Memberships not yet brought in line with the rules: a change is due at once.
        Assert.Equal(T0.AddDays(2), SegmentMembership.NextChange(profile, active, T0.AddDays(2), null));
        foreach (var e in SegmentMembership.Evaluate(profile, active, T0.AddDays(2), "c", null)) profile.Apply(e);
        Assert.Equal(T0.AddDays(3), SegmentMembership.NextChange(profile, active, T0.AddDays(2), null));
        Assert.Null(SegmentMembership.NextChange(profile, [], T0, null));
    }
}
