using Actors.Domain.Journeys;
using Actors.Domain.Lifecycle;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Domain.Tests.Journeys;

/// <summary>A marketer's trigger per visitor: retried, it enters no one twice; a new trigger may enter them again.</summary>
public class JourneyTriggerRunnerTests
{
    private static readonly DateTimeOffset T0 = Make.T0;
    private static readonly PolicySettings NoQuietHours = new() { QuietFrom = new TimeOnly(0, 0), QuietUntil = new TimeOnly(0, 0), MarketingCap = 10 };

    /// <summary>A manual journey that sets an attribute and ends at once: the passage is over when the trigger returns.</summary>
    private static JourneyDefinition Instant(int holdout = 0, ReEntry reEntry = ReEntry.OnceAtATime) => new(
        "promo", "Promo", 1, new ManualTrigger(), null,
        new Dictionary<string, JourneyStep> { ["set"] = new SetAttributeStep("set", "promo", "yes", null) },
        "set", null, reEntry, null, null, holdout);

    private static JourneyDefinition Waiting() => new(
        "promo", "Promo", 1, new ManualTrigger(), null,
        new Dictionary<string, JourneyStep> { ["w"] = new WaitStep("w", TimeSpan.FromDays(3), null) },
        "w", null, ReEntry.OnceAtATime, null, null, 0);

    private static JourneyContext Context(JourneyDefinition journey) => new([ActiveJourney.Of(journey)], NoQuietHours);

    private static (VisitorProfile Profile, List<VisitorEvent> Stream) Visitor(string id = "anon:t1")
    {
        var profile = new VisitorProfile(id);
        var stream = new List<VisitorEvent>(Intake.Handle(profile, [Make.View("sku-0", null, T0)], T0, LifecycleSettings.Default).ToAppend);
        return (profile, stream);
    }

    private static string Trigger(VisitorProfile profile, List<VisitorEvent> stream, JourneyContext context, string triggerId, DateTimeOffset at)
    {
        var toAppend = new List<VisitorEvent>();
        var outcome = JourneyRunner.Trigger(profile, "promo", triggerId, context, at, toAppend);
        stream.AddRange(toAppend);
        return outcome;
    }

    [Fact]
    public void A_retried_trigger_enters_no_one_twice_even_after_the_passage_ended_and_many_events_later()
    {
        var context = Context(Instant());
        var (profile, stream) = Visitor();

        Assert.Equal("entered", Trigger(profile, stream, context, "t-1", T0.AddMinutes(1)));
        Assert.Contains(stream, e => e is JourneyEntered { TriggerId: "t-1", Occurrence: 1 });
        Assert.False(profile.Journeys["promo"].Inside); // the passage ended at once

        // Far more events than the message-id dedupe remembers (256) come between.
        for (var i = 0; i < 300; i++)
        {
            var at = T0.AddMinutes(2 + i);
            stream.AddRange(Intake.Handle(profile, [Make.View($"sku-{i}", null, at)], at, LifecycleSettings.Default).ToAppend);
        }

        var retried = new List<VisitorEvent>();
        Assert.Equal("already_triggered", JourneyRunner.Trigger(profile, "promo", "t-1", context, T0.AddDays(1), retried));
        Assert.Empty(retried);
        Assert.Equal(1, profile.Journeys["promo"].Occurrence);
    }

    [Fact]
    public void Another_trigger_enters_the_visitor_again_once_the_passage_ended()
    {
        var context = Context(Instant());
        var (profile, stream) = Visitor();

        Assert.Equal("entered", Trigger(profile, stream, context, "t-1", T0.AddMinutes(1)));
        Assert.Equal("entered", Trigger(profile, stream, context, "t-2", T0.AddMinutes(2)));
        Assert.Equal("already_triggered", Trigger(profile, stream, context, "t-1", T0.AddMinutes(3)));
        Assert.Equal("already_triggered", Trigger(profile, stream, context, "t-2", T0.AddMinutes(3)));
        Assert.Equal(2, stream.OfType<JourneyEntered>().Count());
        Assert.Equal(["t-1", "t-2"], profile.Journeys["promo"].Triggers!);
    }

    [Fact]
    public void A_trigger_retried_while_inside_is_already_triggered_and_another_is_already_inside()
    {
        var context = Context(Waiting());
        var (profile, stream) = Visitor();

        Assert.Equal("entered", Trigger(profile, stream, context, "t-1", T0.AddMinutes(1)));
        Assert.Equal("already_triggered", Trigger(profile, stream, context, "t-1", T0.AddMinutes(2)));
        Assert.Equal("already_inside", Trigger(profile, stream, context, "t-2", T0.AddMinutes(2)));
        Assert.Single(stream.OfType<JourneyEntered>());
    }

    [Fact]
    public void A_held_out_visitor_retried_is_already_triggered()
    {
        var context = Context(Instant(holdout: 100));
        var (profile, stream) = Visitor();

        Assert.Equal("held_out", Trigger(profile, stream, context, "t-1", T0.AddMinutes(1)));
        Assert.Equal("already_triggered", Trigger(profile, stream, context, "t-1", T0.AddMinutes(2)));
    }

    [Fact]
    public void Not_eligible_visitors_are_not_recorded_as_triggered()
    {
        var context = Context(Instant(reEntry: ReEntry.OnceEver));
        var (profile, stream) = Visitor();

        Assert.Equal("entered", Trigger(profile, stream, context, "t-1", T0.AddMinutes(1)));
        Assert.Equal("not_eligible:once_ever", Trigger(profile, stream, context, "t-2", T0.AddMinutes(2)));
        Assert.Equal(["t-1"], profile.Journeys["promo"].Triggers!);
        Assert.Equal("not_eligible:unknown_journey",
            JourneyRunner.Trigger(profile, "nope", "t-3", context, T0.AddMinutes(3), []));
    }

    [Fact]
    public void The_triggers_replay_from_the_stream_and_the_latest_are_kept()
    {
        var context = Context(Instant());
        var (profile, stream) = Visitor();
        for (var i = 0; i < JourneyPosition.TriggersKept + 1; i++)
            Assert.Equal("entered", Trigger(profile, stream, context, $"t-{i}", T0.AddMinutes(1 + i)));

        var triggers = profile.Journeys["promo"].Triggers!;
        Assert.Equal(JourneyPosition.TriggersKept, triggers.Count);
        Assert.DoesNotContain("t-0", triggers); // the oldest is forgotten: see JourneyPosition.Triggers
        Assert.Equal($"t-{JourneyPosition.TriggersKept}", triggers[^1]);

        var replayed = ProfileFold.Fold("anon:t1", stream);
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(profile.Journeys), System.Text.Json.JsonSerializer.Serialize(replayed.Journeys));

        // A snapshot (the profile as JSON) keeps them, and a retry on the restored profile still enters nobody.
        var restored = System.Text.Json.JsonSerializer.Deserialize<VisitorProfile>(System.Text.Json.JsonSerializer.Serialize(profile))!;
        Assert.Equal(triggers, restored.Journeys["promo"].Triggers!);
        Assert.Equal("already_triggered", JourneyRunner.Trigger(restored, "promo", "t-1", context, T0.AddDays(1), []));

        // And through the stored form of the event (the JSON the stream holds).
        var entered = stream.OfType<JourneyEntered>().First();
        var json = System.Text.Json.JsonSerializer.Serialize<VisitorEvent>(entered);
        Assert.Equal("t-0", Assert.IsType<JourneyEntered>(System.Text.Json.JsonSerializer.Deserialize<VisitorEvent>(json)).TriggerId);
    }
}
