using Actors.Domain.Lifecycle;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Domain.Channels;

/// <summary>
/// A message the visitor's grain decided to send, as the outbox keeps it: written in the same transaction as its
/// <see cref="MessageDecided"/>, so it exists exactly when the decision does. <see cref="MessageKey"/> (profile,
/// journey, version, step, occurrence) is the idempotency key from the decision to the provider.
/// </summary>
public sealed record OutboundMessage(
    string MessageKey,
    string ProfileId,
    string Channel,
    string Template,
    string? Topic,
    string? ContentType,
    string Kind,
    string JourneyId,
    int JourneyVersion,
    string StepId,
    DateTimeOffset DecidedAt,
    MessageRecipient Recipient)
{
    /// <summary>
    /// Decided in a passage a marketer's trigger started (a campaign, a broadcast): one of thousands decided at once,
    /// which may leave after the messages a visitor's own behaviour brought (a cart reminder, a welcome).
    /// </summary>
    public bool Bulk { get; init; }

    /// <summary>Channels whose messages go through the outbox to a provider; "web" (on-site) is shown from the grain instead.</summary>
    public static bool IsDelivered(string channel) => channel is "email" or "sms" or "push" or "webhook";

    /// <summary>The outbox entry for a sent decision, with the recipient as the profile knows them now and what is popular now.</summary>
    public static OutboundMessage For(VisitorProfile profile, MessageDecided decided, PopularProducts popular) => new(
        decided.MessageKey, profile.ProfileId, decided.Channel, decided.Template, decided.Topic, decided.ContentType, decided.Kind,
        decided.JourneyId, decided.JourneyVersion, decided.StepId, decided.EventTime, MessageRecipient.From(profile, popular))
    {
        Bulk = profile.Journeys.GetValueOrDefault(decided.JourneyId) is { EnteredByTrigger: true },
    };

    /// <summary>The outbox entries among freshly decided events: sent decisions on delivered channels.</summary>
    public static IReadOnlyList<OutboundMessage> Among(VisitorProfile profile, IReadOnlyList<VisitorEvent> events, PopularProducts popular)
    {
        List<OutboundMessage>? found = null;
        foreach (var e in events)
        {
            if (e is MessageDecided { Outcome: MessageOutcome.Sent } m && IsDelivered(m.Channel)) (found ??= []).Add(For(profile, m, popular));
        }
        return found ?? (IReadOnlyList<OutboundMessage>)[];
    }
}

/// <summary>
/// The recipient as the decision saw them: addresses and what templates may use. Taken at decision time so that
/// delivery needs no call back into the grain, and what was sent can be explained later. That holds for
/// <see cref="Recommendations"/> too: they are chosen when the message is decided, by the on-site rule
/// (<see cref="OnSiteDecisions.Recommend(IReadOnlyList{string}, IReadOnlyDictionary{string, int}, int, PopularProducts)"/>)
/// from the silo's popularity snapshot the grain already holds, so the renderer (Channels) needs no popularity source
/// and the outbox row says exactly which products the visitor was shown.
/// </summary>
public sealed record MessageRecipient(
    string ProfileId,
    string? UserId,
    string? Email,
    string? Phone,
    string Stage,
    IReadOnlyDictionary<string, string> Attributes,
    IReadOnlyList<CartLine> Cart,
    IReadOnlyList<string> TopCategories,
    IReadOnlyList<PushSubscription> PushSubscriptions,
    string? TimeZone)
{
    public const int TopCategoriesKept = 5;

    /// <summary>As many as a message shows in one row; the on-site default.</summary>
    public const int RecommendationsKept = OnSiteDecisions.DefaultLimit;

    /// <summary>The products the visitor viewed last, newest first (see <see cref="VisitorProfile.RecentlyViewed"/>).</summary>
    public IReadOnlyList<ViewedProduct> RecentProducts { get; init; } = [];

    /// <summary>Popular products of the visitor's top categories (then overall), none in the cart, at decision time.</summary>
    public IReadOnlyList<RecommendedProduct> Recommendations { get; init; } = [];

    public static MessageRecipient From(VisitorProfile profile, PopularProducts popular)
    {
        ArgumentNullException.ThrowIfNull(popular);
        var attributes = profile.Attributes;
        var categories = TopCategoriesOf(profile);
        return new MessageRecipient(
            profile.ProfileId,
            profile.UserId,
            profile.Email, // the message policy suppresses a message with no address from these same two
            profile.Phone,
            profile.Stage.ToWire(),
            new Dictionary<string, string>(attributes, StringComparer.Ordinal),
            [.. profile.Cart.Items.Select(i => new CartLine(i.Key, i.Value))],
            categories,
            profile.PushSubscriptions,
            Find(attributes, "timezone") ?? Find(attributes, "timeZone"))
        {
            RecentProducts = profile.RecentlyViewed,
            Recommendations = OnSiteDecisions.Recommend(categories, profile.Cart.Items, RecommendationsKept, popular),
        };
    }

    /// <summary>The categories the visitor showed most interest in (views, cart adds and orders), strongest first.</summary>
    public static IReadOnlyList<string> TopCategoriesOf(VisitorProfile profile)
    {
        var scores = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        const string marker = "|category=";
        foreach (var (key, buckets) in profile.Counters.Days)
        {
            var at = key.IndexOf(marker, StringComparison.Ordinal);
            if (at < 0) continue;
            var weight = key.AsSpan(0, at) switch
            {
                EventNames.OrderPlaced => 5,
                EventNames.CartItemAdded => 3,
                EventNames.ProductViewed or EventNames.CategoryViewed or EventNames.PageViewed => 1,
                _ => 0,
            };
            if (weight == 0) continue;
            var category = key[(at + marker.Length)..];
            var count = 0;
            foreach (var b in buckets) count += b.Count;
            scores[category] = scores.GetValueOrDefault(category) + weight * count;
        }
        return [.. scores.OrderByDescending(s => s.Value).ThenBy(s => s.Key, StringComparer.Ordinal).Take(TopCategoriesKept).Select(s => s.Key)];
    }

    private static string? Find(IReadOnlyDictionary<string, string> attributes, string key) =>
        attributes.TryGetValue(key, out var value) && !string.IsNullOrWhiteSpace(value) ? value : null;
}

public sealed record CartLine(string Sku, int Quantity);
