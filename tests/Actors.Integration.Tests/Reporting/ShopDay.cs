namespace Actors.Integration.Tests.Reporting;

/// <summary>
/// A scripted shop day from a fixed seed: anonymous visitors arrive from campaigns, search engines and blogs or
/// directly, look at products, fill carts, give consent, log in, order (some twice), subscribe to the newsletter and
/// unsubscribe at all hours. Messages come in three phases (before logins, logins, after), so that no batch mixes a
/// device's events before and after its login.
/// </summary>
public static class ShopDay
{
    public static readonly string[] Categories = ["shoes", "bags", "hats", "coats"];
    private static readonly string[] Campaigns = ["google|cpc|spring", "facebook|social|spring", "newsletter|email|weekly", "instagram|social|influencer"];
    private static readonly string?[] Referrers = ["https://www.bing.com/search?q=shoes", "https://blog.example.org/best-bags", null];

    public sealed record Script(IReadOnlyList<object> BeforeLogin, IReadOnlyList<object> Logins, IReadOnlyList<object> AfterLogin);

    public static Script Make(int visitors, DateTimeOffset day, string tag, int seed = 15)
    {
        var random = new Random(seed);
        var before = new List<object>();
        var logins = new List<object>();
        var after = new List<object>();
        var n = 0;
        string Id() => $"{tag}-m{n++}";
        for (var i = 0; i < visitors; i++)
        {
            var anon = $"{tag}-a{i:D5}";
            var t = day.AddMinutes(random.Next(0, 18 * 60));
            string Time(double minutes) => t.AddMinutes(minutes).ToString("O");

            var url = "https://shop.example/";
            string? referrer = null;
            object context = new { };
            var roll = random.NextDouble();
            if (roll < 0.5)
            {
                var c = Campaigns[random.Next(Campaigns.Length)].Split('|');
                url += $"?utm_source={c[0]}&utm_medium={c[1]}&utm_campaign={c[2]}";
            }
            else if (roll < 0.6) context = new { campaign = new { source = "tiktok", medium = "social", name = "launch" } }; // a server-side SDK's tags
            else referrer = Referrers[random.Next(Referrers.Length)];
            before.Add(new { type = "page", anonymousId = anon, messageId = Id(), timestamp = Time(0), properties = new { url, referrer }, context });

            var views = random.Next(0, 4);
            for (var v = 0; v < views; v++)
            {
                var category = Categories[random.Next(Categories.Length)];
                before.Add(new { type = "track", @event = "Product Viewed", anonymousId = anon, messageId = Id(), timestamp = Time(1 + v),
                    properties = new { product_id = $"sku-{category}-{random.Next(20)}", category, price = 10 + random.Next(90) } });
            }
            if (random.NextDouble() < 0.5)
                before.Add(new { type = "track", @event = "Consent Given", anonymousId = anon, messageId = Id(), timestamp = Time(5),
                    properties = new { channel = "email", purpose = "marketing" } });
            if (random.NextDouble() < 0.3)
            {
                var category = Categories[random.Next(Categories.Length)];
                before.Add(new { type = "track", @event = "Product Added", anonymousId = anon, messageId = Id(), timestamp = Time(6),
                    properties = new { product_id = $"sku-{category}-1", category, price = 20, quantity = 1 } });
            }

            var identified = random.NextDouble() < 0.3;
            string? user = null;
            if (identified)
            {
                user = $"{tag}-u{i:D5}";
                logins.Add(new { type = "identify", anonymousId = anon, userId = user, messageId = Id(), timestamp = Time(30),
                    traits = new { email = $"{user}@example.com" } });
                var orders = random.NextDouble() < 0.6 ? (random.NextDouble() < 0.3 ? 2 : 1) : 0;
                for (var o = 0; o < orders; o++)
                {
                    var category = Categories[random.Next(Categories.Length)];
                    var price = 15 + random.Next(200);
                    after.Add(new { type = "track", @event = "Order Completed", userId = user, messageId = Id(), timestamp = Time(60 + o * 90),
                        properties = new { order_id = $"{user}-o{o}", total = price, currency = "EUR",
                            products = new[] { new { product_id = $"sku-{category}-2", category, price, quantity = 1 } } } });
                }
            }
            if (random.NextDouble() < 0.25)
            {
                var at = random.Next(0, 300);
                after.Add(Identity(user, anon, new { type = "track", @event = "Newsletter Subscribed", messageId = Id(), timestamp = Time(at), properties = new { source = "footer" } }));
                if (random.NextDouble() < 0.5)
                    after.Add(Identity(user, anon, new { type = "track", @event = "Newsletter Unsubscribed", messageId = Id(),
                        timestamp = Time(at + 30 + random.Next(0, 6 * 60)), properties = new { source = random.NextDouble() < 0.5 ? "one_click" : "footer" } }));
            }
        }
        return new Script(before, logins, after);
    }

    /// <summary>The message addressed as the visitor is known after the login phase: by user id, else by device.</summary>
    private static Dictionary<string, object?> Identity(string? user, string anon, object message)
    {
        var fields = System.Text.Json.JsonSerializer.SerializeToElement(message).EnumerateObject()
            .ToDictionary(p => p.Name, p => (object?)p.Value);
        if (user is not null) fields["userId"] = user;
        else fields["anonymousId"] = anon;
        return fields;
    }
}
