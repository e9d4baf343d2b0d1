using System.Text.Json;
using Actors.Domain.Channels;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Domain.Tests.Channels;

public class OnSiteDecisionsTests
{
    private static readonly DateTimeOffset T0 = Make.T0;
    private static readonly OnSiteSettings Settings = OnSiteSettings.Default;

    private static VisitorProfile Profile(params VisitorEvent[] events)
    {
        var profile = new VisitorProfile("p1");
        foreach (var e in events) profile.Apply(e);
        return profile;
    }

    private static T Ev<T>(T e, DateTimeOffset at) where T : VisitorEvent => e.At(at) with { MessageId = Make.Id() };

    private static MessageDecided WebMessage(string key, DateTimeOffset at, MessageOutcome outcome = MessageOutcome.Sent, string channel = "web") =>
        Ev(new MessageDecided("j1", 1, "show", 1, channel, "banner-1", null, null, "Marketing", outcome, "allowed", key, null)
            { MessageId = "", EventTime = at, ReceivedTime = at }, at);

    private static MessageOpened Opened(string key, DateTimeOffset at) => Ev(new MessageOpened(key, "web") { MessageId = "", EventTime = at, ReceivedTime = at }, at);
    private static MessageDismissed Dismissed(string key, DateTimeOffset at) => Ev(new MessageDismissed(key, "web") { MessageId = "", EventTime = at, ReceivedTime = at }, at);
    private static NewsletterUnsubscribed Unsubscribed(DateTimeOffset at) => Ev(new NewsletterUnsubscribed(null, null) { MessageId = "", EventTime = at, ReceivedTime = at }, at);
    private static Identified Identified(DateTimeOffset at) => Ev(new Identified("42", new Dictionary<string, string>()) { MessageId = "", EventTime = at, ReceivedTime = at }, at);
    private static CartItemAdded CartAdd(string sku, string category, DateTimeOffset at) => Ev(new CartItemAdded(sku, category, 1, 10m) { MessageId = "", EventTime = at, ReceivedTime = at }, at);

    private static OnSiteAnswer Decide(VisitorProfile profile, DateTimeOffset now, PopularProducts? popular = null, int limit = OnSiteDecisions.DefaultLimit) =>
        OnSiteDecisions.Decide(profile, "home", limit, now, popular ?? PopularProducts.None, Settings);

    private static PopularProducts Popular(params (string Sku, string Category, int Views)[] products)
    {
        var tally = new PopularityTally(Settings);
        foreach (var (sku, category, views) in products)
            for (var i = 0; i < views; i++) tally.Add(sku, category, PopularityTally.ViewWeight, T0);
        return tally.Snapshot(T0);
    }

    [Fact]
    public void A_sent_web_message_is_shown_until_it_expires()
    {
        var profile = Profile(WebMessage("k1", T0));
        var shown = Assert.IsType<OnSiteMessageDecision>(Decide(profile, T0.AddDays(6)).Decisions[0]);
        Assert.Equal(("k1", "j1", "banner-1"), (shown.MessageKey, shown.JourneyId, shown.Template));
        Assert.Equal(T0.AddDays(7), shown.ExpiresAt);
        Assert.DoesNotContain(Decide(profile, T0.AddDays(7)).Decisions, d => d is OnSiteMessageDecision);
    }

    [Fact]
    public void Suppressed_web_messages_and_other_channels_are_not_kept()
    {
        var profile = Profile(WebMessage("k1", T0, MessageOutcome.Suppressed), WebMessage("k2", T0, channel: "email"));
        Assert.Empty(profile.OnSiteMessages);
        Assert.DoesNotContain(Decide(profile, T0).Decisions, d => d is OnSiteMessageDecision);
    }

    [Fact]
    public void A_dismissed_message_is_gone_and_the_older_live_one_shows_again()
    {
        var profile = Profile(WebMessage("k1", T0), WebMessage("k2", T0.AddHours(1)));
        Assert.Equal("k2", Assert.IsType<OnSiteMessageDecision>(Decide(profile, T0.AddHours(2)).Decisions[0]).MessageKey);
        profile.Apply(Dismissed("k2", T0.AddHours(2)));
        Assert.Equal("k1", Assert.IsType<OnSiteMessageDecision>(Decide(profile, T0.AddHours(2)).Decisions[0]).MessageKey);
        profile.Apply(Dismissed("k1", T0.AddHours(2)));
        Assert.DoesNotContain(Decide(profile, T0.AddHours(2)).Decisions, d => d is OnSiteMessageDecision);
        Assert.Empty(profile.OnSiteMessages);
    }

    [Fact]
    public void The_first_show_is_named_once_and_not_after_the_impression_is_recorded()
    {
        var profile = Profile(WebMessage("k1", T0));
        Assert.Equal("k1", Decide(profile, T0).FirstShownMessageKey);
        profile.Apply(Opened("k1", T0.AddMinutes(1)));
        Assert.Null(Decide(profile, T0.AddMinutes(2)).FirstShownMessageKey);
        Assert.IsType<OnSiteMessageDecision>(Decide(profile, T0.AddMinutes(2)).Decisions[0]); // still shown, until dismissed
    }

    [Fact]
    public void At_most_the_newest_eight_messages_are_kept()
    {
        var profile = Profile([.. Enumerable.Range(0, 12).Select(i => WebMessage($"k{i}", T0.AddMinutes(i)))]);
        Assert.Equal(VisitorProfile.OnSiteMessagesKept, profile.OnSiteMessages.Count);
        Assert.Equal("k4", profile.OnSiteMessages[0].MessageKey);
    }

    [Fact]
    public void A_visitor_without_on_site_messages_holds_no_collection_and_a_stored_one_round_trips()
    {
        // Held by every active grain: a visitor never shown anything on-site must not pay for an empty list.
        var none = JsonSerializer.Deserialize<VisitorProfile>(JsonSerializer.Serialize(Profile(Make.View("s1", "shoes", T0))))!;
        var field = typeof(VisitorProfile).GetField("_onSite", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        Assert.Null(field.GetValue(none));
        var dismissedAll = Profile(WebMessage("k0", T0), Dismissed("k0", T0));
        Assert.Null(field.GetValue(dismissedAll));

        var profile = Profile(WebMessage("k1", T0), Opened("k1", T0));
        var copy = JsonSerializer.Deserialize<VisitorProfile>(JsonSerializer.Serialize(profile))!;
        Assert.Equal(profile.OnSiteMessages, copy.OnSiteMessages);
        Assert.True(copy.OnSiteMessages[0].Shown);
    }

    [Fact]
    public void An_anonymous_visitor_who_never_subscribed_gets_the_newsletter_popup()
    {
        Assert.Contains(Decide(Profile(Make.View("s1", "shoes", T0)), T0).Decisions, d => d is NewsletterPopupDecision);
        Assert.Contains(Decide(new VisitorProfile("fresh"), T0).Decisions, d => d is NewsletterPopupDecision);
    }

    [Fact]
    public void No_popup_after_subscribing_nor_for_a_known_customer()
    {
        Assert.DoesNotContain(Decide(Profile(Make.Newsletter(T0)), T0).Decisions, d => d is NewsletterPopupDecision);
        Assert.DoesNotContain(Decide(Profile(Identified(T0)), T0).Decisions, d => d is NewsletterPopupDecision);
        Assert.DoesNotContain(Decide(new VisitorProfile("user:42"), T0).Decisions, d => d is NewsletterPopupDecision); // known by its id alone
    }

    [Fact]
    public void No_popup_for_thirty_days_after_unsubscribing()
    {
        var profile = Profile(Make.Newsletter(T0), Unsubscribed(T0.AddDays(1)));
        Assert.DoesNotContain(Decide(profile, T0.AddDays(30)).Decisions, d => d is NewsletterPopupDecision);
        Assert.Contains(Decide(profile, T0.AddDays(31).AddSeconds(1)).Decisions, d => d is NewsletterPopupDecision);
    }

    [Fact]
    public void Recommendations_come_from_the_strongest_category_without_cart_items()
    {
        var popular = Popular(("boot", "shoes", 9), ("sneaker", "shoes", 7), ("sandal", "shoes", 5), ("clog", "shoes", 3), ("loafer", "shoes", 2),
            ("tv", "electronics", 50));
        var profile = Profile(Make.View("x", "shoes", T0), Make.View("y", "Shoes", T0), CartAdd("sneaker", "shoes", T0));
        var items = Assert.IsType<RecommendationsDecision>(Decide(profile, T0, popular).Decisions[^1]).Items;
        Assert.Equal(["boot", "sandal", "clog", "loafer"], items.Select(i => i.Sku));
        Assert.All(items, i => Assert.Equal("shoes", i.Category));
        Assert.Equal(9, items[0].Score);
    }

    [Fact]
    public void Two_interests_take_turns_and_the_overall_popular_fill_the_limit()
    {
        var popular = Popular(("boot", "shoes", 9), ("sneaker", "shoes", 7), ("hat", "hats", 4), ("tv", "electronics", 50));
        var profile = Profile(Make.View("x", "shoes", T0), Make.View("y", "shoes", T0), Make.View("z", "hats", T0));
        var items = Assert.IsType<RecommendationsDecision>(Decide(profile, T0, popular, limit: 4).Decisions[^1]).Items;
        Assert.Equal(["boot", "hat", "sneaker", "tv"], items.Select(i => i.Sku));
    }

    [Fact]
    public void A_visitor_with_no_affinity_gets_the_overall_popular_products_up_to_the_limit()
    {
        var popular = Popular(("boot", "shoes", 9), ("tv", "electronics", 50), ("hat", "hats", 4));
        var items = Assert.IsType<RecommendationsDecision>(Decide(new VisitorProfile("fresh"), T0, popular, limit: 2).Decisions[^1]).Items;
        Assert.Equal(["tv", "boot"], items.Select(i => i.Sku));
    }

    [Fact]
    public void Nothing_popular_means_no_recommendations()
    {
        Assert.DoesNotContain(Decide(Profile(Make.View("x", "shoes", T0)), T0).Decisions, d => d is RecommendationsDecision);
    }

    [Fact]
    public void Decisions_come_message_first_then_popup_then_recommendations()
    {
        var profile = Profile(WebMessage("k1", T0), Make.View("x", "shoes", T0));
        var decisions = Decide(profile, T0, Popular(("boot", "shoes", 2))).Decisions;
        Assert.Collection(decisions,
            d => Assert.IsType<OnSiteMessageDecision>(d),
            d => Assert.IsType<NewsletterPopupDecision>(d),
            d => Assert.IsType<RecommendationsDecision>(d));

        // Between silos the answer travels as JSON: each kind must come back as itself.
        var answer = Decide(profile, T0, Popular(("boot", "shoes", 2)));
        var copy = JsonSerializer.Deserialize<OnSiteAnswer>(JsonSerializer.Serialize(answer))!;
        Assert.Equal(["message", "newsletter_popup", "recommendations"],
            JsonDocument.Parse(JsonSerializer.Serialize(copy)).RootElement.GetProperty("Decisions").EnumerateArray().Select(d => d.GetProperty("type").GetString()));
        Assert.Equal("boot", Assert.IsType<RecommendationsDecision>(copy.Decisions[2]).Items[0].Sku);
        Assert.Equal("k1", copy.FirstShownMessageKey);
    }
}

public class PopularityTallyTests
{
    private static readonly DateTimeOffset T0 = Make.T0;

    [Fact]
    public void Views_cart_adds_and_orders_weigh_one_three_and_five()
    {
        var tally = new PopularityTally(OnSiteSettings.Default);
        tally.Add("a", "shoes", PopularityTally.ViewWeight, T0);
        tally.Add("a", "shoes", PopularityTally.CartAddWeight, T0);
        tally.Add("b", "shoes", PopularityTally.OrderWeight, T0);
        var snapshot = tally.Snapshot(T0);
        Assert.Equal([("b", 5L), ("a", 4L)], snapshot.In("SHOES").Select(p => (p.Sku, p.Score)));
        Assert.Equal(["b", "a"], snapshot.Overall.Select(p => p.Sku));
    }

    [Fact]
    public void Events_leave_the_popularity_when_they_leave_the_window()
    {
        var tally = new PopularityTally(OnSiteSettings.Default);
        tally.Add("old", "shoes", 1, T0);
        tally.Add("new", "shoes", 1, T0.AddDays(5));
        Assert.Equal(2, tally.Snapshot(T0.AddDays(5)).In("shoes").Count);
        var later = tally.Snapshot(T0.AddDays(9));
        Assert.Equal(["new"], later.In("shoes").Select(p => p.Sku));
        tally.Add("older", "shoes", 1, T0); // read late, but outside the window: not counted
        Assert.Equal(["new"], tally.Snapshot(T0.AddDays(9)).In("shoes").Select(p => p.Sku));
        Assert.Equal(0, tally.Snapshot(T0.AddDays(20)).CategoryCount);
    }

    [Fact]
    public void Memory_stays_bounded_however_many_products_and_categories_arrive()
    {
        var settings = OnSiteSettings.Default with { PopularMaxCategories = 10, PopularSkusPerBucket = 50, PopularTopPerCategory = 5 };
        var tally = new PopularityTally(settings);
        for (var i = 0; i < 20_000; i++) tally.Add($"sku{i}", $"cat{i % 100}", 1, T0);
        tally.Add("hit", "cat1", 1_000, T0);
        Assert.True(tally.Entries <= (settings.PopularMaxCategories + 1) * settings.PopularSkusPerBucket, $"{tally.Entries} entries");
        var snapshot = tally.Snapshot(T0);
        Assert.True(snapshot.CategoryCount <= settings.PopularMaxCategories + 1);
        Assert.Equal("hit", snapshot.In("cat1")[0].Sku); // a strong product survives the pruning
        Assert.All(new[] { snapshot.In("cat1"), snapshot.Overall }, l => Assert.True(l.Count <= 5));
    }
}
