using Actors.Domain.Channels;
using Actors.Domain.Journeys;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Domain.Tests.Channels;

/// <summary>
/// The preference centre's and the unsubscribe landing's choices, applied to a real profile and judged by the real
/// message policy: what each choice records, and that it has the effect the page promises.
/// </summary>
public class PreferenceChoicesTests
{
    private static readonly DateTimeOffset T0 = Make.T0;
    private static readonly PolicySettings NoQuiet = new() { QuietFrom = new(0, 0), QuietUntil = new(0, 0), MarketingCap = 0 };
    private static readonly string[] Offered = ["shoes", "bags", "sale"];
    private static readonly string[] Kinds = ["offers", "news"];

    private static T At<T>(T e, DateTimeOffset at) where T : VisitorEvent => e with { MessageId = Make.Id(), EventTime = at, ReceivedTime = at };

    /// <summary>A subscriber who consented to email, chose two topics and is not paused.</summary>
    private static VisitorProfile Subscriber()
    {
        var profile = Make.Reachable("p1");
        profile.Apply(At(new ConsentGiven("email", "marketing") { MessageId = "", EventTime = T0, ReceivedTime = T0 }, T0));
        profile.Apply(Make.Newsletter(T0));
        profile.Apply(At(new PreferencesUpdated(["shoes", "bags"], null, "weekly", null, false) { MessageId = "", EventTime = T0, ReceivedTime = T0 }, T0));
        return profile;
    }

    private static void Apply(VisitorProfile profile, PreferenceOutcome outcome)
    {
        Assert.Null(outcome.Error);
        foreach (var e in outcome.Events) profile.Apply(e);
    }

    private static PolicyDecision Email(VisitorProfile profile, DateTimeOffset now, string? topic = null) =>
        MessagePolicy.Decide(profile, new MessageRequest("email", topic, null, MessageKind.Marketing), now, NoQuiet);

    private static PreferenceForm Form(VisitorProfile profile, string[]? topics = null, string? frequency = null, string? pause = null,
        bool? newsletter = null, string[]? consents = null) => new(
        topics ?? [.. profile.Preferences.Topics], [.. Kinds], frequency, pause, newsletter ?? profile.IsNewsletterSubscriber,
        consents ?? [.. PreferenceChoices.Channels.Where(c => profile.Consents.ContainsKey(c + ":marketing"))]);

    [Fact]
    public void Unticking_a_topic_choosing_monthly_and_pausing_90_days_is_one_preferences_update_and_the_policy_then_suppresses()
    {
        var profile = Subscriber();
        var now = T0.AddHours(1);
        Assert.Equal(PolicyOutcome.Send, Email(profile, now, "bags").Outcome);

        var outcome = PreferenceChoices.Save(ProfileView.From(profile), Form(profile, topics: ["bags"], frequency: "monthly", pause: "90"),
            Offered, Kinds, now, "pc:t:n1");

        var update = Assert.IsType<PreferencesUpdated>(Assert.Single(outcome.Events));
        Assert.Equal(["bags"], update.Topics);
        Assert.Null(update.ContentTypes); // all kinds ticked, as the visitor had none: unchanged
        Assert.Equal("monthly", update.Frequency);
        Assert.Equal(now.AddDays(90), update.PausedUntil);
        Assert.Equal("pc:t:n1:preferences", update.MessageId);

        Apply(profile, outcome);
        Assert.Equal(["bags"], profile.Preferences.Topics);
        var decision = Email(profile, now.AddDays(89), "bags");
        Assert.Equal(PolicyOutcome.Suppress, decision.Outcome);
        Assert.StartsWith("paused_until:", decision.Reason);
        Assert.Equal("topic_not_wanted:shoes", Email(profile, now.AddDays(91), "shoes").Reason);
        Assert.Equal(PolicyOutcome.Send, Email(profile, now.AddDays(91), "bags").Outcome);
    }

    [Fact]
    public void Saving_what_the_visitor_already_has_records_nothing()
    {
        var profile = Subscriber();
        var view = ProfileView.From(profile);
        Assert.Empty(PreferenceChoices.Save(view, Form(profile, frequency: "weekly"), Offered, Kinds, T0, "pc:t:n").Events);

        // No topics chosen means all of them: the page shows all ticked, and sending them all back changes nothing.
        var fresh = Make.Reachable("p2");
        fresh.Apply(Make.Newsletter(T0));
        Assert.Empty(PreferenceChoices.Save(ProfileView.From(fresh), Form(fresh, topics: Offered), Offered, Kinds, T0, "pc:t:n").Events);
    }

    [Fact]
    public void No_topic_ticked_is_refused_rather_than_read_as_every_topic()
    {
        var profile = Subscriber();
        var outcome = PreferenceChoices.Save(ProfileView.From(profile), Form(profile, topics: []), Offered, Kinds, T0, "pc:t:n");
        Assert.NotNull(outcome.Error);
        Assert.Empty(outcome.Events);
    }

    [Fact]
    public void Consent_per_channel_and_the_newsletter_change_only_where_they_differ()
    {
        var profile = Subscriber();
        var outcome = PreferenceChoices.Save(ProfileView.From(profile), Form(profile, newsletter: false, consents: ["sms"]), Offered, Kinds, T0, "pc:t:n");
        Assert.Collection(outcome.Events,
            e => Assert.Equal(PreferenceChoices.PreferenceCentreSource, Assert.IsType<NewsletterUnsubscribed>(e).Source),
            e => Assert.Equal(("email", "marketing"), (Assert.IsType<ConsentWithdrawn>(e).Channel, ((ConsentWithdrawn)e).Purpose)),
            e => Assert.Equal(("sms", "marketing"), (Assert.IsType<ConsentGiven>(e).Channel, ((ConsentGiven)e).Purpose)));
        Apply(profile, outcome);
        Assert.Equal("consent_withdrawn:email:marketing", Email(profile, T0.AddHours(1)).Reason);
    }

    [Fact]
    public void The_same_page_submitted_twice_makes_the_same_message_ids()
    {
        var profile = Subscriber();
        var view = ProfileView.From(profile);
        var form = Form(profile, pause: "30");
        var first = PreferenceChoices.Save(view, form, Offered, Kinds, T0, "pc:t:n1");
        var second = PreferenceChoices.Save(view, form, Offered, Kinds, T0.AddSeconds(1), "pc:t:n1");
        Assert.Equal(first.Events.Select(e => e.MessageId), second.Events.Select(e => e.MessageId));
        Apply(profile, first);
        Assert.All(second.Events, e => Assert.True(profile.HasSeen(e.MessageId)));
    }

    [Fact]
    public void The_landing_unsubscribe_then_restore_takes_the_visitor_out_and_back()
    {
        var profile = Subscriber();
        profile.Apply(At(new PreferencesUpdated(null, null, null, T0.AddDays(60), false) { MessageId = "", EventTime = T0, ReceivedTime = T0 }, T0));

        var unsubscribe = PreferenceChoices.Unsubscribe("email", T0.AddHours(1), "mu:t:n1");
        Assert.Equal(PreferenceChoices.LandingSource, Assert.IsType<NewsletterUnsubscribed>(unsubscribe.Events[0]).Source);
        Assert.IsType<ConsentWithdrawn>(unsubscribe.Events[1]);
        Apply(profile, unsubscribe);
        Assert.False(profile.IsNewsletterSubscriber);
        Assert.Equal("consent_withdrawn:email:marketing", Email(profile, T0.AddHours(2)).Reason);

        var restore = PreferenceChoices.Restore(ProfileView.From(profile), "email", T0.AddHours(2), "mu:t:n2");
        Assert.True(Assert.IsType<PreferencesUpdated>(restore.Events[0]).ClearPause);
        Assert.IsType<NewsletterSubscribed>(restore.Events[1]);
        Assert.IsType<ConsentGiven>(restore.Events[2]);
        Apply(profile, restore);
        Assert.Null(profile.Preferences.PausedUntil);
        Assert.True(profile.IsNewsletterSubscriber);
        Assert.Equal(PolicyOutcome.Send, Email(profile, T0.AddHours(3), "shoes").Outcome);
    }

    [Fact]
    public void Restore_subscribes_no_one_who_never_was_and_gives_no_consent_that_was_never_withdrawn()
    {
        var profile = Make.Reachable("p3");
        profile.Apply(Make.View("sku-1", null, T0));
        var restore = PreferenceChoices.Restore(ProfileView.From(profile), "email", T0, "mu:t:n");
        Assert.IsType<PreferencesUpdated>(Assert.Single(restore.Events));
    }

    [Fact]
    public void One_click_withdraws_once_and_a_repeat_adds_nothing()
    {
        var profile = Subscriber();
        var first = PreferenceChoices.OneClick(ProfileView.From(profile), "email", T0.AddHours(1), "oc:t:5");
        Assert.Collection(first.Events,
            e => Assert.Equal("email", Assert.IsType<ConsentWithdrawn>(e).Channel),
            e => Assert.Equal(PreferenceChoices.OneClickSource, Assert.IsType<NewsletterUnsubscribed>(e).Source));
        Apply(profile, first);
        Assert.Empty(PreferenceChoices.OneClick(ProfileView.From(profile), "email", T0.AddHours(2), "oc:t:7").Events);

        // An SMS link withdraws the SMS consent and leaves the newsletter alone.
        var sms = PreferenceChoices.OneClick(ProfileView.From(Subscriber()), "sms", T0, "oc:t:5");
        Assert.Equal("sms", Assert.IsType<ConsentWithdrawn>(Assert.Single(sms.Events)).Channel);
    }

    [Fact]
    public void Unsubscribe_from_everything_withdraws_every_given_consent()
    {
        var profile = Subscriber();
        profile.Apply(At(new ConsentGiven("push", "marketing") { MessageId = "", EventTime = T0, ReceivedTime = T0 }, T0));
        var outcome = PreferenceChoices.UnsubscribeAll(ProfileView.From(profile), T0.AddHours(1), "pc:t:n");
        Apply(profile, outcome);
        Assert.Empty(profile.Consents);
        Assert.False(profile.IsNewsletterSubscriber);
        Assert.Equal(["email:marketing", "push:marketing"], ProfileView.From(profile).WithdrawnConsents);
    }

    [Fact]
    public void Offered_values_are_the_shops_then_the_visitors_own_once_each()
    {
        Assert.Equal(["shoes", "bags", "Vintage"], PreferenceChoices.Offered(["shoes", "bags", " "], ["Bags", "Vintage"]));
        Assert.Equal("sms", PreferenceChoices.ChannelOf("SMS"));
        Assert.Equal("email", PreferenceChoices.ChannelOf("webhook"));
        Assert.Equal("email", PreferenceChoices.ChannelOf(null));
    }
}
