using Actors.Domain.Journeys;
using static Actors.Domain.Tests.Journeys.JourneyKit;

namespace Actors.Domain.Tests.Journeys;

public class DescribeAndJsonTests
{
    public static TheoryData<string> Journeys =>
        [JourneyParsingTests.Everything, .. JourneyTemplates.All.Select(t => t.Json),
         With("""{"id":"s0","waitUntil":{"time":"00:00","days":["sun"]},"next":"s1"},{"id":"s1","wait":{"duration":"P1M1W1DT5H6M7S"}}""",
             "\"reEntry\":\"onceEver\",\"goal\":{\"event\":\"behaviour_tracked\",\"category\":\"Video Played\",\"attributionWindow\":\"PT90M\"}")];

    [Theory]
    [MemberData(nameof(Journeys))]
    public void Reading_the_canonical_json_gives_the_same_journey(string json)
    {
        var journey = Journey(json);
        var back = JourneyDefinition.Parse(journey.ToJson(), journey.Id, journey.Version);
        Assert.True(back.IsValid, Errors(back));
        AssertSame(journey, back.Journey!);
        Assert.Equal(journey.ToJson().GetRawText(), back.Journey!.ToJson().GetRawText());
        Assert.Equal(journey.Describe(), back.Journey!.Describe());
    }

    /// <summary>Field by field: the model's lists and rules compare by reference, so records alone cannot say "equal".</summary>
    private static void AssertSame(JourneyDefinition a, JourneyDefinition b)
    {
        Assert.Equal((a.Id, a.Name, a.Version, a.FirstStep, a.Goal, a.ReEntry, a.CoolDown, a.ExitOnLeavingSegment, a.HoldoutPercent),
            (b.Id, b.Name, b.Version, b.FirstStep, b.Goal, b.ReEntry, b.CoolDown, b.ExitOnLeavingSegment, b.HoldoutPercent));
        Assert.Equal(a.EntryCondition?.ToJson().GetRawText(), b.EntryCondition?.ToJson().GetRawText());
        switch (a.Trigger)
        {
            case EventTrigger e:
                var f = Assert.IsType<EventTrigger>(b.Trigger);
                Assert.Equal((e.EventName, e.Category, e.Filter?.ToJson().GetRawText()), (f.EventName, f.Category, f.Filter?.ToJson().GetRawText()));
                break;
            default:
                Assert.Equal(a.Trigger, b.Trigger);
                break;
        }
        Assert.Equal(a.Steps.Keys, b.Steps.Keys);
        foreach (var (id, step) in a.Steps)
        {
            var other = b.Steps[id];
            switch (step)
            {
                case BranchStep s:
                    var t = Assert.IsType<BranchStep>(other);
                    Assert.Equal(s.Otherwise, t.Otherwise);
                    Assert.Equal(s.Arms.Select(x => (x.Name, x.Rule.ToJson().GetRawText(), x.Next)), t.Arms.Select(x => (x.Name, x.Rule.ToJson().GetRawText(), x.Next)));
                    break;
                case SplitStep s:
                    Assert.Equal(s.Arms, Assert.IsType<SplitStep>(other).Arms);
                    break;
                case WaitUntilStep s:
                    var u = Assert.IsType<WaitUntilStep>(other);
                    Assert.Equal((s.TimeOfDay, s.Next), (u.TimeOfDay, u.Next));
                    Assert.Equal(s.Days, u.Days);
                    break;
                default:
                    Assert.Equal(step, other);
                    break;
            }
        }
    }

    [Fact]
    public void The_canonical_json_leaves_out_defaults_and_writes_durations_in_days_and_time()
    {
        var j = Journey(With("""{"id":"s0","wait":{"duration":"P1M1W1DT5H6M7S"},"next":null}""", "\"holdoutPercent\":0,\"goal\":null"));
        Assert.Equal(
            """{"name":"Test","trigger":{"manual":true},"start":"s0","steps":[{"id":"s0","wait":{"duration":"P38DT5H6M7S"}}],"reEntry":"onceAtATime"}""",
            j.ToJson().GetRawText());
    }

    public static TheoryData<string, string> Described => new()
    {
        { JourneyParsingTests.Everything,
            "When a visitor adds shoes to the cart, given at least 1 cart addition in the last day (only if stage is not anonymous): " +
            "wait 1 hour, send email 'cart-1' (offers, promo), wait until 09:00 on Mon, Tue, " +
            "wait up to 3 days for an order, then go to tag if it comes, else go to b; " +
            "[tag] set cart_nudged to 'yes', remove attribute old_flag, send webhook 'crm-sync' (transactional), then end; " +
            "[b] if at least 2 orders (vip) go to ab, otherwise end; [ab] split at random: a 30% go to tag, b 70% go to end; [end] exit; " +
            "ends on an order (conversion within 7 days); ends on leaving segment 'cart-abandoners'; again 30 days after entering; 10% held out." },
        { With("""{"id":"s0","send":{"channel":"push","template":"hello"}}"""),
            "When added by hand: send push 'hello'; once at a time." },
        { """{"name":"V","trigger":{"segment":"vip","on":"leave"},"start":"a","steps":[{"id":"a","wait":{"duration":"P1DT12H"},"next":"b"},{"id":"b","waitForEvent":{"event":"behaviour_tracked","category":"video played","timeout":"PT30M"},"onTimeout":"a"}],"goal":{"event":"order_placed","category":"shoes","attributionWindow":"PT1S"},"reEntry":"onceEver","holdoutPercent":100}""",
            "When a visitor leaves segment 'vip': [a] wait 1 day and 12 hours, wait up to 30 minutes for 'video played', then end if it comes, else go to a; " +
            "ends on an order with category shoes (conversion within 1 second); once ever; 100% held out." },
    };

    [Theory]
    [MemberData(nameof(Described))]
    public void Describe_tells_the_journey_in_english(string json, string expected) => Assert.Equal(expected, Journey(json).Describe());

    [Fact]
    public void A_hand_made_journey_is_described_and_written_without_throwing()
    {
        var steps = new Dictionary<string, JourneyStep>
        {
            ["a"] = new WaitForEventStep("a", "video_played", "intro", TimeSpan.FromMinutes(5), null, "missing"),
        };
        var j = new JourneyDefinition("j", "Hand made", 1, new EventTrigger("video_played", null, null), null, steps, "nowhere",
            new JourneyGoal("signed_up", null, TimeSpan.FromDays(1)), ReEntry.OnceEver, null, null, 0);
        Assert.Equal("When a visitor does video_played: no steps; ends on signed_up (conversion within 1 day); once ever.", j.Describe());
        Assert.False(JourneyDefinition.Parse(j.ToJson(), j.Id, j.Version).IsValid);
    }

    private static JourneyDefinition? WaitFor(string duration) =>
        Parse(With($$$"""{"id":"s0","wait":{"duration":"{{{duration}}}"}}""")).Journey;

    [Theory]
    [InlineData("PT30S", 30)]
    [InlineData("PT1H", 3600)]
    [InlineData("PT90M", 5400)]
    [InlineData("P1D", 86400)]
    [InlineData("P1W", 7 * 86400)]
    [InlineData("P1M", 30 * 86400)]
    [InlineData("P6M", 180 * 86400)]
    [InlineData("P1Y", 365 * 86400)]
    [InlineData("P1DT1H1M1S", 86400 + 3661)]
    [InlineData("PT1S", 1)]
    [InlineData("P400D", 400 * 86400)]
    public void Durations_are_iso_8601_with_fixed_months_and_years(string text, long seconds) =>
        Assert.Equal(new WaitStep("s0", TimeSpan.FromSeconds(seconds), null), WaitFor(text)!.Steps["s0"]);

    [Theory]
    [InlineData("P")]
    [InlineData("PT")]
    [InlineData("P1")]
    [InlineData("1D")]
    [InlineData("p1d")]
    [InlineData("-P1D")]
    [InlineData("P1.5D")]
    [InlineData("P1,5D")]
    [InlineData("P1H")]
    [InlineData("PT1D")]
    [InlineData("P1D1Y")]
    [InlineData("P1D1D")]
    [InlineData("P1DT")]
    [InlineData("P 1D")]
    [InlineData("P1DT1H ")]
    [InlineData("P9999999999D")]
    [InlineData("PT0S")]
    [InlineData("P1Y2M")]
    [InlineData("PT34560001S")]
    public void Anything_else_is_refused(string text) => Assert.Null(WaitFor(text));

    [Theory]
    [InlineData("PT1S", "PT1S", "1 second")]
    [InlineData("PT60M", "PT1H", "1 hour")]
    [InlineData("PT5400S", "PT1H30M", "1 hour and 30 minutes")]
    [InlineData("PT24H", "P1D", "1 day")]
    [InlineData("P2DT1H1S", "P2DT1H1S", "2 days, 1 hour and 1 second")]
    [InlineData("P1M", "P30D", "30 days")]
    public void Durations_are_written_in_days_and_time(string text, string canonical, string english)
    {
        var j = WaitFor(text)!;
        Assert.Equal(canonical, j.ToJson().GetProperty("steps")[0].GetProperty("wait").GetProperty("duration").GetString());
        Assert.Equal($"When added by hand: wait {english}; once at a time.", j.Describe());
    }
}
