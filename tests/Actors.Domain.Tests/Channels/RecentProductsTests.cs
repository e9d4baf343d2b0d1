using System.Reflection;
using System.Text.Json;
using Actors.Domain.Channels;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Domain.Tests.Channels;

/// <summary>What a message may show of the visitor's browsing: the products they viewed last, and what is popular in their categories.</summary>
public class RecentProductsTests
{
    private static readonly DateTimeOffset T0 = Make.T0;

    private static VisitorProfile Profile(params VisitorEvent[] events)
    {
        var profile = new VisitorProfile("p1");
        foreach (var e in events) profile.Apply(e);
        return profile;
    }

    private static CartItemAdded CartAdd(string sku, string category, DateTimeOffset at) =>
        new(sku, category, 1, 10m) { MessageId = Make.Id(), EventTime = at, ReceivedTime = at };

    private static string[] Skus(VisitorProfile profile) => [.. profile.RecentlyViewed.Select(v => v.Sku)];

    [Fact]
    public void Viewed_products_are_kept_newest_first_once_per_sku_and_at_most_five()
    {
        var profile = Profile(
            Make.View("a", "shoes", T0),
            Make.View("b", "shoes", T0.AddMinutes(1)),
            Make.View("c", "bags", T0.AddMinutes(2)),
            Make.View("a", "shoes", T0.AddMinutes(3)), // seen again: moves up, still once
            Make.View("d", null, T0.AddMinutes(4)),
            Make.View("e", "hats", T0.AddMinutes(5)),
            Make.View("f", "hats", T0.AddMinutes(6)));

        Assert.Equal(VisitorProfile.RecentlyViewedKept, profile.RecentlyViewed.Count);
        Assert.Equal(["f", "e", "d", "a", "c"], Skus(profile)); // b, the oldest, fell out
        Assert.Equal(new ViewedProduct("a", "shoes", T0.AddMinutes(3)), profile.RecentlyViewed[3]);
        Assert.Null(profile.RecentlyViewed[2].Category);
    }

    [Fact]
    public void A_late_view_lands_by_its_time_and_never_pushes_out_a_newer_one()
    {
        var profile = Profile(
            Make.View("a", "shoes", T0.AddHours(1)),
            Make.View("b", "shoes", T0.AddHours(3)),
            Make.View("c", "shoes", T0.AddHours(2)), // arrives late: between b and a
            Make.View("b", "shoes", T0)); // an older view of a kept sku changes nothing
        Assert.Equal(["b", "c", "a"], Skus(profile));
        Assert.Equal(T0.AddHours(3), profile.RecentlyViewed[0].ViewedAt);

        for (var i = 0; i < 2; i++) profile.Apply(Make.View($"n{i}", "bags", T0.AddHours(4 + i)));
        profile.Apply(Make.View("old", "bags", T0.AddMinutes(1))); // older than the whole full list: not kept
        Assert.Equal(["n1", "n0", "b", "c", "a"], Skus(profile));
    }

    [Fact]
    public void A_visitor_who_viewed_nothing_holds_no_list_and_a_kept_one_round_trips()
    {
        // Held by every active grain: a visitor who never viewed a product must not pay for an empty list.
        var field = typeof(VisitorProfile).GetField("_viewed", BindingFlags.NonPublic | BindingFlags.Instance)!;
        var none = JsonSerializer.Deserialize<VisitorProfile>(JsonSerializer.Serialize(Profile(CartAdd("a", "shoes", T0))))!;
        Assert.Null(field.GetValue(none));
        Assert.Empty(none.RecentlyViewed);

        var profile = Profile(Make.View("a", "shoes", T0), Make.View("b", null, T0.AddMinutes(1)));
        var copy = JsonSerializer.Deserialize<VisitorProfile>(JsonSerializer.Serialize(profile))!;
        Assert.Equal(profile.RecentlyViewed, copy.RecentlyViewed);
        Assert.NotNull(field.GetValue(copy));
    }

    [Fact]
    public void The_recipient_holds_recent_products_and_popular_products_of_their_categories_that_are_not_in_the_cart()
    {
        var tally = new PopularityTally(OnSiteSettings.Default);
        foreach (var (sku, category, views) in new[] { ("s1", "shoes", 9), ("s2", "shoes", 7), ("s3", "shoes", 5), ("tv", "tv", 50), ("h1", "hats", 3) })
            for (var i = 0; i < views; i++) tally.Add(sku, category, PopularityTally.ViewWeight, T0);
        var popular = tally.Snapshot(T0);

        var profile = Profile(Make.View("s9", "shoes", T0), Make.View("s8", "shoes", T0.AddMinutes(1)), CartAdd("s1", "shoes", T0.AddMinutes(2)));
        var recipient = MessageRecipient.From(profile, popular);

        Assert.Equal(["s8", "s9"], recipient.RecentProducts.Select(p => p.Sku));
        // Shoes first (the visitor's only category), s1 left out (in the cart), then the overall popular fill the row.
        Assert.Equal([("s2", "shoes", 7L), ("s3", "shoes", 5L), ("tv", "tv", 50L), ("h1", "hats", 3L)],
            recipient.Recommendations.Select(r => (r.Sku, r.Category, r.Score)));
        Assert.Equal(MessageRecipient.RecommendationsKept, recipient.Recommendations.Count);
        // One rule for the page and the message: the same answer as the on-site decision for the same limit.
        Assert.Equal(OnSiteDecisions.Recommend(profile, MessageRecipient.RecommendationsKept, popular), recipient.Recommendations);

        Assert.Empty(MessageRecipient.From(profile, PopularProducts.None).Recommendations);
    }
}
