using Actors.Domain.Channels;
using Actors.Domain.Journeys;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Domain.Tests.Channels;

public class OutboundMessageTests
{
    private static readonly DateTimeOffset T0 = Make.T0;

    private static MessageDecided Decided(string channel, MessageOutcome outcome, string key = "anon:v:j:1:s:1") =>
        new("j", 1, "s", 1, channel, "tpl", "offers", null, "Marketing", outcome, "sent", key, null) { MessageId = Make.Id(), EventTime = T0, ReceivedTime = T0 };

    [Fact]
    public void Only_sent_decisions_on_delivered_channels_go_to_the_outbox()
    {
        var profile = new VisitorProfile("anon:v");
        IReadOnlyList<VisitorEvent> events =
        [
            Decided("email", MessageOutcome.Sent, "k1"),
            Decided("email", MessageOutcome.Suppressed, "k2"),
            Decided("sms", MessageOutcome.Deferred, "k3"),
            Decided("web", MessageOutcome.Sent, "k4"), // on-site: shown from the grain, never through a provider
            Decided("webhook", MessageOutcome.Sent, "k5"),
            Make.View("sku", "shoes", T0),
        ];
        Assert.Equal(["k1", "k5"], OutboundMessage.Among(profile, events, PopularProducts.None).Select(m => m.MessageKey));
        Assert.Empty(OutboundMessage.Among(profile, [Make.View("sku", "shoes", T0)], PopularProducts.None));
    }

    [Fact]
    public void A_message_of_a_passage_a_marketers_trigger_started_is_bulk_and_one_the_visitors_behaviour_started_is_not()
    {
        var profile = new VisitorProfile("anon:v");
        profile.Apply(new JourneyEntered("j", 1, 1, false, "trigger t-1") { MessageId = Make.Id(), EventTime = T0, ReceivedTime = T0, TriggerId = "t-1", StepId = "s" });
        Assert.True(OutboundMessage.Among(profile, [Decided("email", MessageOutcome.Sent)], PopularProducts.None).Single().Bulk);

        // The next passage came from the visitor's own event: its messages are not bulk, though a trigger once let them in.
        profile.Apply(new JourneyExited("j", 1, 1, "completed") { MessageId = Make.Id(), EventTime = T0, ReceivedTime = T0 });
        profile.Apply(new JourneyEntered("j", 1, 2, false, "event cart_item_added") { MessageId = Make.Id(), EventTime = T0, ReceivedTime = T0, StepId = "s" });
        Assert.False(OutboundMessage.Among(profile, [Decided("email", MessageOutcome.Sent, "k2")], PopularProducts.None).Single().Bulk);
        Assert.True(profile.Journeys["j"].WasTriggeredBy("t-1"));
    }

    [Fact]
    public void The_recipient_is_the_profile_as_the_decision_saw_it()
    {
        var profile = new VisitorProfile("user:u1");
        profile.Apply(new Identified("u1", new Dictionary<string, string> { ["email"] = "ana@example.com", ["phone"] = "+34600000000", ["timezone"] = "Europe/Madrid" })
            { MessageId = Make.Id(), EventTime = T0, ReceivedTime = T0 });
        profile.Apply(new CartItemAdded("sku-9", "shoes", 2, 50m) { MessageId = Make.Id(), EventTime = T0, ReceivedTime = T0 });
        profile.Apply(Make.View("sku-1", "hats", T0));
        profile.Apply(Make.View("sku-2", "shoes", T0));
        profile.Apply(new PushSubscribed("https://push.example/a", "p256", "auth") { MessageId = Make.Id(), EventTime = T0, ReceivedTime = T0 });

        var m = OutboundMessage.For(profile, Decided("email", MessageOutcome.Sent, "user:u1:j:1:s:1"), PopularProducts.None);
        Assert.Equal(("user:u1:j:1:s:1", "user:u1", "email", "tpl", "j", "s"), (m.MessageKey, m.ProfileId, m.Channel, m.Template, m.JourneyId, m.StepId));
        var r = m.Recipient;
        Assert.Equal(("u1", "ana@example.com", "+34600000000", "Europe/Madrid"), (r.UserId, r.Email, r.Phone, r.TimeZone));
        Assert.Equal([new CartLine("sku-9", 2)], r.Cart);
        Assert.Equal(["shoes", "hats"], r.TopCategories); // a cart add weighs more than a view
        Assert.Equal("https://push.example/a", Assert.Single(r.PushSubscriptions).Endpoint);
    }

    [Fact]
    public void Push_subscriptions_are_kept_once_per_endpoint_newest_last_and_bounded()
    {
        var profile = new VisitorProfile("anon:v");
        for (var i = 0; i < VisitorProfile.PushSubscriptionsKept + 3; i++)
            profile.Apply(new PushSubscribed($"https://push.example/{i}", "p", "a") { MessageId = Make.Id(), EventTime = T0.AddMinutes(i), ReceivedTime = T0 });
        profile.Apply(new PushSubscribed("https://push.example/5", "p2", "a2") { MessageId = Make.Id(), EventTime = T0.AddHours(1), ReceivedTime = T0 });
        Assert.Equal(VisitorProfile.PushSubscriptionsKept, profile.PushSubscriptions.Count);
        Assert.Equal(("https://push.example/5", "p2"), (profile.PushSubscriptions[^1].Endpoint, profile.PushSubscriptions[^1].P256dh));
        Assert.DoesNotContain(profile.PushSubscriptions, s => s.Endpoint == "https://push.example/0");

        foreach (var s in profile.PushSubscriptions.ToList())
            profile.Apply(new PushUnsubscribed(s.Endpoint, "gone") { MessageId = Make.Id(), EventTime = T0.AddHours(2), ReceivedTime = T0 });
        Assert.Empty(profile.PushSubscriptions);
    }

    [Fact]
    public void Outcomes_are_counted_for_rules_but_are_no_visit_and_only_opens_and_clicks_are_the_visitors_own()
    {
        VisitorEvent sent = new MessageSent("k", "email", null, 1) { MessageId = "k:sent", EventTime = T0, ReceivedTime = T0 };
        VisitorEvent opened = new MessageOpened("k", "email") { MessageId = "k:opened", EventTime = T0.AddMinutes(1), ReceivedTime = T0 };
        Assert.True(sent.IsDerived); // our record: never carried in a merge
        Assert.False(opened.IsDerived);

        var profile = new VisitorProfile("anon:v");
        profile.Apply(Make.View("sku", null, T0));
        profile.Apply(sent);
        profile.Apply(opened);
        Assert.Equal(T0, profile.LastActivity); // an open does not bring a lapsed customer back
        Assert.Equal(1, profile.ActivityCount);
        Assert.Equal(1, profile.Counters.Total(EventNames.MessageSent));
        Assert.Equal(1, profile.Counters.Total(EventNames.MessageOpened));
    }
}

public class BouncedAddressTests
{
    private static readonly DateTimeOffset T0 = Make.T0;

    private static VisitorProfile WithEmail(string email)
    {
        var profile = new VisitorProfile("user:b");
        profile.Apply(new Identified("b", new Dictionary<string, string> { ["email"] = email }) { MessageId = Make.Id(), EventTime = T0, ReceivedTime = T0 });
        profile.Apply(new ConsentGiven("email", "marketing") { MessageId = Make.Id(), EventTime = T0, ReceivedTime = T0 });
        return profile;
    }

    private static readonly PolicySettings Policy = new() { QuietFrom = new TimeOnly(0, 0), QuietUntil = new TimeOnly(0, 0) };

    [Fact]
    public void After_a_permanent_bounce_no_email_goes_to_that_address_but_a_new_address_takes_mail_again()
    {
        var profile = WithEmail("gone@example.com");
        var email = new MessageRequest("email", null, null, MessageKind.Transactional);
        Assert.Equal(PolicyOutcome.Send, MessagePolicy.Decide(profile, email, T0, Policy).Outcome);

        profile.Apply(new MessageBounced("k", "email", "permanent_bounce: 550", Permanent: true) { MessageId = "k:bounced", EventTime = T0, ReceivedTime = T0 });
        Assert.Equal("gone@example.com", profile.BouncedEmail);
        var refused = MessagePolicy.Decide(profile, email, T0, Policy);
        Assert.Equal((PolicyOutcome.Suppress, "email_bounced"), (refused.Outcome, refused.Reason));
        // Other channels are not the address's business: an SMS answers only for its own (there is no phone number here).
        Assert.Equal("no_phone_number", MessagePolicy.Decide(profile, email with { Channel = "sms" }, T0, Policy).Reason);

        profile.Apply(new AttributesUpdated(new Dictionary<string, string?> { ["email"] = "new@example.com" }, "crm") { MessageId = Make.Id(), EventTime = T0, ReceivedTime = T0 });
        Assert.Equal(PolicyOutcome.Send, MessagePolicy.Decide(profile, email, T0, Policy).Outcome);
    }

    [Fact]
    public void A_temporary_bounce_or_another_channels_bounce_keeps_the_address()
    {
        var profile = WithEmail("full@example.com");
        profile.Apply(new MessageBounced("k1", "email", "mailbox full", Permanent: false) { MessageId = "k1:bounced", EventTime = T0, ReceivedTime = T0 });
        profile.Apply(new MessageBounced("k2", "sms", "unknown number", Permanent: true) { MessageId = "k2:bounced", EventTime = T0, ReceivedTime = T0 });
        Assert.Null(profile.BouncedEmail);
    }
}
