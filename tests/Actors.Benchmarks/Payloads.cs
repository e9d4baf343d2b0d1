using System.Globalization;
using System.Text;
using System.Text.Json;
using Actors.Domain.Tracking;

namespace Actors.Benchmarks;

/// <summary>
/// Realistic shop traffic: Segment track/page messages as an SDK sends them (with context, about 0.7 KB each) for the
/// HTTP side, and the domain events they become for the sides that write streams directly.
/// </summary>
public static class Payloads
{
    private static readonly string[] Categories = ["shoes", "shirts", "jackets", "bags", "watches", "hats", "socks", "jeans"];
    private static readonly string[] Brands = ["acme", "northwind", "contoso", "fabrikam", "tailspin"];
    private static readonly string[] Queries = ["red sneakers", "linen shirt", "rain jacket", "leather bag", "gift for him"];

    private const string Context =
        "\"context\":{\"ip\":\"203.0.113.42\",\"locale\":\"de-DE\",\"timezone\":\"Europe/Berlin\"," +
        "\"userAgent\":\"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36\"," +
        "\"library\":{\"name\":\"analytics.js\",\"version\":\"5.2.0\"},\"page\":{\"path\":\"/c/shoes\",\"referrer\":\"https://www.google.com/\"," +
        "\"title\":\"Shoes | Shop\",\"url\":\"https://shop.example/c/shoes\"}}";

    /// <summary>One Segment message for the per-visitor route (the route names the visitor), as UTF-8 JSON.</summary>
    public static byte[] SegmentMessage(Random random)
    {
        var messageId = Guid.NewGuid().ToString();
        var now = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
        var category = Pick(random, Categories);
        var sku = $"sku-{random.Next(5_000)}";
        var price = (random.Next(1_000, 20_000) / 100m).ToString(CultureInfo.InvariantCulture);
        var roll = random.Next(100);
        string body = roll switch
        {
            < 45 => Track("Product Viewed", $"{{\"product_id\":\"{sku}\",\"sku\":\"{sku}\",\"category\":\"{category}\",\"brand\":\"{Pick(random, Brands)}\",\"name\":\"Item {sku}\",\"price\":{price},\"currency\":\"EUR\",\"url\":\"https://shop.example/p/{sku}\"}}"),
            < 60 => Track("Product List Viewed", $"{{\"list_id\":\"{category}-list\",\"category\":\"{category}\"}}"),
            < 70 => $"\"type\":\"page\",\"name\":\"Category\",\"properties\":{{\"category\":\"{category}\",\"url\":\"https://shop.example/c/{category}\",\"referrer\":\"https://shop.example/\"}}",
            < 78 => Track("Products Searched", $"{{\"query\":\"{Pick(random, Queries)}\"}}"),
            < 88 => Track("Product Added", $"{{\"product_id\":\"{sku}\",\"category\":\"{category}\",\"quantity\":1,\"price\":{price}}}"),
            < 91 => Track("Product Removed", $"{{\"product_id\":\"{sku}\",\"quantity\":1}}"),
            < 95 => Track("Checkout Started", $"{{\"checkout_id\":\"co-{messageId[..8]}\",\"total\":{price},\"currency\":\"EUR\"}}"),
            < 98 => Track("Order Completed", $"{{\"order_id\":\"o-{messageId}\",\"total\":{price},\"currency\":\"EUR\",\"products\":[{{\"product_id\":\"{sku}\",\"category\":\"{category}\",\"price\":{price},\"quantity\":1}}]}}"),
            _ => Track("Video Played", $"{{\"title\":\"Lookbook\",\"position\":{random.Next(300)}}}"),
        };
        return Encoding.UTF8.GetBytes($"{{{body},\"messageId\":\"{messageId}\",\"timestamp\":\"{now}\",{Context}}}");

        static string Track(string name, string properties) => $"\"type\":\"track\",\"event\":\"{name}\",\"properties\":{properties}";
    }

    /// <summary>One domain event as the mapper would make it, at <paramref name="at"/>.</summary>
    public static VisitorEvent DomainEvent(Random random, DateTimeOffset at)
    {
        var messageId = Guid.NewGuid().ToString();
        var category = Pick(random, Categories);
        var sku = $"sku-{random.Next(5_000)}";
        var price = random.Next(1_000, 20_000) / 100m;
        var roll = random.Next(100);
        return roll switch
        {
            < 45 => new ProductViewed(sku, category, Pick(random, Brands), price) { MessageId = messageId, EventTime = at, ReceivedTime = at },
            < 60 => new CategoryViewed(category) { MessageId = messageId, EventTime = at, ReceivedTime = at },
            < 70 => new PageViewed("Category", category, $"https://shop.example/c/{category}", "https://shop.example/") { MessageId = messageId, EventTime = at, ReceivedTime = at },
            < 78 => new ProductsSearched(Pick(random, Queries)) { MessageId = messageId, EventTime = at, ReceivedTime = at },
            < 88 => new CartItemAdded(sku, category, 1, price) { MessageId = messageId, EventTime = at, ReceivedTime = at },
            < 91 => new CartItemRemoved(sku, 1) { MessageId = messageId, EventTime = at, ReceivedTime = at },
            < 95 => new CheckoutStarted($"co-{messageId[..8]}", price, "EUR") { MessageId = messageId, EventTime = at, ReceivedTime = at },
            < 98 => new OrderPlaced($"o-{messageId}", [new OrderLine(sku, category, 1, price)], price, "EUR", SalesChannel.Online) { MessageId = messageId, EventTime = at, ReceivedTime = at },
            _ => new BehaviourTracked("Video Played", new Dictionary<string, string> { ["title"] = "Lookbook", ["position"] = "42" }) { MessageId = messageId, EventTime = at, ReceivedTime = at },
        };
    }

    /// <summary>A small realistic history: <paramref name="count"/> events over the last days, oldest first.</summary>
    public static List<VisitorEvent> History(Random random, int count, TimeSpan span)
    {
        var start = DateTimeOffset.UtcNow - span;
        var events = new List<VisitorEvent>(count);
        for (var i = 0; i < count; i++) events.Add(DomainEvent(random, start + span * ((i + 1.0) / (count + 1))));
        return events;
    }

    private static readonly string[] Tiers = ["gold", "silver", "bronze"];
    private static readonly string[] Sources = ["google", "newsletter", "instagram", "direct"];

    /// <summary>
    /// A history for segment rules to work on: shop events as <see cref="History"/> gives, and for some visitors what
    /// identity and marketing data add (newsletter, consent, preferences, CRM attributes, an account), at random
    /// places. Oldest first.
    /// </summary>
    public static List<VisitorEvent> RichHistory(Random random, int count, TimeSpan span)
    {
        var events = History(random, count, span);
        var start = DateTimeOffset.UtcNow - span;
        DateTimeOffset at = default;
        string Id()
        {
            at = start + span * random.NextDouble();
            return Guid.NewGuid().ToString();
        }

        if (random.Next(100) < 40)
        {
            events.Add(new NewsletterSubscribed("footer") { MessageId = Id(), EventTime = at, ReceivedTime = at });
            if (random.Next(100) < 70) events.Add(new ConsentGiven("email", "marketing") { MessageId = Id(), EventTime = at, ReceivedTime = at });
            if (random.Next(100) < 50)
                events.Add(new PreferencesUpdated([Pick(random, Categories), Pick(random, Categories)], [random.Next(2) == 0 ? "video" : "article"],
                    random.Next(2) == 0 ? "weekly" : "daily", null, false) { MessageId = Id(), EventTime = at, ReceivedTime = at });
            if (random.Next(100) < 15) events.Add(new NewsletterUnsubscribed("too many", "link") { MessageId = Id(), EventTime = at, ReceivedTime = at });
        }
        if (random.Next(100) < 25) events.Add(new Registered(RegistrationKind.Account) { MessageId = Id(), EventTime = at, ReceivedTime = at });
        if (random.Next(100) < 35)
            events.Add(new AttributesUpdated(new Dictionary<string, string?>
            {
                ["tier"] = Pick(random, Tiers),
                ["ltv"] = random.Next(0, 2_000).ToString(CultureInfo.InvariantCulture),
                ["utm_source"] = Pick(random, Sources),
            }, "crm") { MessageId = Id(), EventTime = at, ReceivedTime = at });
        events.Sort((a, b) => a.EventTime.CompareTo(b.EventTime));
        return events;
    }

    /// <summary>The categories the shop events use (for rules per category).</summary>
    public static IReadOnlyList<string> CategoryNames => Categories;

    /// <summary>The jsonb a stored event row holds, for the raw INSERT ceiling (the same serializer options Marten uses).</summary>
    public static string EventJson(VisitorEvent e) => JsonSerializer.Serialize(e, e.GetType(), JsonOptions);

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };

    private static string Pick(Random random, string[] values) => values[random.Next(values.Length)];
}
