using System.Text.Json;
using Actors.Domain.Lifecycle;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Domain.Tests.Tracking;

public class IntakeTests
{
    private static readonly LifecycleSettings Settings = LifecycleSettings.Default;
    private static readonly DateTimeOffset T0 = Make.T0;

    [Fact]
    public void A_retried_event_is_recognised_and_not_stored_again()
    {
        var profile = new VisitorProfile("p1");
        var view = Make.View("a", "shoes", T0);
        var first = Intake.Handle(profile, [view], T0, Settings);
        var retry = Intake.Handle(profile, [view], T0, Settings);
        Assert.Single(first.ToAppend);
        Assert.Empty(retry.ToAppend);
        Assert.Equal(IntakeStatus.Duplicate, retry.Outcomes[0].Status);
        Assert.Equal(1, profile.Version);
    }

    [Fact]
    public void The_same_message_twice_in_one_batch_is_stored_once()
    {
        var profile = new VisitorProfile("p1");
        var view = Make.View("a", "shoes", T0);
        var result = Intake.Handle(profile, [view, view], T0, Settings);
        Assert.Single(result.ToAppend);
        Assert.Equal([IntakeStatus.Accepted, IntakeStatus.Duplicate], result.Outcomes.Select(o => o.Status));
    }

    [Fact]
    public void The_dedupe_horizon_holds_the_last_256_message_ids()
    {
        var profile = new VisitorProfile("p1");
        var first = Make.View("a", null, T0);
        Intake.Handle(profile, [first], T0, Settings);
        for (var i = 0; i < RecentMessageIds.Capacity - 1; i++) Intake.Handle(profile, [Make.View("b", null, T0)], T0, Settings);
        Assert.True(profile.HasSeen(first.MessageId));
        Intake.Handle(profile, [Make.View("c", null, T0)], T0, Settings);
        Assert.False(profile.HasSeen(first.MessageId));
    }

    [Fact]
    public void Replaying_the_stored_events_gives_the_same_profile()
    {
        var live = new VisitorProfile("p1");
        var stored = new List<VisitorEvent>();
        VisitorEvent[] incoming = [Make.Newsletter(T0), Make.View("a", "shoes", T0.AddHours(1)), Make.Order("o1", 30, T0.AddDays(1)), Make.Order("o2", 40, T0.AddDays(2))];
        foreach (var e in incoming) stored.AddRange(Intake.Handle(live, [e], e.EventTime, Settings).ToAppend);

        var replayed = new VisitorProfile("p1");
        foreach (var e in stored) replayed.Apply(e);

        Assert.Equal(JsonSerializer.Serialize(live), JsonSerializer.Serialize(replayed));
    }

    [Fact]
    public void A_profile_survives_a_snapshot_round_trip()
    {
        var profile = new VisitorProfile("p1");
        var events = new VisitorEvent[] { Make.Newsletter(T0), Make.View("a", "shoes", T0), Make.Order("o1", 30, T0) };
        foreach (var e in events) Intake.Handle(profile, [e], T0, Settings);

        var restored = JsonSerializer.Deserialize<VisitorProfile>(JsonSerializer.Serialize(profile))!;

        Assert.Equal(JsonSerializer.Serialize(profile), JsonSerializer.Serialize(restored));
        Assert.All(events, e => Assert.True(restored.HasSeen(e.MessageId)));
        Assert.Equal(Stage.Customer, restored.Stage);
        Assert.Equal(1, restored.Orders.Count);
    }

    [Fact]
    public void Absorbing_a_device_history_carries_its_events_once_and_records_the_merge()
    {
        var device = new List<VisitorEvent> { Make.View("a", "shoes", T0), Make.Newsletter(T0.AddMinutes(5)) };
        var known = new VisitorProfile("user:u1");
        Intake.Handle(known, [Make.Account(T0.AddDays(1))], T0.AddDays(1), Settings);

        var carried = device.Select((e, i) => new CarriedEvent(i + 1, e)).ToList();
        var first = Intake.Absorb(known, "anon:d1", carried, 2, T0.AddDays(1), Settings);
        var again = Intake.Absorb(known, "anon:d1", carried, 2, T0.AddDays(1), Settings);

        Assert.Equal(2, first.Count(e => !e.IsDerived));
        Assert.Contains(first, e => e is ProfilesMerged { SourceProfileId: "anon:d1", EventCount: 2 });
        Assert.Empty(again);
        Assert.Equal(["anon:d1"], known.MergedFrom);
        Assert.Equal(1, known.Counters.Total(ActivityCounters.KeyFor(EventNames.ProductViewed, "shoes")));
    }

    [Fact]
    public void Counters_answer_views_of_a_category_in_a_rolling_window()
    {
        var profile = new VisitorProfile("p1");
        foreach (var day in new[] { 0, 5, 13, 20 })
            profile.Apply(Make.View("s", "Shoes", T0.AddDays(day)));
        var key = ActivityCounters.KeyFor(EventNames.ProductViewed, "shoes");
        Assert.Equal(3, profile.Counters.Count(key, T0, T0.AddDays(13)));
        Assert.Equal(2, profile.Counters.Count(key, T0.AddDays(7), T0.AddDays(20)));
    }

    [Fact]
    public void Visitors_counting_the_same_key_share_one_string_for_it_and_count_as_before()
    {
        var ana = new VisitorProfile("ana");
        var ben = new VisitorProfile("ben");
        ana.Apply(Make.View("s", "Shoes", T0));
        ben.Apply(Make.View("s", "SHOES", T0.AddDays(1)));
        ben.Apply(Make.View("s", "shoes", T0.AddDays(70))); // a second bucket, and the first one merged into its month

        var anaKey = Assert.Single(ana.Counters.Days.Keys, k => k.Contains("category=", StringComparison.Ordinal));
        var benKey = Assert.Single(ben.Counters.Days.Keys, k => k.Contains("category=", StringComparison.Ordinal));
        Assert.Same(anaKey, benKey);
        Assert.Same(ana.Counters.Latest.Keys.Single(k => k == anaKey), ben.Counters.Latest.Keys.Single(k => k == benKey));
        Assert.Equal(1, ana.Counters.Total(anaKey));
        Assert.Equal(2, ben.Counters.Total(benKey));
        Assert.Equal(2, ben.Counters.Days[benKey].Count);

        // A hostile 10 KB category is counted like any other, but its key is not kept in the silo-wide pool.
        var huge = new string('x', 10_000);
        ana.Apply(Make.View("s", huge, T0));
        ben.Apply(Make.View("s", huge, T0));
        var hugeKey = ActivityCounters.KeyFor(EventNames.ProductViewed, huge);
        Assert.Equal(1, ana.Counters.Total(hugeKey));
        Assert.NotSame(ana.Counters.Days.Keys.Single(k => k == hugeKey), ben.Counters.Days.Keys.Single(k => k == hugeKey));

        // A snapshot reads back the same counts (its keys are its own strings; only counting shares them).
        var restored = JsonSerializer.Deserialize<VisitorProfile>(JsonSerializer.Serialize(ben))!;
        Assert.Equal(2, restored.Counters.Total(benKey));
        Assert.Equal(ben.Counters.Days[benKey], restored.Counters.Days[benKey]);
    }

    [Fact]
    public void Every_event_type_round_trips_through_json_with_its_stored_name()
    {
        foreach (var type in EventNames.EventTypes)
            Assert.Matches("^[a-z_]+$", EventNames.Of(type));
        VisitorEvent e = Make.Order("o1", 10, T0);
        var json = JsonSerializer.Serialize(e);
        Assert.Contains("\"$type\":\"order_placed\"", json);
        Assert.Equal(e.MessageId, JsonSerializer.Deserialize<VisitorEvent>(json)!.MessageId);
    }

    [Fact]
    public void Counters_keep_the_exact_times_of_the_latest_events_per_key_even_when_they_arrive_late()
    {
        var profile = new VisitorProfile("p1");
        var key = ActivityCounters.KeyFor(EventNames.ProductViewed, "shoes");
        foreach (var minutes in new[] { 10, 30, 20, 5 })
            profile.Apply(Make.View("s", "shoes", T0.AddMinutes(minutes)));
        Assert.Equal(T0.AddMinutes(30), profile.Counters.NthLatest(key, 1));
        Assert.Equal(T0.AddMinutes(20), profile.Counters.NthLatest(key, 2));
        Assert.Equal(T0.AddMinutes(5), profile.Counters.NthLatest(key, 4));
        Assert.Null(profile.Counters.NthLatest(key, 5));

        for (var i = 0; i < 20; i++) profile.Apply(Make.View("s", "shoes", T0.AddHours(1 + i)));
        Assert.Equal(T0.AddHours(20), profile.Counters.NthLatest(key, 1));
        Assert.Equal(T0.AddHours(13), profile.Counters.NthLatest(key, ActivityCounters.ExactTimesKept));
    }

    [Fact]
    public void Old_day_buckets_are_merged_into_months_so_a_long_history_stays_small()
    {
        var profile = new VisitorProfile("p1");
        var key = ActivityCounters.KeyFor(EventNames.ProductViewed, "shoes");
        for (var day = 0; day < 300; day++) profile.Apply(Make.View("s", "shoes", T0.AddDays(day)));

        var buckets = profile.Counters.Days[key];
        Assert.True(buckets.Count < ActivityCounters.DailyDays + 12, $"{buckets.Count} buckets");
        Assert.Equal(300, profile.Counters.Total(key));
        var newest = T0.AddDays(299);
        Assert.Equal(14, profile.Counters.Count(key, newest.AddDays(-13), newest)); // recent windows stay exact to the day
    }

    [Fact]
    public void Order_ids_for_deduplication_are_bounded()
    {
        var profile = new VisitorProfile("p1");
        for (var i = 0; i < OrderSummary.OrderIdsKept + 10; i++) profile.Apply(Make.Order($"o{i}", 1, T0.AddMinutes(i)));
        Assert.Equal(OrderSummary.OrderIdsKept, profile.Orders.OrderIds.Count);
        Assert.Equal(OrderSummary.OrderIdsKept + 10, profile.Orders.Count);
        profile.Apply(Make.Order($"o{OrderSummary.OrderIdsKept + 9}", 1, T0)); // a recent order reported again
        Assert.Equal(OrderSummary.OrderIdsKept + 10, profile.Orders.Count);
    }

    [Fact]
    public void A_shops_own_events_can_be_counted_by_name_in_a_rule()
    {
        var profile = new VisitorProfile("p1");
        for (var i = 0; i < 3; i++)
            profile.Apply(new BehaviourTracked("Video Played", new Dictionary<string, string>()) { MessageId = Make.Id(), EventTime = T0.AddMinutes(i), ReceivedTime = T0 });
        using var json = JsonDocument.Parse("""{"count":{"event":"behaviour_tracked","category":"video played","atLeast":3,"withinDays":1}}""");
        var rule = Actors.Domain.Segments.SegmentRule.Parse(json.RootElement);
        Assert.True(rule.IsValid, string.Join("; ", rule.Errors));
        Assert.True(rule.Rule!.Matches(profile, T0.AddHours(1), null));
        Assert.False(rule.Rule.Matches(profile, T0.AddDays(2), null));
    }

    [Fact]
    public void Day_buckets_are_stored_as_short_arrays_and_the_first_object_form_still_reads()
    {
        Assert.Equal("[738000,3]", JsonSerializer.Serialize(new DayCount(738000, 3)));
        Assert.Equal("[738000,3,30]", JsonSerializer.Serialize(new DayCount(738000, 3, 30)));
        Assert.Equal(new DayCount(738000, 3, 30), JsonSerializer.Deserialize<DayCount>("[738000,3,30]"));
        Assert.Equal(new DayCount(738000, 3), JsonSerializer.Deserialize<DayCount>("""{"d":738000,"n":3,"s":1}"""));
    }
}
