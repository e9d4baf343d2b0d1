using Actors.Domain.Journeys;
using static Actors.Domain.Tests.Journeys.JourneyKit;

namespace Actors.Domain.Tests.Journeys;

public class JourneyParsingTests
{
    /// <summary>One journey with every trigger field, step kind and top-level option.</summary>
    internal const string Everything = """
        {"name":" Abandoned cart ",
         "trigger":{"event":"cart_item_added","category":"Shoes","filter":{"count":{"event":"cart_item_added","atLeast":1,"withinDays":1}}},
         "entryCondition":{"not":{"stage":"anonymous"}},
         "start":"wait1",
         "steps":[
           {"id":"wait1","wait":{"duration":"PT1H"},"next":"send1"},
           {"id":"send1","send":{"channel":"email","template":"cart-1","topic":"offers","contentType":"promo"},"next":"at9"},
           {"id":"at9","waitUntil":{"time":"09:00","days":["tue","mon","tue"]},"next":"w"},
           {"id":"w","waitForEvent":{"event":"order_placed","timeout":"P3D"},"onEvent":"tag","onTimeout":"b"},
           {"id":"b","branch":{"arms":[{"name":"vip","rule":{"orders":{"atLeast":2}},"next":"ab"}],"otherwise":null}},
           {"id":"ab","split":{"arms":[{"name":"a","percent":30,"next":"tag"},{"name":"b","percent":70,"next":"end"}]}},
           {"id":"tag","setAttribute":{"name":"cart_nudged","value":"yes"},"next":"untag"},
           {"id":"untag","setAttribute":{"name":"old_flag","value":null},"next":"receipt"},
           {"id":"receipt","send":{"channel":"webhook","template":"crm-sync","kind":"transactional"}},
           {"id":"end","exit":true}],
         "goal":{"event":"order_placed","attributionWindow":"P7D"},
         "reEntry":{"afterCoolDown":"P1M"},
         "exitOnLeavingSegment":"cart-abandoners",
         "holdoutPercent":10}
        """;

    [Fact]
    public void A_journey_with_every_step_kind_reads_into_the_model()
    {
        var j = Journey(Everything);
        Assert.Equal(("j1", "Abandoned cart", 1), (j.Id, j.Name, j.Version));
        var trigger = Assert.IsType<EventTrigger>(j.Trigger);
        Assert.Equal(("cart_item_added", "shoes"), (trigger.EventName, trigger.Category)); // categories are counted lower-case
        Assert.NotNull(trigger.Filter);
        Assert.Equal("stage is not anonymous", j.EntryCondition!.Describe());
        Assert.Equal("wait1", j.FirstStep);
        Assert.Equal(["wait1", "send1", "at9", "w", "b", "ab", "tag", "untag", "receipt", "end"], j.Steps.Keys);

        Assert.Equal(new WaitStep("wait1", TimeSpan.FromHours(1), "send1"), j.Steps["wait1"]);
        Assert.Equal(new SendStep("send1", "email", "cart-1", "offers", "promo", MessageKind.Marketing, "at9"), j.Steps["send1"]);
        var at9 = Assert.IsType<WaitUntilStep>(j.Steps["at9"]);
        Assert.Equal((new TimeOnly(9, 0), "w"), (at9.TimeOfDay, at9.Next));
        Assert.Equal([DayOfWeek.Monday, DayOfWeek.Tuesday], at9.Days); // Monday first, each once
        Assert.Equal(new WaitForEventStep("w", "order_placed", null, TimeSpan.FromDays(3), "tag", "b"), j.Steps["w"]);
        var branch = Assert.IsType<BranchStep>(j.Steps["b"]);
        Assert.Null(branch.Otherwise);
        var arm = Assert.Single(branch.Arms);
        Assert.Equal(("vip", "at least 2 orders", "ab"), (arm.Name, arm.Rule.Describe(), arm.Next));
        var split = Assert.IsType<SplitStep>(j.Steps["ab"]);
        Assert.Equal([new SplitArm("a", 30, "tag"), new SplitArm("b", 70, "end")], split.Arms);
        Assert.Equal(new SetAttributeStep("tag", "cart_nudged", "yes", "untag"), j.Steps["tag"]);
        Assert.Equal(new SetAttributeStep("untag", "old_flag", null, "receipt"), j.Steps["untag"]);
        Assert.Equal(new SendStep("receipt", "webhook", "crm-sync", null, null, MessageKind.Transactional, null), j.Steps["receipt"]);
        Assert.Equal(new ExitStep("end"), j.Steps["end"]);

        Assert.Equal(new JourneyGoal("order_placed", null, TimeSpan.FromDays(7)), j.Goal);
        Assert.Equal((ReEntry.AfterCoolDown, TimeSpan.FromDays(30)), (j.ReEntry, j.CoolDown)); // a month is 30 days
        Assert.Equal(("cart-abandoners", 10), (j.ExitOnLeavingSegment, j.HoldoutPercent));
    }

    [Fact]
    public void Defaults_are_once_at_a_time_no_holdout_no_goal_and_marketing()
    {
        var j = Journey(With("""{"id":"s0","send":{"channel":"sms","template":"t"}}"""));
        Assert.IsType<ManualTrigger>(j.Trigger);
        Assert.Equal((ReEntry.OnceAtATime, (TimeSpan?)null, 0, (JourneyGoal?)null, (string?)null), (j.ReEntry, j.CoolDown, j.HoldoutPercent, j.Goal, j.ExitOnLeavingSegment));
        Assert.Equal(MessageKind.Marketing, Assert.IsType<SendStep>(j.Steps["s0"]).Kind);
    }

    [Theory]
    [InlineData("""{"segment":"vip","on":"enter"}""", "vip", true)]
    [InlineData("""{"segment":"vip"}""", "vip", true)]
    [InlineData("""{"segment":"lapsed-90-days","on":"leave"}""", "lapsed-90-days", false)]
    public void A_segment_trigger_fires_on_entering_unless_told_leave(string trigger, string segment, bool onEnter)
    {
        var j = Journey($$"""{"name":"S","trigger":{{trigger}},"start":"s0","steps":[{"id":"s0","exit":true}]}""");
        Assert.Equal(new SegmentTrigger(segment, onEnter), j.Trigger);
    }

    [Theory]
    [InlineData("\"onceEver\"", ReEntry.OnceEver)]
    [InlineData("\"onceAtATime\"", ReEntry.OnceAtATime)]
    public void Re_entry_words(string json, ReEntry expected) =>
        Assert.Equal(expected, Journey(With("""{"id":"s0","exit":true}""", "\"reEntry\":" + json)).ReEntry);

    [Fact]
    public void Every_day_of_the_week_is_no_restriction()
    {
        var j = Journey(With("""{"id":"s0","waitUntil":{"time":"23:59","days":["sun","sat","fri","thu","wed","tue","mon"]}}"""));
        var step = Assert.IsType<WaitUntilStep>(j.Steps["s0"]);
        Assert.Empty(step.Days);
        Assert.Equal(new TimeOnly(23, 59), step.TimeOfDay);
    }

    [Fact]
    public void A_loop_through_a_wait_is_allowed()
    {
        var j = Journey(With("""
            {"id":"s0","branch":{"arms":[{"name":"again","rule":{"newsletter":true},"next":"w"}]}},
            {"id":"w","waitForEvent":{"event":"page_viewed","timeout":"P1D"},"onEvent":"s0","onTimeout":"s0"}
            """));
        Assert.Equal(2, j.Steps.Count);
    }

    [Fact]
    public void A_behaviour_event_takes_its_name_as_category()
    {
        var j = Journey("""{"name":"V","trigger":{"event":"behaviour_tracked","category":"Video Played"},"start":"s0","steps":[{"id":"s0","exit":true}]}""");
        Assert.Equal(new EventTrigger("behaviour_tracked", "video played", null), j.Trigger);
    }

    [Fact]
    public void Id_and_version_come_from_the_caller_and_are_checked_too()
    {
        var result = Parse(With("""{"id":"s0","exit":true}"""), id: "", version: 0);
        Assert.Equal(
            [new JourneyError("id", "must be 1 to 100 characters with no control characters"), new JourneyError("version", "must be 1 or more")],
            result.Errors);
    }
}
