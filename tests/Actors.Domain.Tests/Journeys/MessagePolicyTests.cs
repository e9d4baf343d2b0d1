using Actors.Domain.Journeys;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Domain.Tests.Journeys;

public class MessagePolicyTests
{
    // A Sunday noon, UTC: outside the default quiet hours (21:00–08:00) in UTC and in Madrid.
    private static readonly DateTimeOffset T0 = Make.T0;
    private static readonly TimeSpan Tick = TimeSpan.FromTicks(1);
    private static readonly PolicySettings Defaults = PolicySettings.Default;
    private static readonly PolicySettings NoQuiet = new() { QuietFrom = new(0, 0), QuietUntil = new(0, 0) };

    private static readonly MessageRequest Email = new("email", null, null, MessageKind.Marketing);
    private static readonly MessageRequest Receipt = new("email", null, null, MessageKind.Transactional);

    // ---- building profiles ----

    private static T At<T>(T e, DateTimeOffset at) where T : VisitorEvent => e with { MessageId = Make.Id(), EventTime = at, ReceivedTime = at };

    /// <summary>A reachable visitor (an address on every channel, see <see cref="Make.Reachable"/>) after these events.</summary>
    private static VisitorProfile Profile(params VisitorEvent[] events)
    {
        var profile = Make.Reachable("p1");
        foreach (var e in events) profile.Apply(e);
        return profile;
    }

    private static ConsentGiven Consent(string channel, string purpose, DateTimeOffset at) =>
        At(new ConsentGiven(channel, purpose) { MessageId = "", EventTime = at, ReceivedTime = at }, at);

    private static ConsentWithdrawn Withdraw(string channel, string purpose, DateTimeOffset at) =>
        At(new ConsentWithdrawn(channel, purpose) { MessageId = "", EventTime = at, ReceivedTime = at }, at);

    private static NewsletterUnsubscribed Unsubscribe(DateTimeOffset at) =>
        At(new NewsletterUnsubscribed("too many", "email") { MessageId = "", EventTime = at, ReceivedTime = at }, at);

    private static PreferencesUpdated Prefs(DateTimeOffset at, string[]? topics = null, string[]? contentTypes = null,
        string? frequency = null, DateTimeOffset? pausedUntil = null, bool clearPause = false) =>
        At(new PreferencesUpdated(topics, contentTypes, frequency, pausedUntil, clearPause) { MessageId = "", EventTime = at, ReceivedTime = at }, at);

    private static AttributesUpdated TimeZone(string? zone, DateTimeOffset at) =>
        At(new AttributesUpdated(new Dictionary<string, string?> { [MessagePolicy.TimeZoneAttribute] = zone }, "crm") { MessageId = "", EventTime = at, ReceivedTime = at }, at);

    private static MessageDecided Sent(DateTimeOffset at, string channel = "email", MessageKind kind = MessageKind.Marketing, string? topic = null) =>
        At(new MessageDecided("j1", 1, "s1", 1, channel, "t1", topic, null, kind.ToString(), MessageOutcome.Sent, "allowed", Make.Id(), null)
            { MessageId = "", EventTime = at, ReceivedTime = at }, at);

    /// <summary>A visitor who consented to marketing and transactional messages on every channel the tests use.</summary>
    private static VisitorProfile Consenting(params VisitorEvent[] more) =>
        Profile([.. Channels.SelectMany(c => new[] { Consent(c, "marketing", T0.AddDays(-100)), Consent(c, "transactional", T0.AddDays(-100)) }), .. more]);

    private static readonly string[] Channels = ["email", "sms", "push"];

    private static void AssertSend(PolicyDecision d)
    {
        Assert.Equal(PolicyOutcome.Send, d.Outcome);
        Assert.Equal("allowed", d.Reason);
        Assert.Null(d.NotBefore);
    }

    private static void AssertSuppressed(string reason, PolicyDecision d)
    {
        Assert.Equal(PolicyOutcome.Suppress, d.Outcome);
        Assert.Equal(reason, d.Reason);
        Assert.Null(d.NotBefore);
    }

    private static void AssertDeferred(DateTimeOffset notBefore, PolicyDecision d)
    {
        Assert.Equal(PolicyOutcome.Defer, d.Outcome);
        Assert.Equal("quiet_hours", d.Reason);
        Assert.Equal(notBefore, d.NotBefore);
    }

    private static DateTimeOffset Utc(int y, int mo, int d, int h, int mi = 0) => new(y, mo, d, h, mi, 0, TimeSpan.Zero);

    // ---- 1. consent ----

    [Fact]
    public void An_empty_profile_gets_no_marketing_but_its_receipts()
    {
        var empty = Make.Reachable("p0");
        AssertSuppressed("no_consent:email:marketing", MessagePolicy.Decide(empty, Email, T0, Defaults));
        AssertSend(MessagePolicy.Decide(empty, Receipt, T0, Defaults));
    }

    [Fact]
    public void Marketing_needs_consent_for_its_own_channel_and_purpose()
    {
        var profile = Profile(Consent("sms", "marketing", T0.AddDays(-1)), Consent("email", "transactional", T0.AddDays(-1)));
        AssertSuppressed("no_consent:email:marketing", MessagePolicy.Decide(profile, Email, T0, Defaults));
        AssertSend(MessagePolicy.Decide(profile, Email with { Channel = "sms" }, T0, Defaults));
    }

    [Fact]
    public void Consent_keys_are_case_insensitive_and_the_reason_names_the_lowercase_key()
    {
        var profile = Profile(Consent("Email", "Marketing", T0.AddDays(-1)));
        AssertSend(MessagePolicy.Decide(profile, Email with { Channel = "EMAIL" }, T0, Defaults));
        AssertSuppressed("no_consent:sms:marketing", MessagePolicy.Decide(profile, Email with { Channel = "SMS" }, T0, Defaults));
    }

    [Fact]
    public void A_withdrawn_marketing_consent_is_told_apart_from_one_never_given_and_giving_it_again_restores_it()
    {
        var withdrawn = Profile(Consent("email", "marketing", T0.AddDays(-3)), Withdraw("email", "marketing", T0.AddDays(-2)));
        AssertSuppressed("consent_withdrawn:email:marketing", MessagePolicy.Decide(withdrawn, Email, T0, Defaults));

        withdrawn.Apply(Consent("email", "marketing", T0.AddDays(-1)));
        AssertSend(MessagePolicy.Decide(withdrawn, Email, T0, Defaults));
        Assert.Empty(withdrawn.WithdrawnConsents);
    }

    [Fact]
    public void Transactional_needs_no_opt_in_by_default_but_a_withdrawn_transactional_consent_blocks_it()
    {
        AssertSend(MessagePolicy.Decide(Profile(), Receipt, T0, Defaults));

        var withdrawn = Profile(Consent("email", "transactional", T0.AddDays(-2)), Withdraw("email", "transactional", T0.AddDays(-1)));
        AssertSuppressed("consent_withdrawn:email:transactional", MessagePolicy.Decide(withdrawn, Receipt, T0, Defaults));
        // Withdrawal is per channel.
        AssertSend(MessagePolicy.Decide(withdrawn, Receipt with { Channel = "sms" }, T0, Defaults));
    }

    [Fact]
    public void Withdrawals_survive_a_snapshot_round_trip()
    {
        var profile = Profile(Consent("email", "transactional", T0.AddDays(-2)), Withdraw("email", "transactional", T0.AddDays(-1)));
        var restored = System.Text.Json.JsonSerializer.Deserialize<VisitorProfile>(System.Text.Json.JsonSerializer.Serialize(profile))!;
        Assert.Equal(T0.AddDays(-1), restored.WithdrawnConsents["email:transactional"]);
        AssertSuppressed("consent_withdrawn:email:transactional", MessagePolicy.Decide(restored, Receipt, T0, Defaults));
    }

    [Fact]
    public void Withdrawing_marketing_leaves_transactional_messages_alone()
    {
        var profile = Profile(Consent("email", "marketing", T0.AddDays(-2)), Withdraw("email", "marketing", T0.AddDays(-1)));
        AssertSend(MessagePolicy.Decide(profile, Receipt, T0, Defaults));
    }

    [Fact]
    public void A_shop_can_require_explicit_transactional_consent()
    {
        var strict = Defaults with { TransactionalNeedsConsent = true };
        AssertSuppressed("no_consent:email:transactional", MessagePolicy.Decide(Profile(), Receipt, T0, strict));
        AssertSuppressed("no_consent:email:transactional",
            MessagePolicy.Decide(Profile(Consent("email", "marketing", T0.AddDays(-1))), Receipt, T0, strict)); // marketing is not enough
        AssertSend(MessagePolicy.Decide(Profile(Consent("email", "transactional", T0.AddDays(-1))), Receipt, T0, strict));
    }

    [Fact]
    public void Transactional_bypasses_preferences_pause_frequency_cap_and_quiet_hours()
    {
        var profile = Consenting(
            Prefs(T0.AddDays(-10), topics: ["shoes"], contentTypes: ["video"], frequency: "monthly", pausedUntil: T0.AddDays(30)),
            Sent(T0.AddHours(-3)), Sent(T0.AddHours(-2)), Sent(T0.AddHours(-1)));
        var nightly = Utc(2026, 3, 1, 23);
        var order = new MessageRequest("email", "orders", "text", MessageKind.Transactional);
        AssertSend(MessagePolicy.Decide(profile, order, nightly, Defaults with { MarketingCap = 1 }));
        // The same as marketing is stopped (by the first rule that objects).
        AssertSuppressed("topic_not_wanted:orders", MessagePolicy.Decide(profile, order with { Kind = MessageKind.Marketing }, nightly, Defaults));
    }

    [Fact]
    public void Transactional_never_bypasses_consent_not_even_at_night_with_everything_else_in_its_favour()
    {
        var profile = Profile(Consent("sms", "transactional", T0.AddDays(-2)), Withdraw("sms", "transactional", T0.AddDays(-1)));
        AssertSuppressed("consent_withdrawn:sms:transactional",
            MessagePolicy.Decide(profile, Receipt with { Channel = "sms" }, Utc(2026, 3, 1, 23), NoQuiet with { MarketingCap = 0 }));
    }

    [Fact]
    public void An_unsubscribed_newsletter_blocks_marketing_email_only()
    {
        var profile = Consenting(Make.Newsletter(T0.AddDays(-50)), Unsubscribe(T0.AddDays(-1)));
        AssertSuppressed("newsletter_unsubscribed", MessagePolicy.Decide(profile, Email, T0, Defaults));
        AssertSuppressed("newsletter_unsubscribed", MessagePolicy.Decide(profile, Email with { Channel = "Email" }, T0, Defaults));
        AssertSend(MessagePolicy.Decide(profile, Email with { Channel = "sms" }, T0, Defaults));
        AssertSend(MessagePolicy.Decide(profile, Receipt, T0, Defaults));
    }

    [Fact]
    public void A_consent_given_after_unsubscribing_opts_in_again_and_a_tie_blocks()
    {
        var later = Profile(Unsubscribe(T0.AddDays(-2)), Consent("email", "marketing", T0.AddDays(-1)));
        AssertSend(MessagePolicy.Decide(later, Email, T0, Defaults));

        var tie = Profile(Consent("email", "marketing", T0.AddDays(-1)), Unsubscribe(T0.AddDays(-1)));
        AssertSuppressed("newsletter_unsubscribed", MessagePolicy.Decide(tie, Email, T0, Defaults));

        var resubscribed = Profile(Consent("email", "marketing", T0.AddDays(-3)), Unsubscribe(T0.AddDays(-2)), Make.Newsletter(T0.AddDays(-1)));
        AssertSend(MessagePolicy.Decide(resubscribed, Email, T0, Defaults));
    }

    [Fact]
    public void Never_subscribing_to_the_newsletter_does_not_block_a_consented_email()
    {
        AssertSend(MessagePolicy.Decide(Profile(Consent("email", "marketing", T0.AddDays(-1))), Email, T0, Defaults));
    }

    // ---- 1b. an address on the channel ----

    [Theory]
    [InlineData("email", "no_email_address")]
    [InlineData("sms", "no_phone_number")]
    [InlineData("push", "no_push_subscription")]
    public void A_channel_with_no_address_for_the_visitor_is_suppressed_with_the_providers_reason_receipts_too(string channel, string reason)
    {
        var nowhere = new VisitorProfile("p2");
        foreach (var c in Channels)
            foreach (var purpose in new[] { "marketing", "transactional" })
                nowhere.Apply(Consent(c, purpose, T0.AddDays(-1)));
        // A blank attribute is no address either (the message's recipient is read the same way).
        nowhere.Apply(At(new AttributesUpdated(new Dictionary<string, string?> { ["email"] = "  ", ["phone"] = "" }, "crm") { MessageId = "", EventTime = T0, ReceivedTime = T0 }, T0.AddHours(-1)));
        AssertSuppressed(reason, MessagePolicy.Decide(nowhere, Email with { Channel = channel }, T0, NoQuiet));
        AssertSuppressed(reason, MessagePolicy.Decide(nowhere, Receipt with { Channel = channel }, T0, NoQuiet));
        // Consent is asked first: one reason, the first rule's.
        AssertSuppressed($"no_consent:{channel}:marketing", MessagePolicy.Decide(new VisitorProfile("p3"), Email with { Channel = channel }, T0, NoQuiet));
        // Channels that address the shop's own endpoint or page need nothing of the visitor.
        AssertSend(MessagePolicy.Decide(nowhere, Receipt with { Channel = "webhook" }, T0, NoQuiet));
    }

    [Fact]
    public void An_address_given_later_makes_the_visitor_reachable_and_one_removed_unreachable_again()
    {
        var profile = new VisitorProfile("p4");
        profile.Apply(Consent("email", "marketing", T0.AddDays(-2)));
        AssertSuppressed("no_email_address", MessagePolicy.Decide(profile, Email, T0, NoQuiet));
        profile.Apply(At(new AttributesUpdated(new Dictionary<string, string?> { ["email"] = "ana@example.test" }, "crm") { MessageId = "", EventTime = T0, ReceivedTime = T0 }, T0.AddDays(-1)));
        AssertSend(MessagePolicy.Decide(profile, Email, T0, NoQuiet));
        profile.Apply(At(new AttributesUpdated(new Dictionary<string, string?> { ["email"] = null }, "crm") { MessageId = "", EventTime = T0, ReceivedTime = T0 }, T0.AddHours(-1)));
        AssertSuppressed("no_email_address", MessagePolicy.Decide(profile, Email, T0, NoQuiet));
    }

    // ---- 2. topics and content types ----

    [Fact]
    public void A_topic_the_visitor_did_not_choose_is_suppressed_with_its_name()
    {
        var profile = Consenting(Prefs(T0.AddDays(-1), topics: ["Shoes", "sale"]));
        AssertSuppressed("topic_not_wanted:bags", MessagePolicy.Decide(profile, Email with { Topic = "bags" }, T0, Defaults));
        AssertSend(MessagePolicy.Decide(profile, Email with { Topic = "shoes" }, T0, Defaults));
        AssertSend(MessagePolicy.Decide(profile, Email with { Topic = "SALE" }, T0, Defaults));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    public void A_message_without_a_topic_or_content_type_suits_everyone(string? none)
    {
        var profile = Consenting(Prefs(T0.AddDays(-1), topics: ["shoes"], contentTypes: ["video"]));
        AssertSend(MessagePolicy.Decide(profile, Email with { Topic = none, ContentType = none }, T0, Defaults));
    }

    [Fact]
    public void A_visitor_who_chose_no_topics_or_content_types_gets_any()
    {
        AssertSend(MessagePolicy.Decide(Consenting(), Email with { Topic = "bags", ContentType = "video" }, T0, Defaults));
        AssertSend(MessagePolicy.Decide(Consenting(Prefs(T0, topics: [], contentTypes: [])), Email with { Topic = "bags", ContentType = "video" }, T0, Defaults));
    }

    [Fact]
    public void A_content_type_the_visitor_did_not_choose_is_suppressed_after_topics_are_checked()
    {
        var profile = Consenting(Prefs(T0.AddDays(-1), topics: ["shoes"], contentTypes: ["Text"]));
        AssertSuppressed("content_type_not_wanted:video", MessagePolicy.Decide(profile, Email with { Topic = "shoes", ContentType = "video" }, T0, Defaults));
        AssertSuppressed("topic_not_wanted:bags", MessagePolicy.Decide(profile, Email with { Topic = "bags", ContentType = "video" }, T0, Defaults));
        AssertSend(MessagePolicy.Decide(profile, Email with { Topic = "shoes", ContentType = "text" }, T0, Defaults));
    }

    // ---- 3. pause ----

    [Fact]
    public void A_pause_in_the_future_suppresses_marketing_with_its_end_in_utc()
    {
        var until = new DateTimeOffset(2026, 3, 10, 1, 0, 0, TimeSpan.FromHours(1));
        var profile = Consenting(Prefs(T0.AddDays(-1), pausedUntil: until));
        AssertSuppressed("paused_until:2026-03-10T00:00:00Z", MessagePolicy.Decide(profile, Email, T0, Defaults));
        AssertSuppressed("paused_until:2026-03-10T00:00:00Z", MessagePolicy.Decide(profile, Email, until - Tick, Defaults));
    }

    [Fact]
    public void A_pause_ends_at_its_instant_and_a_cleared_pause_is_no_pause()
    {
        var until = T0.AddDays(9);
        var profile = Consenting(Prefs(T0.AddDays(-1), pausedUntil: until));
        AssertSend(MessagePolicy.Decide(profile, Email, until, Defaults));
        AssertSend(MessagePolicy.Decide(profile, Email, until.AddDays(1), Defaults));

        profile.Apply(Prefs(T0, clearPause: true));
        AssertSend(MessagePolicy.Decide(profile, Email, T0, Defaults));
    }

    [Fact]
    public void A_pause_keeps_sub_second_precision_in_its_reason()
    {
        var profile = Consenting(Prefs(T0.AddDays(-1), pausedUntil: T0.AddDays(1).AddTicks(1_234_500)));
        AssertSuppressed("paused_until:2026-03-02T12:00:00.12345Z", MessagePolicy.Decide(profile, Email, T0, Defaults));
    }

    // ---- 4. frequency ----

    [Theory]
    [InlineData("daily", 1, "daily")]
    [InlineData("weekly", 7, "weekly")]
    [InlineData("Weekly", 7, "weekly")]
    [InlineData(" WEEKLY ", 7, "weekly")]
    [InlineData("every_two_weeks", 14, "every_two_weeks")]
    [InlineData("biweekly", 14, "every_two_weeks")]
    [InlineData("monthly", 30, "monthly")]
    public void One_marketing_message_per_chosen_interval_and_the_next_from_exactly_one_interval_on(string frequency, int days, string reason)
    {
        var last = T0.AddDays(-days);
        var profile = Consenting(Prefs(T0.AddDays(-60), frequency: frequency), Sent(last.AddDays(-1)), Sent(last));
        AssertSend(MessagePolicy.Decide(profile, Email, T0, NoQuiet));
        AssertSuppressed("frequency:" + reason, MessagePolicy.Decide(profile, Email, T0 - Tick, NoQuiet));
        AssertSuppressed("frequency:" + reason, MessagePolicy.Decide(profile, Email, last, NoQuiet));
    }

    [Theory]
    [InlineData("hourly")]
    [InlineData("never")]
    [InlineData("")]
    public void A_frequency_the_policy_does_not_know_sets_no_limit_of_its_own(string frequency)
    {
        var profile = Consenting(Prefs(T0.AddDays(-60), frequency: frequency), Sent(T0.AddMinutes(-1)));
        AssertSend(MessagePolicy.Decide(profile, Email, T0, NoQuiet));
    }

    [Fact]
    public void Frequency_counts_marketing_on_every_channel_but_not_transactional_messages()
    {
        var profile = Consenting(Prefs(T0.AddDays(-60), frequency: "weekly"), Sent(T0.AddHours(-1), kind: MessageKind.Transactional));
        AssertSend(MessagePolicy.Decide(profile, Email, T0, NoQuiet));

        profile.Apply(Sent(T0.AddHours(-1), channel: "sms"));
        AssertSuppressed("frequency:weekly", MessagePolicy.Decide(profile, Email, T0, NoQuiet));
    }

    [Fact]
    public void Frequency_uses_the_latest_send_by_time_not_by_arrival()
    {
        var profile = Consenting(Prefs(T0.AddDays(-60), frequency: "weekly"), Sent(T0.AddDays(-1)), Sent(T0.AddDays(-20)));
        AssertSuppressed("frequency:weekly", MessagePolicy.Decide(profile, Email, T0, NoQuiet));
    }

    [Fact]
    public void Suppressed_and_deferred_decisions_do_not_count_as_sends()
    {
        var profile = Consenting(Prefs(T0.AddDays(-60), frequency: "daily"));
        profile.Apply(Sent(T0.AddHours(-1)) with { Outcome = MessageOutcome.Suppressed, Reason = "cap:3_per_7d" });
        profile.Apply(Sent(T0.AddHours(-1)) with { Outcome = MessageOutcome.Deferred, Reason = "quiet_hours", NotBefore = T0 });
        AssertSend(MessagePolicy.Decide(profile, Email, T0, NoQuiet with { MarketingCap = 1 }));
    }

    // ---- 5. cap ----

    [Fact]
    public void The_cap_counts_marketing_across_channels_in_its_window()
    {
        var profile = Consenting(Sent(T0.AddDays(-6), "email"), Sent(T0.AddDays(-3), "sms"), Sent(T0.AddHours(-1), kind: MessageKind.Transactional));
        AssertSend(MessagePolicy.Decide(profile, Email, T0, NoQuiet));

        profile.Apply(Sent(T0.AddDays(-1), "push"));
        AssertSuppressed("cap:3_per_7d", MessagePolicy.Decide(profile, Email, T0, NoQuiet));
        AssertSuppressed("cap:3_per_7d", MessagePolicy.Decide(profile, Email with { Channel = "sms" }, T0, NoQuiet));
    }

    [Fact]
    public void A_message_sent_exactly_one_window_ago_has_left_the_window_one_a_tick_later_has_not()
    {
        var oldest = T0.AddDays(-7);
        var profile = Consenting(Sent(oldest), Sent(T0.AddDays(-2)), Sent(T0.AddDays(-1)));
        AssertSend(MessagePolicy.Decide(profile, Email, T0, NoQuiet));
        AssertSuppressed("cap:3_per_7d", MessagePolicy.Decide(profile, Email, T0 - Tick, NoQuiet));
    }

    [Fact]
    public void A_cap_of_zero_or_an_empty_window_is_no_cap()
    {
        var profile = Consenting(Sent(T0.AddHours(-3)), Sent(T0.AddHours(-2)), Sent(T0.AddHours(-1)));
        AssertSend(MessagePolicy.Decide(profile, Email, T0, NoQuiet with { MarketingCap = 0 }));
        AssertSend(MessagePolicy.Decide(profile, Email, T0, NoQuiet with { MarketingCap = -1 }));
        AssertSend(MessagePolicy.Decide(profile, Email, T0, NoQuiet with { CapWindow = TimeSpan.Zero }));
    }

    [Theory]
    [InlineData(7 * TimeSpan.TicksPerDay, "cap:1_per_7d")]
    [InlineData(12 * TimeSpan.TicksPerHour, "cap:1_per_12h")]
    [InlineData(90 * TimeSpan.TicksPerMinute, "cap:1_per_90m")]
    [InlineData(45 * TimeSpan.TicksPerSecond, "cap:1_per_45s")]
    [InlineData(1500 * TimeSpan.TicksPerMillisecond, "cap:1_per_1500ms")]
    [InlineData(12345L, "cap:1_per_12345ticks")]
    public void The_cap_reason_names_the_window_in_its_largest_whole_unit(long windowTicks, string reason)
    {
        var profile = Consenting(Sent(T0 - Tick));
        AssertSuppressed(reason, MessagePolicy.Decide(profile, Email, T0, NoQuiet with { MarketingCap = 1, CapWindow = TimeSpan.FromTicks(windowTicks) }));
    }

    // ---- 6. quiet hours ----

    [Fact]
    public void At_night_in_utc_marketing_waits_for_the_morning()
    {
        var profile = Consenting();
        AssertDeferred(Utc(2026, 3, 2, 8), MessagePolicy.Decide(profile, Email, Utc(2026, 3, 1, 22), Defaults));
        AssertDeferred(Utc(2026, 3, 2, 8), MessagePolicy.Decide(profile, Email, Utc(2026, 3, 2, 0), Defaults));
        AssertDeferred(Utc(2026, 3, 2, 8), MessagePolicy.Decide(profile, Email, Utc(2026, 3, 2, 8) - Tick, Defaults));
    }

    [Fact]
    public void Quiet_hours_start_at_their_start_and_end_at_their_end()
    {
        var profile = Consenting();
        AssertSend(MessagePolicy.Decide(profile, Email, Utc(2026, 3, 1, 21) - Tick, Defaults));
        AssertDeferred(Utc(2026, 3, 2, 8), MessagePolicy.Decide(profile, Email, Utc(2026, 3, 1, 21), Defaults));
        AssertSend(MessagePolicy.Decide(profile, Email, Utc(2026, 3, 2, 8), Defaults));
    }

    [Fact]
    public void Quiet_hours_that_do_not_wrap_midnight_defer_to_the_same_day()
    {
        var lunch = Defaults with { QuietFrom = new(13, 0), QuietUntil = new(14, 30) };
        var profile = Consenting();
        AssertSend(MessagePolicy.Decide(profile, Email, Utc(2026, 3, 1, 12, 59), lunch));
        AssertDeferred(Utc(2026, 3, 1, 14, 30), MessagePolicy.Decide(profile, Email, Utc(2026, 3, 1, 13, 0), lunch));
        AssertSend(MessagePolicy.Decide(profile, Email, Utc(2026, 3, 1, 14, 30), lunch));
        AssertSend(MessagePolicy.Decide(profile, Email, Utc(2026, 3, 1, 23, 0), lunch));
    }

    [Fact]
    public void Equal_start_and_end_means_no_quiet_hours()
    {
        var none = Defaults with { QuietFrom = new(22, 0), QuietUntil = new(22, 0) };
        for (var h = 0; h < 24; h++) AssertSend(MessagePolicy.Decide(Consenting(), Email, T0.AddHours(h), none));
    }

    [Fact]
    public void Quiet_hours_are_the_visitors_own()
    {
        var madrid = Consenting(TimeZone("Europe/Madrid", T0.AddDays(-1)));
        // 20:30 UTC is 21:30 in Madrid (CET, +1): deferred to 08:00 there, 07:00 UTC.
        AssertDeferred(Utc(2026, 3, 2, 7), MessagePolicy.Decide(madrid, Email, Utc(2026, 3, 1, 20, 30), Defaults));
        // 07:30 UTC is quiet in UTC, but 08:30 in Madrid.
        AssertSend(MessagePolicy.Decide(madrid, Email, Utc(2026, 3, 2, 7, 30), Defaults));
        AssertDeferred(Utc(2026, 3, 2, 8), MessagePolicy.Decide(Consenting(), Email, Utc(2026, 3, 2, 7, 30), Defaults));
    }

    [Theory]
    [InlineData("Mars/Olympus_Mons")]
    [InlineData("")]
    [InlineData("../../etc/passwd")]
    [InlineData("Europe/Madrid\u0001")]
    [InlineData(null)]
    public void An_unknown_or_missing_time_zone_falls_back_to_the_shops_default(string? zone)
    {
        var profile = Consenting(TimeZone(zone, T0.AddDays(-1)));
        var newYork = Defaults with { DefaultTimeZone = "America/New_York" };
        Assert.Equal("America/New_York", MessagePolicy.TimeZoneOf(profile, newYork).Id);
        // 02:00 UTC is 21:00 in New York (EST, -5): deferred to 08:00 there, 13:00 UTC.
        AssertDeferred(Utc(2026, 3, 2, 13), MessagePolicy.Decide(profile, Email, Utc(2026, 3, 2, 2), newYork));
    }

    [Fact]
    public void An_unknown_default_falls_back_to_utc_and_a_padded_id_is_trimmed()
    {
        var broken = Defaults with { DefaultTimeZone = "Nowhere/Else" };
        Assert.Equal(TimeSpan.Zero, MessagePolicy.TimeZoneOf(Consenting(), broken).BaseUtcOffset);
        AssertDeferred(Utc(2026, 3, 2, 8), MessagePolicy.Decide(Consenting(), Email, Utc(2026, 3, 1, 22), broken));
        Assert.Equal("Europe/Madrid", MessagePolicy.TimeZoneOf(Consenting(TimeZone(" Europe/Madrid ", T0)), broken).Id);
    }

    [Fact]
    public void Spring_forward_in_madrid_the_morning_is_an_hour_earlier_in_utc()
    {
        var madrid = Consenting(TimeZone("Europe/Madrid", T0));
        // Saturday 22:00 CET (+1); on Sunday 2026-03-29 clocks go from 02:00 to 03:00; 08:00 CEST (+2) is 06:00 UTC.
        AssertDeferred(Utc(2026, 3, 29, 6), MessagePolicy.Decide(madrid, Email, Utc(2026, 3, 28, 21), Defaults));
        AssertDeferred(Utc(2026, 3, 29, 6), MessagePolicy.Decide(madrid, Email, Utc(2026, 3, 29, 1, 30), Defaults)); // after the jump
        AssertSend(MessagePolicy.Decide(madrid, Email, Utc(2026, 3, 29, 6), Defaults));
    }

    [Fact]
    public void Fall_back_in_madrid_the_morning_is_an_hour_later_in_utc()
    {
        var madrid = Consenting(TimeZone("Europe/Madrid", T0));
        // Saturday 22:00 CEST (+2); on Sunday 2026-10-25 clocks go from 03:00 back to 02:00; 08:00 CET (+1) is 07:00 UTC.
        AssertDeferred(Utc(2026, 10, 25, 7), MessagePolicy.Decide(madrid, Email, Utc(2026, 10, 24, 20), Defaults));
        AssertDeferred(Utc(2026, 10, 25, 7), MessagePolicy.Decide(madrid, Email, Utc(2026, 10, 25, 1, 30), Defaults)); // the repeated hour
        AssertSend(MessagePolicy.Decide(madrid, Email, Utc(2026, 10, 25, 7), Defaults));
    }

    [Fact]
    public void An_end_the_clock_jumps_over_defers_to_the_jump_itself()
    {
        var madrid = Consenting(TimeZone("Europe/Madrid", T0));
        var early = Defaults with { QuietFrom = new(1, 0), QuietUntil = new(2, 30) };
        // 02:30 does not exist on 2026-03-29: at 01:00 UTC the clock reads 03:00 CEST, the first moment past the end.
        AssertDeferred(Utc(2026, 3, 29, 1), MessagePolicy.Decide(madrid, Email, Utc(2026, 3, 29, 0, 15), early));
        AssertSend(MessagePolicy.Decide(madrid, Email, Utc(2026, 3, 29, 1), early));
    }

    [Fact]
    public void An_end_the_clock_reads_twice_defers_to_the_next_reading_after_now()
    {
        var madrid = Consenting(TimeZone("Europe/Madrid", T0));
        var early = Defaults with { QuietFrom = new(1, 0), QuietUntil = new(2, 30) };
        // 02:30 happens twice on 2026-10-25: at 00:30 UTC (CEST) and at 01:30 UTC (CET).
        AssertDeferred(Utc(2026, 10, 25, 0, 30), MessagePolicy.Decide(madrid, Email, Utc(2026, 10, 24, 23, 30), early)); // 01:30 CEST
        AssertDeferred(Utc(2026, 10, 25, 1, 30), MessagePolicy.Decide(madrid, Email, Utc(2026, 10, 25, 1, 15), early)); // 02:15 CET, again
        AssertSend(MessagePolicy.Decide(madrid, Email, Utc(2026, 10, 25, 0, 45), early)); // 02:45 CEST
    }

    public static TheoryData<string, int, int, int, int> DstSweeps => new()
    {
        { "Europe/Madrid", 3, 21, 8, 0 }, { "Europe/Madrid", 10, 21, 8, 0 },
        { "Europe/Madrid", 3, 1, 2, 30 }, { "Europe/Madrid", 10, 1, 2, 30 },
        { "Europe/Madrid", 3, 2, 3, 0 }, { "Europe/Madrid", 10, 2, 3, 0 },
        { "America/New_York", 3, 1, 3, 0 }, { "America/New_York", 11, 0, 2, 30 },
        { "Australia/Lord_Howe", 4, 1, 2, 15 }, { "Australia/Lord_Howe", 10, 1, 2, 15 }, // half-hour DST
    };

    [Theory]
    [MemberData(nameof(DstSweeps))]
    public void Across_dst_changes_a_deferral_is_the_first_moment_the_policy_lets_the_message_go(string zone, int month, int fromHour, int untilHour, int untilMinute)
    {
        var profile = Consenting(TimeZone(zone, T0));
        var settings = Defaults with { QuietFrom = new(fromHour, 0), QuietUntil = new(untilHour, untilMinute) };
        var start = new DateTimeOffset(2026, month, 1, 0, 0, 0, TimeSpan.Zero);
        for (var now = start; now < start.AddMonths(1); now = now.AddMinutes(7))
        {
            var decision = MessagePolicy.Decide(profile, Email, now, settings);
            if (decision.Outcome == PolicyOutcome.Send) continue;
            Assert.Equal(PolicyOutcome.Defer, decision.Outcome);
            var notBefore = decision.NotBefore!.Value;
            Assert.True(notBefore > now, $"{now:o} deferred to {notBefore:o}");
            Assert.True(notBefore - now <= TimeSpan.FromHours(25), $"{now:o} deferred to {notBefore:o}");
            AssertSend(MessagePolicy.Decide(profile, Email, notBefore, settings));
            Assert.Equal(PolicyOutcome.Defer, MessagePolicy.Decide(profile, Email, notBefore - Tick, settings).Outcome);
        }
    }

    // ---- the order of the rules ----

    [Fact]
    public void The_first_rule_that_objects_gives_the_reason()
    {
        var night = Utc(2026, 3, 1, 23);
        var message = new MessageRequest("email", "bags", "video", MessageKind.Marketing);
        var profile = Profile(
            Prefs(T0.AddDays(-30), topics: ["shoes"], contentTypes: ["text"], frequency: "weekly", pausedUntil: night.AddDays(1)),
            Sent(night.AddDays(-6)), Sent(night.AddDays(-5)), Sent(night.AddDays(-4)));

        AssertSuppressed("no_consent:email:marketing", MessagePolicy.Decide(profile, message, night, Defaults));
        profile.Apply(Consent("email", "marketing", T0.AddDays(-30)));
        AssertSuppressed("topic_not_wanted:bags", MessagePolicy.Decide(profile, message, night, Defaults));
        message = message with { Topic = "shoes" };
        AssertSuppressed("content_type_not_wanted:video", MessagePolicy.Decide(profile, message, night, Defaults));
        message = message with { ContentType = "text" };
        AssertSuppressed("paused_until:2026-03-02T23:00:00Z", MessagePolicy.Decide(profile, message, night, Defaults));
        profile.Apply(Prefs(T0, clearPause: true));
        AssertSuppressed("frequency:weekly", MessagePolicy.Decide(profile, message, night, Defaults));
        profile.Apply(Prefs(T0, frequency: "none"));
        AssertSuppressed("cap:3_per_7d", MessagePolicy.Decide(profile, message, night, Defaults));
        var settings = Defaults with { MarketingCap = 4 };
        AssertDeferred(Utc(2026, 3, 2, 8), MessagePolicy.Decide(profile, message, night, settings));
        AssertSend(MessagePolicy.Decide(profile, message, Utc(2026, 3, 2, 8), settings));
    }

    // ---- a burst ----

    [Fact]
    public void A_burst_at_night_is_deferred_together_and_then_capped_one_send_at_a_time()
    {
        var profile = Consenting();
        var night = Utc(2026, 3, 1, 23);
        var morning = Utc(2026, 3, 2, 8);
        var burst = Enumerable.Range(0, 5).Select(i => Email with { Channel = Channels[i % Channels.Length] }).ToList();

        for (var i = 0; i < burst.Count; i++) AssertDeferred(morning, MessagePolicy.Decide(profile, burst[i], night.AddMinutes(i), Defaults));
        AssertSend(MessagePolicy.Decide(profile, Receipt, night, Defaults)); // a receipt in the middle goes at once

        // In the morning the grain asks again for each, recording every send before the next decision.
        var outcomes = new List<string>();
        foreach (var m in burst)
        {
            var d = MessagePolicy.Decide(profile, m, morning, Defaults);
            outcomes.Add(d.Reason);
            if (d.Outcome == PolicyOutcome.Send) profile.Apply(Sent(morning, m.Channel));
        }
        Assert.Equal(new[] { "allowed", "allowed", "allowed", "cap:3_per_7d", "cap:3_per_7d" }, outcomes);
    }

    [Fact]
    public void A_burst_for_a_weekly_reader_sends_one()
    {
        var profile = Consenting(Prefs(T0, frequency: "weekly"));
        var morning = Utc(2026, 3, 2, 8);
        var outcomes = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var d = MessagePolicy.Decide(profile, Email, morning, Defaults);
            outcomes.Add(d.Reason);
            if (d.Outcome == PolicyOutcome.Send) profile.Apply(Sent(morning));
        }
        Assert.Equal(new[] { "allowed", "frequency:weekly", "frequency:weekly", "frequency:weekly" }, outcomes);
    }

    // ---- the calendar's edges ----

    public static TheoryData<string> Zones => new() { "UTC", "Europe/Madrid", "Pacific/Kiritimati", "Etc/GMT+12", "America/St_Johns", "Asia/Kathmandu" };

    [Theory]
    [MemberData(nameof(Zones))]
    public void Times_at_the_calendars_edges_never_throw(string zone)
    {
        DateTimeOffset[] times =
        [
            DateTimeOffset.MinValue, DateTimeOffset.MinValue.AddHours(7), DateTimeOffset.MinValue.AddHours(22),
            DateTimeOffset.MaxValue.AddHours(-30), DateTimeOffset.MaxValue.AddHours(-2), DateTimeOffset.MaxValue,
        ];
        var profile = Consenting(TimeZone(zone, T0), Prefs(T0, frequency: "monthly", pausedUntil: DateTimeOffset.MinValue),
            Sent(DateTimeOffset.MinValue), Sent(DateTimeOffset.MaxValue, channel: "sms"));
        PolicySettings[] settings =
        [
            Defaults, Defaults with { CapWindow = TimeSpan.MaxValue }, Defaults with { CapWindow = TimeSpan.MinValue },
            Defaults with { QuietFrom = new(0, 0), QuietUntil = TimeOnly.MaxValue },
            Defaults with { QuietFrom = TimeOnly.MaxValue, QuietUntil = new(0, 0) },
        ];
        foreach (var now in times)
        foreach (var s in settings)
        foreach (var kind in new[] { MessageKind.Marketing, MessageKind.Transactional })
        {
            var d = MessagePolicy.Decide(profile, Email with { Kind = kind }, now, s);
            if (d.Outcome == PolicyOutcome.Defer) Assert.True(d.NotBefore >= now);
            var empty = MessagePolicy.Decide(new VisitorProfile("p0"), Email with { Kind = kind }, now, s);
            Assert.NotEqual(PolicyOutcome.Defer, empty.Outcome);
        }
    }

    [Fact]
    public void At_the_end_of_the_calendar_quiet_hours_defer_to_its_last_moment()
    {
        AssertDeferred(DateTimeOffset.MaxValue, MessagePolicy.Decide(Consenting(), Email, DateTimeOffset.MaxValue.AddHours(-1), Defaults));
        AssertDeferred(DateTimeOffset.MaxValue, MessagePolicy.Decide(Consenting(TimeZone("Pacific/Kiritimati", T0)), Email, DateTimeOffset.MaxValue.AddHours(-12), Defaults));
    }

    [Fact]
    public void Extreme_pauses_and_sends_saturate()
    {
        var paused = Consenting(Prefs(T0, pausedUntil: DateTimeOffset.MaxValue));
        AssertSuppressed("paused_until:9999-12-31T23:59:59.9999999Z", MessagePolicy.Decide(paused, Email, T0, Defaults));

        // A send stamped at the end of the calendar: last + a week saturates instead of throwing, and suppresses until then.
        var late = Consenting(Prefs(T0, frequency: "weekly"), Sent(DateTimeOffset.MaxValue));
        AssertSuppressed("frequency:weekly", MessagePolicy.Decide(late, Email, DateTimeOffset.MaxValue.AddDays(-1), NoQuiet));
        AssertSend(MessagePolicy.Decide(late, Email, DateTimeOffset.MaxValue, NoQuiet)); // the saturated end is its own instant
        // A window reaching past the calendar's start counts everything after it.
        AssertSuppressed("cap:1_per_10675199d", MessagePolicy.Decide(Consenting(Sent(DateTimeOffset.MinValue.AddDays(1))), Email, DateTimeOffset.MaxValue,
            NoQuiet with { MarketingCap = 1, CapWindow = TimeSpan.FromDays(10_675_199) }));
    }

    [Fact]
    public void Null_arguments_are_refused()
    {
        Assert.Throws<ArgumentNullException>(() => MessagePolicy.Decide(null!, Email, T0, Defaults));
        Assert.Throws<ArgumentNullException>(() => MessagePolicy.Decide(Consenting(), null!, T0, Defaults));
        Assert.Throws<ArgumentNullException>(() => MessagePolicy.Decide(Consenting(), Email, T0, null!));
    }

    [Fact]
    public void A_send_decision_is_shared_and_equal_to_the_contracts_send()
    {
        var d = MessagePolicy.Decide(Consenting(), Email, T0, Defaults);
        Assert.Equal(PolicyDecision.Send(), d);
        Assert.Same(d, MessagePolicy.Decide(Consenting(), Receipt, T0, Defaults));
    }
}
