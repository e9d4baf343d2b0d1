using Actors.Domain.Journeys;
using static Actors.Domain.Tests.Journeys.JourneyKit;

namespace Actors.Domain.Tests.Journeys;

public class JourneyErrorTests
{
    private static JourneyError SingleError(string json)
    {
        var result = Parse(json);
        Assert.False(result.IsValid);
        Assert.Null(result.Journey);
        return Assert.Single(result.Errors);
    }

    private const string Exit = """{"id":"end","exit":true}""";

    public static TheoryData<string, string, string> Mistakes => new()
    {
        // the journey's own fields
        { """{"name":"T","trigger":{"manual":true},"start":"s0","steps":[{"id":"s0","exit":true}],"goals":{}}""", "goals",
            "unknown field; expected name, trigger, entryCondition, start, steps, goal, reEntry, exitOnLeavingSegment, holdoutPercent; did you mean goal?" },
        { """{"trigger":{"manual":true},"start":"s0","steps":[{"id":"s0","exit":true}]}""", "name", "required: the journey's name" },
        { """{"name":"T","start":"s0","steps":[{"id":"s0","exit":true}]}""", "trigger", "required: {\"event\":…}, {\"segment\":…} or {\"manual\":true}" },
        { """{"name":"T","trigger":{"manual":true},"steps":[{"id":"s0","exit":true}]}""", "start", "required: the id of the first step" },
        { """{"name":"T","trigger":{"manual":true},"start":"s0"}""", "steps", "required: the list of steps" },
        { """["a"]""", "", "must be a journey object, e.g. {\"name\":\"Welcome\",\"trigger\":{…},\"start\":\"send1\",\"steps\":[…]}" },
        { """{"name":"T","trigger":{"manual":true},"start":"s0","steps":[{"id":"s0","exit":true}],"name":"U"}""", "name", "given twice" },
        { """{"name":"   ","trigger":{"manual":true},"start":"s0","steps":[{"id":"s0","exit":true}]}""", "name", "must be a non-empty string" },
        { With(Exit, "\"holdoutPercent\":101", "end"), "holdoutPercent", "must be a whole number from 0 to 100" },
        { With(Exit, "\"holdoutPercent\":2.5", "end"), "holdoutPercent", "must be a whole number from 0 to 100" },
        { With(Exit, "\"exitOnLeavingSegment\":\"VIP list\"", "end"), "exitOnLeavingSegment", "must be a segment id: 1-64 characters of a-z, 0-9, '-' or '_', starting with a letter or digit" },
        { With(Exit, "\"reEntry\":\"onceEvr\"", "end"), "reEntry", "must be \"onceEver\", \"onceAtATime\" or {\"afterCoolDown\":\"P30D\"}; did you mean onceEver?" },
        { With(Exit, "\"reEntry\":{\"afterCoolDown\":\"P2Y\"}", "end"), "reEntry.afterCoolDown", "\"P2Y\" is out of range: a duration is 1 second to 400 days" },
        { With(Exit, "\"reEntry\":{}", "end"), "reEntry.afterCoolDown", "required: the time after an entry before the next, e.g. \"P30D\"" },
        { With(Exit, "\"goal\":{\"event\":\"order_placed\"}", "end"), "goal.attributionWindow", "required: how long after entering a goal counts as a conversion, e.g. \"P7D\"" },
        { With(Exit, "\"goal\":{\"event\":\"Order Completed\",\"attributionWindow\":\"P7D\"}", "end"), "goal.event", "'Order Completed' is a Segment spec name; journeys use stored event names: order_placed" },
        { With(Exit, "\"entryCondition\":{\"all\":[{\"stage\":\"lead\"},{\"count\":{\"event\":\"product_viewed\",\"atLeast\":0,\"withinDays\":3}}]}", "end"), "entryCondition.all[1].count.atLeast", "must be a whole number ≥ 1" },
        { With(Exit, "\"entryCondition\":{\"topic\":\"sh\\u0000es\"}", "end"), "entryCondition.topic", "must not contain control characters" },

        // a misspelt required field is one mistake, not two (not also "required")
        { """{"nmae":"T","trigger":{"manual":true},"start":"s0","steps":[{"id":"s0","exit":true}]}""", "nmae",
            "unknown field; expected name, trigger, entryCondition, start, steps, goal, reEntry, exitOnLeavingSegment, holdoutPercent; did you mean name?" },
        { With("""{"id":"s0","send":{"chanel":"email","template":"t"}}"""), "steps[0].send.chanel", "unknown field; expected channel, template, topic, contentType, kind; did you mean channel?" },
        { With("""{"id":"s0","exit":true},{"idd":"s1","exit":true}"""), "steps[1].idd",
            "unknown field; a step has id, one of send, wait, waitUntil, waitForEvent, branch, split, setAttribute, exit, and where to go next; did you mean id?" },
        { With(Exit, "\"reEntry\":{\"afterCooldown\":\"P30D\"}", "end"), "reEntry.afterCooldown", "unknown field; expected afterCoolDown; did you mean afterCoolDown?" },

        // triggers
        { """{"name":"T","trigger":{"evnt":"order_placed"},"start":"s0","steps":[{"id":"s0","exit":true}]}""", "trigger",
            "must be {\"event\":\"cart_item_added\"}, {\"segment\":\"vip\",\"on\":\"enter\"} or {\"manual\":true}; did you mean event?" },
        { """{"name":"T","trigger":{"event":"cart_itme_added"},"start":"s0","steps":[{"id":"s0","exit":true}]}""", "trigger.event",
            "unknown event 'cart_itme_added'; expected one of page_viewed, product_viewed, category_viewed, products_searched, cart_item_added, cart_item_removed, checkout_started, order_placed, order_refunded, registered, identified, newsletter_subscribed, newsletter_unsubscribed, preferences_updated, consent_given, consent_withdrawn, behaviour_tracked; did you mean cart_item_added?" },
        { """{"name":"T","trigger":{"event":"checkout_started","category":"shoes"},"start":"s0","steps":[{"id":"s0","exit":true}]}""", "trigger.category",
            "checkout_started has no category; only page_viewed, product_viewed, category_viewed, cart_item_added, order_placed, behaviour_tracked do" },
        { """{"name":"T","trigger":{"event":"order_placed","filter":{"orders":{}}},"start":"s0","steps":[{"id":"s0","exit":true}]}""", "trigger.filter.orders", "needs atLeast or atMost" },
        { """{"name":"T","trigger":{"event":"order_placed","segment":"vip"},"start":"s0","steps":[{"id":"s0","exit":true}]}""", "trigger.segment", "unknown field; expected event, category, filter" },
        { """{"name":"T","trigger":{"segment":"vip","on":"exit"},"start":"s0","steps":[{"id":"s0","exit":true}]}""", "trigger.on", "must be \"enter\" or \"leave\"" },
        { """{"name":"T","trigger":{"manual":false},"start":"s0","steps":[{"id":"s0","exit":true}]}""", "trigger.manual", "must be true (a journey needs a trigger)" },

        // steps as a list
        { """{"name":"T","trigger":{"manual":true},"start":"s0","steps":[]}""", "steps", "must list at least one step" },
        { """{"name":"T","trigger":{"manual":true},"start":"s0","steps":{"id":"s0"}}""", "steps", "must be an array of steps" },
        { With("""{"id":"s0","exit":true},{"id":"s0","exit":true}"""), "steps[1].id", "duplicate step id \"s0\": steps[0] has it too" },
        { With(Exit, start: "ned"), "start", "no step \"ned\" (did you mean \"end\"?)" },
        { With("""{"id":"s0","wait":{"duration":"PT1H"},"next":"sned2"},{"id":"send2","send":{"channel":"email","template":"t"}}"""), "steps[0].next", "no step \"sned2\" (did you mean \"send2\"?)" },
        { With("""{"id":"s0","exit":true},{"id":"orphan","exit":true}"""), "steps[1]", "step \"orphan\" cannot be reached from start" },
        { With("""{"id":"s0","send":{"channel":"email","template":"t"},"next":"tag"},{"id":"tag","setAttribute":{"name":"a","value":"b"},"next":"s0"}"""), "steps[0]",
            "the steps s0 → tag → s0 loop without waiting; a loop must pass through a wait, waitUntil or waitForEvent step" },
        { With("""{"id":"s0","branch":{"arms":[{"name":"x","rule":{"newsletter":true},"next":"s0"}]}}"""), "steps[0]",
            "the steps s0 → s0 loop without waiting; a loop must pass through a wait, waitUntil or waitForEvent step" },

        // one step
        { With("""{"id":"s0","wiat":{"duration":"PT1H"}}"""), "steps[0].wiat",
            "unknown field; a step has id, one of send, wait, waitUntil, waitForEvent, branch, split, setAttribute, exit, and where to go next; did you mean wait?" },
        { With("""{"id":"s0"}"""), "steps[0]", "needs what the step does: one of send, wait, waitUntil, waitForEvent, branch, split, setAttribute, exit" },
        { With("""{"id":"s0","exit":true},{"wait":{"duration":"PT1H"}}"""), "steps[1].id", "required: the step's id, which other steps name to go to it" },
        { With("""{"id":"s0","wait":{"duration":"PT1H"},"exit":true}"""), "steps[0].exit", "a step does one thing and this one is a wait step; add another step for this" },
        { With("""{"id":"s0","exit":true,"next":"s0"}"""), "steps[0].next", "an exit step ends the journey: it has no next" },
        { With("""{"id":"s0","wait":{"duration":"PT1H"},"onTimeout":"s0"}"""), "steps[0].onTimeout", "a wait step goes on by next" },
        { With("""{"id":"s0","waitForEvent":{"event":"order_placed","timeout":"P1D"},"next":"s0"}"""), "steps[0].next", "a waitForEvent step goes on by onEvent or onTimeout" },
        { With("""{"id":"s0","branch":{"arms":[{"name":"x","rule":{"newsletter":true}}]},"next":"s0"}"""), "steps[0].next", "a branch step goes on by its arms' next and otherwise" },
        { With("""{"id":"s0","exit":false}"""), "steps[0].exit", "must be true" },
        { With("""{"id":"s0","exit":true},[1]"""), "steps[1]", "must be a step object, e.g. {\"id\":\"wait1\",\"wait\":{\"duration\":\"PT1H\"},\"next\":\"send1\"}" },
        { With("""{"id":"s0","exit":true},{"id":"s\u0000","exit":true}"""), "steps[1].id", "must not contain control characters" },
        { With($$"""{"id":"s0","exit":true},{"id":"{{new string('x', 101)}}","exit":true}"""), "steps[1].id", "must be at most 100 characters" },
        { With("""{"id":"s0","exit":true},{"id":"s\ud800","exit":true}"""), "steps[1].id", "must be valid Unicode text (it holds a lone surrogate)" },

        // wait
        { With("""{"id":"s0","wait":{"duration":"P1X"}}"""), "steps[0].wait.duration", "\"P1X\" is not an ISO 8601 duration; write e.g. \"PT30M\", \"P3D\" or \"P1M\"" },
        { With("""{"id":"s0","wait":{"duration":"PT0S"}}"""), "steps[0].wait.duration", "\"PT0S\" is out of range: a duration is 1 second to 400 days" },
        { With("""{"id":"s0","wait":{"duration":"P401D"}}"""), "steps[0].wait.duration", "\"P401D\" is out of range: a duration is 1 second to 400 days" },
        { With("""{"id":"s0","wait":{"duration":3600}}"""), "steps[0].wait.duration", "must be an ISO 8601 duration string, e.g. \"PT1H\" or \"P3D\"" },
        { With("""{"id":"s0","wait":{}}"""), "steps[0].wait.duration", "required: an ISO 8601 duration, e.g. \"PT1H\" or \"P3D\"" },
        { With("""{"id":"s0","wait":{"duration":"PT1H","durration":"PT2H"}}"""), "steps[0].wait.durration", "unknown field; expected duration; did you mean duration?" },
        { With("""{"id":"s0","wait":"PT1H"}"""), "steps[0].wait", "must be an object like {\"duration\":\"PT1H\"}" },

        // waitUntil
        { With("""{"id":"s0","waitUntil":{"time":"9:00"}}"""), "steps[0].waitUntil.time", "must be a time of day \"HH:mm\" from \"00:00\" to \"23:59\", e.g. \"09:00\"" },
        { With("""{"id":"s0","waitUntil":{"time":"24:00"}}"""), "steps[0].waitUntil.time", "must be a time of day \"HH:mm\" from \"00:00\" to \"23:59\", e.g. \"09:00\"" },
        { With("""{"id":"s0","waitUntil":{"time":"09:00","days":["mon","tues"]}}"""), "steps[0].waitUntil.days[1]", "must be one of mon, tue, wed, thu, fri, sat, sun; did you mean tue?" },
        { With("""{"id":"s0","waitUntil":{"time":"09:00","days":[]}}"""), "steps[0].waitUntil.days", "must list at least one of mon, tue, wed, thu, fri, sat, sun (leave days out for every day)" },

        // waitForEvent
        { With("""{"id":"s0","waitForEvent":{"event":"order_placed"}}"""), "steps[0].waitForEvent.timeout", "required: how long to wait for the event, e.g. \"P3D\"" },
        { With("""{"id":"s0","waitForEvent":{"timeout":"P1D"}}"""), "steps[0].waitForEvent.event",
            "required: a stored event name; expected one of page_viewed, product_viewed, category_viewed, products_searched, cart_item_added, cart_item_removed, checkout_started, order_placed, order_refunded, registered, identified, newsletter_subscribed, newsletter_unsubscribed, preferences_updated, consent_given, consent_withdrawn, behaviour_tracked" },

        // send
        { With("""{"id":"s0","send":{"channel":"emial","template":"t"}}"""), "steps[0].send.channel", "unknown channel 'emial'; expected one of email, sms, push, web, webhook; did you mean email?" },
        { With("""{"id":"s0","send":{"channel":"email"}}"""), "steps[0].send.template", "required: the id of the message template" },
        { With("""{"id":"s0","send":{"template":"t"}}"""), "steps[0].send.channel", "required: one of email, sms, push, web, webhook" },
        { With("""{"id":"s0","send":{"channel":"email","template":"t","kind":"promo"}}"""), "steps[0].send.kind", "must be \"marketing\" or \"transactional\"" },
        { With("""{"id":"s0","send":{"channel":"email","template":"t","topc":"x"}}"""), "steps[0].send.topc", "unknown field; expected channel, template, topic, contentType, kind; did you mean topic?" },

        // branch and split
        { With("""{"id":"s0","branch":{"arms":[{"name":"vip","rule":{"cout":{}}}]}}"""), "steps[0].branch.arms[0].rule.cout",
            "unknown condition; expected one of all, any, not, stage, leadKind, attribute, consent, topic, contentType, frequency, paused, newsletter, count, lastEvent, noOrderForDays, cartAbandoned, orders, ordersTotal, rfm, rfmCell, profiles; did you mean count?" },
        { With("""{"id":"s0","branch":{"arms":[{"name":"vip","rule":{"newsletter":true}},{"name":"vip","rule":{"paused":true}}]}}"""), "steps[0].branch.arms[1].name",
            "duplicate arm name \"vip\": steps[0].branch.arms[0] has it too" },
        { With("""{"id":"s0","branch":{"arms":[]}}"""), "steps[0].branch.arms", "must be an array of 1 to 20 arms" },
        { With("""{"id":"s0","branch":{"arms":[{"name":"vip"}]}}"""), "steps[0].branch.arms[0].rule", "required: the segment rule that sends a visitor this way" },
        { With("""{"id":"s0","split":{"arms":[{"name":"a","percent":50},{"name":"b","percent":40}]}}"""), "steps[0].split.arms", "the percentages add up to 90; they must add up to 100" },
        { With("""{"id":"s0","split":{"arms":[{"name":"a","percent":100}]}}"""), "steps[0].split.arms", "must be an array of 2 to 10 arms" },
        { With("""{"id":"s0","split":{"arms":[{"name":"a","percent":0},{"name":"b","percent":99}]}}"""), "steps[0].split.arms[0].percent", "must be a whole number from 1 to 99" },
        { With("""{"id":"s0","split":{"arms":[{"name":"a","percent":50,"nxt":"s0"},{"name":"b","percent":50}]}}"""), "steps[0].split.arms[0].nxt", "unknown field; expected name, percent, next; did you mean next?" },

        // setAttribute
        { With("""{"id":"s0","setAttribute":{"name":"tier"}}"""), "steps[0].setAttribute.value", "required: the value to set, or null to remove the attribute" },
        { With("""{"id":"s0","setAttribute":{"name":"tier","value":["a"]}}"""), "steps[0].setAttribute.value", "must be a string, a number, true, false, or null to remove the attribute" },
        { With($$$"""{"id":"s0","setAttribute":{"name":"tier","value":"{{{new string('v', 201)}}}"}}"""), "steps[0].setAttribute.value", "must be at most 200 characters" },
        { With("""{"id":"s0","setAttribute":{"name":"ti\u0007er","value":"x"}}"""), "steps[0].setAttribute.name", "must not contain control characters" },
    };

    [Theory]
    [MemberData(nameof(Mistakes))]
    public void Each_mistake_is_reported_at_its_path(string json, string path, string message) =>
        Assert.Equal(new JourneyError(path, message), SingleError(json));

    [Fact]
    public void Every_problem_is_reported_not_only_the_first()
    {
        var result = Parse("""
            {"name":"T","trigger":{"event":"order_placd"},"start":"s0",
             "steps":[{"id":"s0","wait":{"duration":"P1X"},"next":"s1"},
                      {"id":"s1","send":{"channel":"fax","template":"t"},"nxt":"s0"}],
             "holdoutPercent":-1}
            """);
        Assert.Equal(
        [
            "trigger.event",
            "steps[0].wait.duration",
            "steps[1].nxt",
            "steps[1].send.channel",
            "holdoutPercent",
        ], result.Errors.Select(e => e.Path));
    }

    [Fact]
    public void A_step_with_a_stray_field_and_no_kind_hears_about_both()
    {
        var result = Parse(With("""{"id":"s0","description":"x"}"""));
        Assert.Equal(["steps[0].description", "steps[0]"], result.Errors.Select(e => e.Path));
    }

    [Fact]
    public void At_most_100_steps()
    {
        var steps = string.Join(",", Enumerable.Range(0, 101).Select(i => $$"""{"id":"s{{i}}","wait":{"duration":"PT1M"},"next":"s{{(i + 1) % 101}}"}"""));
        Assert.Equal(new JourneyError("steps", "must list at most 100 steps (this has 101)"), SingleError(With(steps)));
        var hundred = string.Join(",", Enumerable.Range(0, 100).Select(i => $$"""{"id":"s{{i}}","wait":{"duration":"PT1M"},"next":"s{{(i + 1) % 100}}"}"""));
        Assert.True(Parse(With(hundred)).IsValid);
    }

    [Fact]
    public void A_flood_of_mistakes_is_cut_short()
    {
        var unknown = string.Join(",", Enumerable.Range(0, 500).Select(i => $"\"x{i}\":1"));
        var result = Parse($$"""{"name":"T","trigger":{"manual":true},"start":"s0","steps":[{"id":"s0","exit":true}],{{unknown}}}""");
        Assert.Equal(201, result.Errors.Count);
        Assert.Equal(new JourneyError("", "more than 200 problems; fix these first"), result.Errors[^1]);
    }

    [Theory]
    [InlineData("null")]
    [InlineData("42")]
    [InlineData("""{"name":{},"trigger":[],"start":1,"steps":[null,"x",{"id":[],"send":[]}],"goal":7,"reEntry":false,"holdoutPercent":"10"}""")]
    [InlineData("""{"name":"T","trigger":{"event":"product_viewed","filter":{"topic":"\ud800"}},"start":"s0","steps":[{"id":"s0","exit":true}]}""")]
    [InlineData("""{"n\udc00":"T"}""")]
    public void Garbage_is_reported_never_thrown(string json)
    {
        var result = Parse(json);
        Assert.False(result.IsValid);
        Assert.NotEmpty(result.Errors);
    }
}
