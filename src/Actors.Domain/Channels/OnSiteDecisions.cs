using System.Text.Json.Serialization;
using Actors.Domain.Identity;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Domain.Channels;

/// <summary>The on-site channel's settings (section "Actors:OnSite").</summary>
public sealed record OnSiteSettings
{
    /// <summary>A journey's on-site message is shown until the visitor dismisses it, or this long after it was decided.</summary>
    public TimeSpan MessageLifetime { get; init; } = TimeSpan.FromDays(7);

    /// <summary>No newsletter popup for this long after the visitor unsubscribed.</summary>
    public TimeSpan PopupQuietAfterUnsubscribe { get; init; } = TimeSpan.FromDays(30);

    /// <summary>Popularity counts product events stored within this window.</summary>
    public TimeSpan PopularityWindow { get; init; } = TimeSpan.FromDays(7);

    /// <summary>How often the popularity refresher reads the events stored since its last read.</summary>
    public TimeSpan PopularityRefreshEvery { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Events read per query (one page); a refresh reads pages until it is at the head.</summary>
    public int PopularityPageSize { get; init; } = 5_000;

    /// <summary>At startup, at most this many of the latest events are read to fill the window (the cost of a start).</summary>
    public int PopularityStartupScan { get; init; } = 1_000_000;

    /// <summary>Products kept per category in the snapshot (above the largest limit, so cart items can be left out).</summary>
    public int PopularTopPerCategory { get; init; } = 40;

    public int PopularMaxCategories { get; init; } = 500;

    /// <summary>Products counted per category and time bucket before the weaker half is dropped.</summary>
    public int PopularSkusPerBucket { get; init; } = 200;

    /// <summary>A new instance each time: configuration binding writes into the instance it is given.</summary>
    public static OnSiteSettings Default => new();
}

/// <summary>One thing the page may show in a placement.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(OnSiteMessageDecision), "message")]
[JsonDerivedType(typeof(NewsletterPopupDecision), "newsletter_popup")]
[JsonDerivedType(typeof(RecommendationsDecision), "recommendations")]
public abstract record OnSiteDecision;

/// <summary>A journey's on-site message (the template names what to render); dismissed by its message key.</summary>
public sealed record OnSiteMessageDecision(string MessageKey, string JourneyId, string Template, DateTimeOffset DecidedAt, DateTimeOffset ExpiresAt) : OnSiteDecision;

/// <summary>Invite an anonymous visitor who has not subscribed to the newsletter.</summary>
public sealed record NewsletterPopupDecision : OnSiteDecision;

public sealed record RecommendationsDecision(IReadOnlyList<RecommendedProduct> Items) : OnSiteDecision;

public sealed record RecommendedProduct(string Sku, string? Category, long Score);

/// <summary>
/// What to show in a placement, most important first; <see cref="FirstShownMessageKey"/> names the message that this
/// answer shows for the first time (the caller records the impression), null when none.
/// </summary>
public sealed record OnSiteAnswer(string Placement, IReadOnlyList<OnSiteDecision> Decisions, string? FirstShownMessageKey);

/// <summary>
/// What a page should show a visitor now, from the profile alone (no I/O): a journey's live on-site message, the
/// newsletter popup for anonymous visitors who have not subscribed, and products popular in the visitor's strongest
/// categories. Every applicable kind is in the answer, in that order; the page shows what its placement is for.
/// </summary>
public static class OnSiteDecisions
{
    public const string Channel = "web";
    public const int DefaultLimit = 4;
    public const int MaxLimit = 20;

    public static OnSiteAnswer Decide(VisitorProfile profile, string placement, int limit, DateTimeOffset now, PopularProducts popular, OnSiteSettings settings)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(popular);
        ArgumentNullException.ThrowIfNull(settings);
        limit = Math.Clamp(limit, 1, MaxLimit);
        var decisions = new List<OnSiteDecision>(3);

        string? firstShown = null;
        if (LiveMessage(profile, now, settings) is { } message)
        {
            decisions.Add(new OnSiteMessageDecision(message.MessageKey, message.JourneyId, message.Template, message.DecidedAt, ExpiresAt(message, settings)));
            if (!message.Shown) firstShown = message.MessageKey;
        }
        if (WantsNewsletterPopup(profile, now, settings)) decisions.Add(new NewsletterPopupDecision());
        if (Recommend(profile, limit, popular) is { Count: > 0 } items) decisions.Add(new RecommendationsDecision(items));
        return new OnSiteAnswer(placement, decisions, firstShown);
    }

    /// <summary>The newest on-site message that is neither dismissed (dismissed ones leave the profile) nor expired.</summary>
    public static OnSiteMessage? LiveMessage(VisitorProfile profile, DateTimeOffset now, OnSiteSettings settings)
    {
        var messages = profile.OnSiteMessages;
        for (var i = messages.Count - 1; i >= 0; i--)
            if (ExpiresAt(messages[i], settings) > now) return messages[i];
        return null;
    }

    private static DateTimeOffset ExpiresAt(OnSiteMessage message, OnSiteSettings settings) =>
        SafeTime.Add(message.DecidedAt, settings.MessageLifetime);

    /// <summary>Anonymous (no customer owns the profile), not subscribed, and not unsubscribed within the quiet period.</summary>
    public static bool WantsNewsletterPopup(VisitorProfile profile, DateTimeOffset now, OnSiteSettings settings) =>
        IdentityRules.OwnerOf(profile.ProfileId, profile.UserId) is null
        && !profile.IsNewsletterSubscriber
        && !(profile.NewsletterChangedAt is { } unsubscribedAt && unsubscribedAt > SafeTime.Subtract(now, settings.PopupQuietAfterUnsubscribe));

    /// <summary>
    /// Popular products of the visitor's strongest categories, taken in turn (strongest first) so that a second interest
    /// shows too; then, to fill the limit or for a visitor with no affinity, the overall popular ones. Never a cart item.
    /// </summary>
    public static IReadOnlyList<RecommendedProduct> Recommend(VisitorProfile profile, int limit, PopularProducts popular) =>
        Recommend(MessageRecipient.TopCategoriesOf(profile), profile.Cart.Items, limit, popular);

    /// <summary>
    /// The same rule for a visitor's top categories (strongest first) and cart (sku → quantity) already taken from the
    /// profile: messages use it at decision time, with the categories their recipient snapshot holds anyway.
    /// </summary>
    public static IReadOnlyList<RecommendedProduct> Recommend(IReadOnlyList<string> categories, IReadOnlyDictionary<string, int> cart, int limit,
        PopularProducts popular)
    {
        ArgumentNullException.ThrowIfNull(popular);
        if (limit <= 0) return [];
        var chosen = new List<RecommendedProduct>(limit);
        var taken = new HashSet<string>(StringComparer.Ordinal);
        if (categories.Count > 0)
        {
            var lists = categories.Select(popular.In).Where(l => l.Count > 0).ToArray();
            var next = new int[lists.Length];
            for (var progressed = true; progressed && chosen.Count < limit;)
            {
                progressed = false;
                for (var c = 0; c < lists.Length && chosen.Count < limit; c++)
                {
                    // The next product of this category that is not in the cart and not chosen already.
                    while (next[c] < lists[c].Count)
                    {
                        var p = lists[c][next[c]++];
                        if (cart.ContainsKey(p.Sku) || !taken.Add(p.Sku)) continue;
                        chosen.Add(new RecommendedProduct(p.Sku, p.Category, p.Score));
                        progressed = true;
                        break;
                    }
                }
            }
        }
        foreach (var p in popular.Overall)
        {
            if (chosen.Count >= limit) break;
            if (cart.ContainsKey(p.Sku) || !taken.Add(p.Sku)) continue;
            chosen.Add(new RecommendedProduct(p.Sku, p.Category, p.Score));
        }
        return chosen;
    }
}
