using Actors.Domain.Journeys;
using Actors.Domain.Lifecycle;
using Actors.Domain.Profiles;
using Actors.Domain.Segments;
using Actors.Domain.Tests.Segments;
using Actors.Domain.Tracking;

namespace Actors.Domain.Tests.Journeys;

/// <summary>The step machine through Intake, as the grain calls it: events in, journey events out, replay equal.</summary>
public class JourneyRunnerTests
{
    private static readonly DateTimeOffset T0 = Make.T0;
    private static readonly LifecycleSettings Settings = LifecycleSettings.Default;
    private static readonly PolicySettings NoQuietHours = new() { QuietFrom = new TimeOnly(0, 0), QuietUntil = new TimeOnly(0, 0), MarketingCap = 10 };

    private static JourneyDefinition AbandonedCart(int holdout = 0, ReEntry reEntry = ReEntry.OnceAtATime) => new(
        "cart", "Abandoned cart", 1, new EventTrigger(EventNames.CartItemAdded, null, null), null,
        new Dictionary<string, JourneyStep>
        {
            ["wait1"] = new WaitStep("wait1", TimeSpan.FromHours(1), "send1"),
            ["send1"] = new SendStep("send1", "email", "cart-1", null, null, MessageKind.Marketing, "wait2"),
            ["wait2"] = new WaitStep("wait2", TimeSpan.FromHours(24), "send2"),
            ["send2"] = new SendStep("send2", "email", "cart-2", null, null, MessageKind.Marketing, null),
        },
        "wait1", new JourneyGoal(EventNames.OrderPlaced, null, TimeSpan.FromDays(7)), reEntry, null, null, holdout);

    private static SegmentContext Context(params JourneyDefinition[] journeys) =>
        SegmentContext.None with { Journeys = new JourneyContext([.. journeys.Select(j => ActiveJourney.Of(j))], NoQuietHours) };

    private static (VisitorProfile Profile, List<VisitorEvent> Stream) ConsentingVisitor(string id = "anon:v1")
    {
        var profile = new VisitorProfile(id);
        var stream = new List<VisitorEvent>();
        var consent = new ConsentGiven("email", "marketing") { MessageId = Make.Id(), EventTime = T0, ReceivedTime = T0 };
        var address = new AttributesUpdated(new Dictionary<string, string?> { ["email"] = "v1@example.test" }, "crm") { MessageId = Make.Id(), EventTime = T0, ReceivedTime = T0 };
        stream.AddRange(Intake.Handle(profile, [address, consent, Make.Newsletter(T0)], T0, Settings).ToAppend);
        return (profile, stream);
    }

    private static CartItemAdded Cart(DateTimeOffset at) => SegmentKit.CartAdd("sku-1", at);

    /// <summary>Folding the stream from its first event gives the journey positions the live profile has.</summary>
    private static void AssertReplayGivesTheSamePositions(VisitorProfile live, List<VisitorEvent> stream) =>
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(live.Journeys), System.Text.Json.JsonSerializer.Serialize(ProfileFold.Fold(live.ProfileId, stream).Journeys));

    [Fact]
    public void An_abandoned_cart_gets_exactly_one_message_after_the_wait_and_the_second_a_day_later()
    {
        var context = Context(AbandonedCart());
        var (profile, stream) = ConsentingVisitor();
        var at = T0.AddMinutes(5);
        stream.AddRange(Intake.Handle(profile, [Cart(at)], at, Settings, context).ToAppend);

        Assert.Contains(stream, e => e is JourneyEntered { JourneyId: "cart", Occurrence: 1, HeldOut: false });
        Assert.Equal(at.AddHours(1), Intake.NextWakeUp(profile, at, Settings, context));
        Assert.DoesNotContain(stream, e => e is MessageDecided);

        // Woken early: nothing. On time: one message, then the second wait.
        Assert.DoesNotContain(Intake.HandleWakeUp(profile, at.AddMinutes(59), Settings, context), e => e is MessageDecided);
        var first = Intake.HandleWakeUp(profile, at.AddHours(1), Settings, context);
        stream.AddRange(first);
        var message = Assert.Single(first.OfType<MessageDecided>());
        Assert.Equal((MessageOutcome.Sent, "cart-1"), (message.Outcome, message.Template));
        Assert.Equal("anon:v1:cart:1:send1:1", message.MessageKey);
        Assert.Equal(at.AddHours(25), Intake.NextWakeUp(profile, at.AddHours(1), Settings, context));

        // The same wake-up again (a retried reminder) decides nothing new.
        Assert.Empty(Intake.HandleWakeUp(profile, at.AddHours(1), Settings, context));

        var second = Intake.HandleWakeUp(profile, at.AddHours(25), Settings, context);
        stream.AddRange(second);
        Assert.Equal("cart-2", Assert.Single(second.OfType<MessageDecided>()).Template);
        Assert.Contains(second, e => e is JourneyExited { Reason: "completed" });
        Assert.False(profile.Journeys["cart"].Inside);
        Assert.Null(JourneyRunner.NextWakeUp(profile));

        // Replay from the first event gives the same positions.
        AssertReplayGivesTheSamePositions(profile, stream);
    }

    [Fact]
    public void Entering_places_the_visitor_and_starts_the_first_wait_in_the_one_entry_event_and_a_send_then_a_wait_is_one_step_event()
    {
        var context = Context(AbandonedCart());
        var (profile, stream) = ConsentingVisitor();
        var at = T0.AddMinutes(5);
        var entry = Intake.Handle(profile, [Cart(at)], at, Settings, context).ToAppend.Where(e => e is not CartItemAdded).ToList();
        stream.AddRange(entry);

        // The entry alone: no step event repeats where it put the visitor or that the wait began.
        var entered = Assert.IsType<JourneyEntered>(Assert.Single(entry, e => e is JourneyEntered or JourneyStepTaken));
        Assert.Equal(("wait1", at.AddHours(1)), (entered.StepId, entered.WaitUntil));
        Assert.Equal(("wait1", at, at.AddHours(1)), (profile.Journeys["cart"].StepId, profile.Journeys["cart"].StepSince, profile.Journeys["cart"].WaitUntil));

        // Sent, then on to the next wait: the step event that arrives there carries the wait's end.
        var first = Intake.HandleWakeUp(profile, at.AddHours(1), Settings, context);
        stream.AddRange(first);
        var steps = first.OfType<JourneyStepTaken>().ToList();
        Assert.Equal([("wait1", "waited", "send1", (DateTimeOffset?)null), ("send1", "sent", "wait2", at.AddHours(25))],
            steps.Select(s => (s.FromStepId, s.Outcome, s.StepId, s.WaitUntil)));
        Assert.Equal(at.AddHours(25), Intake.NextWakeUp(profile, at.AddHours(1), Settings, context));

        AssertReplayGivesTheSamePositions(profile, stream);
    }

    [Fact]
    public void A_stream_written_before_entries_named_their_step_replays_to_the_same_position_and_goes_on()
    {
        var context = Context(AbandonedCart());
        var (_, stream) = ConsentingVisitor();
        var at = T0.AddMinutes(5);
        // As stored before: an entry without a step, a move to the first step, then the wait started by a step of its own.
        stream.Add(new JourneyEntered("cart", 1, 1, false, "event cart_item_added") { MessageId = Make.Id(), EventTime = at, ReceivedTime = at });
        stream.Add(new JourneyStepTaken("cart", 1, 1, null, "entered", "wait1", null) { MessageId = Make.Id(), EventTime = at, ReceivedTime = at });
        stream.Add(new JourneyStepTaken("cart", 1, 1, "wait1", "waiting", "wait1", at.AddHours(1)) { MessageId = Make.Id(), EventTime = at, ReceivedTime = at });

        var old = ProfileFold.Fold("anon:v1", stream);
        Assert.Equal(("wait1", at.AddHours(1)), (old.Journeys["cart"].StepId, old.Journeys["cart"].WaitUntil));
        var woken = Intake.HandleWakeUp(old, at.AddHours(1), Settings, context);
        Assert.Equal("cart-1", Assert.Single(woken.OfType<MessageDecided>()).Template);
        Assert.Equal(("wait2", at.AddHours(25)), (old.Journeys["cart"].StepId, old.Journeys["cart"].WaitUntil));
    }

    private static SegmentContext WithStatus(JourneyDefinition journey, JourneyStatus status) =>
        SegmentContext.None with { Journeys = new JourneyContext([ActiveJourney.Of(journey, status)], NoQuietHours) { RecheckEvery = TimeSpan.FromMinutes(1) } };

    [Fact]
    public void A_paused_journey_holds_its_visitors_without_waking_them_in_a_loop_and_resuming_moves_them_on()
    {
        var journey = AbandonedCart();
        var (profile, _) = ConsentingVisitor();
        Intake.Handle(profile, [Cart(T0)], T0, Settings, WithStatus(journey, JourneyStatus.Active));
        var paused = WithStatus(journey, JourneyStatus.Paused);

        // The wait ended while paused: nothing is sent, and the next wake-up is a while ahead, not the past moment.
        var late = T0.AddHours(2);
        Assert.Empty(Intake.HandleWakeUp(profile, late, Settings, paused).OfType<MessageDecided>());
        Assert.Equal(late.AddMinutes(1), Intake.NextWakeUp(profile, late, Settings, paused));
        // Not yet ended: the wait's own end. Unknown to the catalogue (not loaded yet): look again later too.
        Assert.Equal(T0.AddHours(1), Intake.NextWakeUp(profile, T0.AddMinutes(5), Settings, paused));
        Assert.Equal(late.AddMinutes(1), Intake.NextWakeUp(profile, late, Settings, SegmentContext.None with
            { Journeys = JourneyContext.None with { RecheckEvery = TimeSpan.FromMinutes(1) } }));

        // Resumed: the next wake-up sends.
        var active = WithStatus(journey, JourneyStatus.Active);
        Assert.Equal(T0.AddHours(1), Intake.NextWakeUp(profile, late, Settings, active));
        Assert.Equal(MessageOutcome.Sent, Assert.Single(Intake.HandleWakeUp(profile, late.AddMinutes(1), Settings, active).OfType<MessageDecided>()).Outcome);
    }

    [Fact]
    public void An_archived_journey_lets_its_visitors_out_at_their_next_wake_up_or_event_and_sends_nothing()
    {
        var journey = AbandonedCart();
        var archived = WithStatus(journey, JourneyStatus.Archived);
        var (waiting, stream) = ConsentingVisitor();
        stream.AddRange(Intake.Handle(waiting, [Cart(T0)], T0, Settings, WithStatus(journey, JourneyStatus.Active)).ToAppend);
        var woken = Intake.HandleWakeUp(waiting, T0.AddHours(1), Settings, archived);
        stream.AddRange(woken);
        Assert.DoesNotContain(woken, e => e is MessageDecided);
        Assert.Contains(woken, e => e is JourneyExited { Reason: "journey_archived" });
        Assert.False(waiting.Journeys["cart"].Inside);
        Assert.Null(JourneyRunner.NextWakeUp(waiting, archived.Journeys, T0.AddHours(1)));
        Assert.DoesNotContain(Intake.Handle(waiting, [Cart(T0.AddHours(2))], T0.AddHours(2), Settings, archived).ToAppend, e => e is JourneyEntered);
        AssertReplayGivesTheSamePositions(waiting, stream);

        var (active, _) = ConsentingVisitor("anon:v2");
        Intake.Handle(active, [Cart(T0)], T0, Settings, WithStatus(journey, JourneyStatus.Active));
        var byEvent = Intake.Handle(active, [Make.View("p", "shoes", T0.AddMinutes(5))], T0.AddMinutes(5), Settings, archived).ToAppend;
        Assert.Contains(byEvent, e => e is JourneyExited { Reason: "journey_archived" });
    }

    [Fact]
    public void An_order_before_the_wait_ends_reaches_the_goal_and_no_message_is_decided()
    {
        var context = Context(AbandonedCart());
        var (profile, stream) = ConsentingVisitor();
        stream.AddRange(Intake.Handle(profile, [Cart(T0)], T0, Settings, context).ToAppend);
        var order = Intake.Handle(profile, [Make.Order("o1", 20, T0.AddMinutes(30))], T0.AddMinutes(30), Settings, context).ToAppend;

        var goal = Assert.Single(order.OfType<JourneyGoalReached>());
        Assert.True(goal.WithinAttribution);
        Assert.False(profile.Journeys["cart"].Inside);
        Assert.Empty(Intake.HandleWakeUp(profile, T0.AddHours(1), Settings, context).OfType<MessageDecided>());
        Assert.Null(JourneyRunner.NextWakeUp(profile));
    }

    [Fact]
    public void A_held_out_visitor_enters_and_is_counted_but_receives_nothing()
    {
        var context = Context(AbandonedCart(holdout: 100));
        var (profile, _) = ConsentingVisitor();
        var entered = Intake.Handle(profile, [Cart(T0)], T0, Settings, context).ToAppend;
        Assert.True(Assert.Single(entered.OfType<JourneyEntered>()).HeldOut);

        var decided = Intake.HandleWakeUp(profile, T0.AddHours(1), Settings, context).OfType<MessageDecided>().Single();
        Assert.Equal((MessageOutcome.Suppressed, "held_out"), (decided.Outcome, decided.Reason));
    }

    [Fact]
    public void Re_entry_follows_the_policy()
    {
        var once = Context(AbandonedCart(reEntry: ReEntry.OnceEver));
        var (profile, _) = ConsentingVisitor();
        Intake.Handle(profile, [Cart(T0)], T0, Settings, once);
        Intake.Handle(profile, [Make.Order("o1", 20, T0.AddMinutes(1))], T0.AddMinutes(1), Settings, once);
        Assert.DoesNotContain(Intake.Handle(profile, [Cart(T0.AddMinutes(2))], T0.AddMinutes(2), Settings, once).ToAppend, e => e is JourneyEntered);

        var again = Context(AbandonedCart(reEntry: ReEntry.OnceAtATime));
        var (other, _) = ConsentingVisitor("anon:v2");
        Intake.Handle(other, [Cart(T0)], T0, Settings, again);
        // Inside already: a second cart event does not enter twice.
        Assert.DoesNotContain(Intake.Handle(other, [Cart(T0.AddMinutes(1))], T0.AddMinutes(1), Settings, again).ToAppend, e => e is JourneyEntered);
        Intake.Handle(other, [Make.Order("o2", 20, T0.AddMinutes(2))], T0.AddMinutes(2), Settings, again);
        var second = Assert.Single(Intake.Handle(other, [Cart(T0.AddMinutes(3))], T0.AddMinutes(3), Settings, again).ToAppend.OfType<JourneyEntered>());
        Assert.Equal(2, second.Occurrence);
    }

    [Fact]
    public void Waiting_for_an_event_leaves_by_the_event_or_by_the_timeout()
    {
        var journey = new JourneyDefinition("browse", "Browse", 1, new EventTrigger(EventNames.ProductViewed, "shoes", null), null,
            new Dictionary<string, JourneyStep>
            {
                ["w"] = new WaitForEventStep("w", EventNames.CartItemAdded, null, TimeSpan.FromHours(2), "thanks", "nudge"),
                ["thanks"] = new SetAttributeStep("thanks", "browse_result", "carted", null),
                ["nudge"] = new SendStep("nudge", "email", "browse-1", null, null, MessageKind.Marketing, null),
            },
            "w", null, ReEntry.OnceAtATime, null, null, 0);
        var context = Context(journey);

        var (byEvent, _) = ConsentingVisitor("anon:a");
        Intake.Handle(byEvent, [Make.View("p", "shoes", T0)], T0, Settings, context);
        var carted = Intake.Handle(byEvent, [Cart(T0.AddMinutes(10))], T0.AddMinutes(10), Settings, context).ToAppend;
        Assert.Contains(carted, e => e is JourneyStepTaken { Outcome: "event", StepId: "thanks" });
        Assert.Equal("carted", byEvent.Attributes["browse_result"]);

        var (byTimeout, _) = ConsentingVisitor("anon:b");
        Intake.Handle(byTimeout, [Make.View("p", "shoes", T0)], T0, Settings, context);
        Assert.Equal(T0.AddHours(2), JourneyRunner.NextWakeUp(byTimeout));
        var timedOut = Intake.HandleWakeUp(byTimeout, T0.AddHours(2), Settings, context);
        Assert.Contains(timedOut, e => e is JourneyStepTaken { Outcome: "timeout", StepId: "nudge" });
        Assert.Equal("browse-1", Assert.Single(timedOut.OfType<MessageDecided>()).Template);

        // Views of another category do not enter.
        var (bags, _) = ConsentingVisitor("anon:c");
        Assert.DoesNotContain(Intake.Handle(bags, [Make.View("p", "bags", T0)], T0, Settings, context).ToAppend, e => e is JourneyEntered);
    }

    [Fact]
    public void Splits_and_holdouts_are_deterministic_per_visitor_and_spread_evenly()
    {
        var arms = new[] { new SplitArm("a", 50, "x"), new SplitArm("b", 50, "y") };
        var picks = Enumerable.Range(0, 10_000).Select(i => Holdout.Pick($"anon:{i}", "j:s", arms).Name).ToList();
        Assert.InRange(picks.Count(p => p == "a"), 4_700, 5_300);
        Assert.Equal(picks, Enumerable.Range(0, 10_000).Select(i => Holdout.Pick($"anon:{i}", "j:s", arms).Name));
        var heldOut = Enumerable.Range(0, 10_000).Count(i => Holdout.IsHeldOut($"anon:{i}", "j", 10));
        Assert.InRange(heldOut, 850, 1_150);
    }

    [Fact]
    public void A_segment_trigger_enters_on_entering_and_leaving_the_exit_segment_ends_the_passage()
    {
        var cartAbandoners = new SegmentDefinition("carted", "Carted", 1, SegmentKit.Rule("""{"lastEvent":{"event":"cart_item_added","withinHours":24}}"""));
        var journey = new JourneyDefinition("seg", "Seg", 1, new SegmentTrigger("carted", true), null,
            new Dictionary<string, JourneyStep> { ["w"] = new WaitStep("w", TimeSpan.FromDays(3), null) },
            "w", null, ReEntry.OnceAtATime, null, "carted", 0);
        var context = new SegmentContext([cartAbandoners], null) { Journeys = new JourneyContext([ActiveJourney.Of(journey)], NoQuietHours) };
        var (profile, _) = ConsentingVisitor();

        var entered = Intake.Handle(profile, [Cart(T0)], T0, Settings, context).ToAppend;
        Assert.Contains(entered, e => e is SegmentEntered);
        Assert.Contains(entered, e => e is JourneyEntered { Reason: "entered segment carted" });

        // 24 h later the segment is left by time alone: the wake-up ends the passage too.
        Assert.Equal(T0.AddHours(24), Intake.NextWakeUp(profile, T0.AddHours(1), Settings, context));
        var left = Intake.HandleWakeUp(profile, T0.AddHours(24), Settings, context);
        Assert.Contains(left, e => e is SegmentLeft);
        Assert.Contains(left, e => e is JourneyExited { Reason: "left_segment:carted" });
    }

    [Fact]
    public void A_wait_until_a_time_of_day_uses_the_visitors_time_zone()
    {
        var journey = new JourneyDefinition("morning", "Morning", 1, new EventTrigger(EventNames.CartItemAdded, null, null), null,
            new Dictionary<string, JourneyStep> { ["at9"] = new WaitUntilStep("at9", new TimeOnly(9, 0), [], null) },
            "at9", null, ReEntry.OnceAtATime, null, null, 0);
        var (profile, _) = ConsentingVisitor();
        profile.Apply(new AttributesUpdated(new Dictionary<string, string?> { ["timezone"] = "Europe/Madrid" }, "crm") { MessageId = "tz", EventTime = T0, ReceivedTime = T0 });
        // T0 is 2026-03-01 12:00 UTC = 13:00 in Madrid: the next 09:00 there is 08:00 UTC the next day.
        Intake.Handle(profile, [Cart(T0)], T0, Settings, Context(journey));
        Assert.Equal(new DateTimeOffset(2026, 3, 2, 8, 0, 0, TimeSpan.Zero), JourneyRunner.NextWakeUp(profile));
        // Across the spring change (29 March 2026), 09:00 in Madrid is 07:00 UTC.
        Assert.Equal(new DateTimeOffset(2026, 3, 29, 7, 0, 0, TimeSpan.Zero),
            LocalTime.NextAt(new DateTimeOffset(2026, 3, 28, 12, 0, 0, TimeSpan.Zero), new TimeOnly(9, 0), [], "Europe/Madrid"));
    }

    private static JourneyDefinition CartVersion(int version, string template, string waitId = "wait1") => AbandonedCart() with
    {
        Version = version,
        FirstStep = waitId,
        Steps = new Dictionary<string, JourneyStep>
        {
            [waitId] = new WaitStep(waitId, TimeSpan.FromHours(1), "send1"),
            ["send1"] = new SendStep("send1", "email", template, null, null, MessageKind.Marketing, null),
        },
    };

    private static SegmentContext Versions(bool moveInside, JourneyDefinition v1, JourneyDefinition v2) =>
        SegmentContext.None with
        {
            Journeys = new JourneyContext(
                [new ActiveJourney(v2, JourneyStatus.Active, new Dictionary<int, JourneyDefinition> { [1] = v1, [2] = v2 }) { MoveInside = moveInside }],
                NoQuietHours),
        };

    [Theory]
    [InlineData(false, "cart-v1")]
    [InlineData(true, "cart-v2")]
    public void Visitors_inside_stay_on_their_version_unless_the_marketer_moves_them_over(bool moveInside, string template)
    {
        var v1 = CartVersion(1, "cart-v1");
        var (profile, stream) = ConsentingVisitor();
        stream.AddRange(Intake.Handle(profile, [Cart(T0)], T0, Settings, Context(v1)).ToAppend);
        Assert.Equal(1, profile.Journeys["cart"].Version);

        var context = Versions(moveInside, v1, CartVersion(2, "cart-v2"));
        var woken = Intake.HandleWakeUp(profile, T0.AddHours(1), Settings, context);
        stream.AddRange(woken);

        Assert.Equal(template, Assert.Single(woken.OfType<MessageDecided>()).Template);
        Assert.Equal(moveInside, woken.Any(e => e is JourneyVersionChanged { FromVersion: 1, ToVersion: 2, StepId: "wait1" }));
        AssertReplayGivesTheSamePositions(profile, stream);
    }

    [Fact]
    public void A_visitor_moved_over_to_a_version_without_their_step_leaves()
    {
        var v1 = CartVersion(1, "cart-v1");
        var (profile, _) = ConsentingVisitor();
        Intake.Handle(profile, [Cart(T0)], T0, Settings, Context(v1));

        var woken = Intake.HandleWakeUp(profile, T0.AddHours(1), Settings, Versions(true, v1, CartVersion(2, "cart-v2", waitId: "pause")));

        Assert.Contains(woken, e => e is JourneyExited { Reason: "version_changed" });
        Assert.DoesNotContain(woken, e => e is MessageDecided);
        Assert.False(profile.Journeys["cart"].Inside);
    }
}
