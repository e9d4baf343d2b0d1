using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Integration.Tests.Support;

namespace Actors.Integration.Tests.Templates;

/// <summary>A real SMTP server on loopback, popularity refreshed five times a second, no quiet hours: a decided email leaves at once.</summary>
public sealed class StarterTemplatesFixture : HostFixture
{
    public SmtpSink Sink { get; } = SmtpSink.Start();

    protected override IEnumerable<string> ExtraArguments() =>
    [
        "--Actors:OnSite:PopularityRefreshEvery=00:00:00.200",
        "--Actors:Messages:QuietFrom=00:00", "--Actors:Messages:QuietUntil=00:00",
        "--Actors:Channels:PollEvery=00:00:00.200",
        .. Sink.Arguments(),
    ];

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Sink.Dispose();
    }
}

/// <summary>
/// The starter templates over HTTP: created in one call without overwriting the shop's own, after which every
/// ready-made journey saves and publishes; and recommendations chosen when a message is decided reach the visitor's
/// mailbox (and a preview), popular products of their categories and never what is in their cart.
/// </summary>
public class StarterTemplatesHttpTests(StarterTemplatesFixture host) : IClassFixture<StarterTemplatesFixture>
{
    private readonly HttpClient _marketing = host.Client(HostFixture.MarketingKey);
    private readonly HttpClient _ingest = host.Client();

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    private static async Task<JsonElement> Json(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement;
    }

    private static string[] Ids(JsonElement list) => [.. list.EnumerateArray().Select(e => e.GetString()!)];

    private async Task Track(string visitor, string name, object properties)
    {
        var response = await _ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events", new { @event = name, messageId = $"{visitor}-{Guid.NewGuid():N}", properties });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Posting_the_starters_lets_every_ready_made_journey_be_saved_and_published_and_never_overwrites_a_template()
    {
        var starters = await Json(await _marketing.GetAsync("/v1/templates/starters"), HttpStatusCode.OK);
        var starterIds = starters.EnumerateArray().Select(s => s.GetProperty("id").GetString()!).ToHashSet();
        Assert.Contains("cart-reminder-1", starterIds);
        Assert.All(starters.EnumerateArray(), s => Assert.NotEqual(0, s.GetProperty("journeys").GetArrayLength()));
        var journeys = await _marketing.GetFromJsonAsync<JsonElement>("/v1/journeys/templates");

        // Before the starters: the ready-made abandoned cart cannot be saved, and the error says how to get them.
        var cart = journeys.EnumerateArray().Single(j => j.GetProperty("id").GetString() == "abandoned-cart");
        var refused = await Json(await _marketing.PostAsJsonAsync("/v1/journeys",
            new { id = "abandoned-cart", journey = JsonDocument.Parse(cart.GetProperty("json").GetString()!).RootElement }), HttpStatusCode.BadRequest);
        var error = refused.GetProperty("errors").GetProperty("journey.steps[2].send.template")[0].GetString()!;
        Assert.Contains("unknown template 'cart-reminder-1'", error);
        Assert.Contains("POST /v1/templates/starters", error);

        // The shop already wrote its own welcome-2: the starters keep it.
        var own = new { channel = "email", subject = "Our story, {{ visitor.first_name | default: 'friend' }}", text = "Family-run since 1921. {{ unsubscribe_url }}" };
        Assert.Equal(HttpStatusCode.Created, (await _marketing.PutAsJsonAsync("/v1/templates/welcome-2", own)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await _ingest.PostAsync("/v1/templates/starters", null)).StatusCode);

        var first = await Json(await _marketing.PostAsync("/v1/templates/starters", null), HttpStatusCode.OK);
        Assert.Equal(starterIds.Where(id => id != "welcome-2").Order(), Ids(first.GetProperty("created")).Order());
        Assert.Equal(["welcome-2"], Ids(first.GetProperty("kept")));
        Assert.Equal(own.subject, (await _marketing.GetFromJsonAsync<JsonElement>("/v1/templates/welcome-2")).GetProperty("subject").GetString());

        // Every ready-made journey now saves and publishes (its segments exist, as their descriptions ask).
        var segmentTemplates = await _marketing.GetFromJsonAsync<JsonElement>("/v1/segments/templates");
        foreach (var segment in segmentTemplates.EnumerateArray().Where(s => s.GetProperty("id").GetString() is "one-time-customers" or "lapsed-90-days"))
        {
            var created = await _marketing.PostAsJsonAsync("/v1/segments", new
            {
                id = segment.GetProperty("id").GetString(), name = segment.GetProperty("name").GetString(),
                rule = JsonDocument.Parse(segment.GetProperty("ruleJson").GetString()!).RootElement,
            });
            Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        }
        Assert.Equal(7, journeys.GetArrayLength());
        foreach (var template in journeys.EnumerateArray())
        {
            var id = template.GetProperty("id").GetString()!;
            var journey = JsonDocument.Parse(template.GetProperty("json").GetString()!).RootElement;
            await Json(await _marketing.PostAsJsonAsync("/v1/journeys", new { id, journey }), HttpStatusCode.Created);
            var published = await Json(await _marketing.PostAsync($"/v1/journeys/{id}/publish", null), HttpStatusCode.OK);
            Assert.Equal("active", published.GetProperty("status").GetString());
        }

        // Posting again creates nothing and leaves a template the shop changed as it is.
        var changed = new { channel = "email", subject = "Your bag misses you", html = "<p>{{ cart_count }} items</p><a href=\"{{ unsubscribe_url }}\">stop</a>" };
        Assert.Equal(HttpStatusCode.OK, (await _marketing.PutAsJsonAsync("/v1/templates/cart-reminder-1", changed)).StatusCode);
        var before = await _marketing.GetFromJsonAsync<JsonElement>("/v1/templates/cart-reminder-1");
        var again = await Json(await _marketing.PostAsync("/v1/templates/starters", null), HttpStatusCode.OK);
        Assert.Empty(Ids(again.GetProperty("created")));
        Assert.Equal(starterIds.Order(), Ids(again.GetProperty("kept")).Order());
        var after = await _marketing.GetFromJsonAsync<JsonElement>("/v1/templates/cart-reminder-1");
        Assert.Equal("Your bag misses you", after.GetProperty("subject").GetString());
        Assert.Equal(before.GetProperty("revision").GetInt64(), after.GetProperty("revision").GetInt64());

        // GET /v1/templates/starters is the list: no template can take that id.
        var reserved = await Json(await _marketing.PutAsJsonAsync("/v1/templates/starters", own), HttpStatusCode.BadRequest);
        Assert.Contains("reserved", reserved.GetProperty("errors").GetProperty("id")[0].GetString());
    }

    [Fact]
    public async Task A_shoe_viewer_gets_an_email_and_a_preview_with_popular_shoes_that_are_not_in_the_cart()
    {
        var shoes = Unique("shoes");
        var (s1, s2, s3, tv, electronics) = (Unique("s1"), Unique("s2"), Unique("s3"), Unique("tv"), Unique("electronics"));
        // Other visitors: s1 viewed by three, s2 (which the shopper will have in the cart) by two, s3 by one; a television by all, more.
        for (var i = 0; i < 3; i++)
        {
            var other = Unique("other");
            await Track(other, "Product Viewed", new { product_id = s1, category = shoes, price = 10 });
            if (i < 2) await Track(other, "Product Viewed", new { product_id = s2, category = shoes, price = 10 });
            if (i < 1) await Track(other, "Product Viewed", new { product_id = s3, category = shoes, price = 10 });
            for (var k = 0; k < 3; k++) await Track(other, "Product Viewed", new { product_id = tv, category = electronics, price = 500 });
        }
        Assert.True((await _marketing.PostAsync("/v1/templates/starters", null)).IsSuccessStatusCode);

        var shopper = $"st-{Guid.NewGuid():N}";
        var email = $"{shopper}@example.com";
        var identify = await _ingest.PostAsJsonAsync("/v1/identify", new { anonymousId = shopper, messageId = $"{shopper}-id", traits = new { email, firstName = "Ana" } });
        Assert.True(identify.IsSuccessStatusCode, await identify.Content.ReadAsStringAsync());
        await Track(shopper, "Consent Given", new { channel = "email", purpose = "marketing" });
        await Track(shopper, "Product Added", new { product_id = s2, category = shoes, price = 10, quantity = 1 });

        // The preview: recommendations from this silo's popularity, once its refresher has read the views above (all of
        // them: the television's views come after s3's in the log, and the board may have read only part of it).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        JsonElement preview;
        do
        {
            preview = await Json(await _marketing.PostAsJsonAsync("/v1/templates/browse-reminder/preview", new { profileId = shopper }), HttpStatusCode.OK);
            var seen = preview.GetProperty("html").GetString()!;
            if (seen.Contains(s3, StringComparison.Ordinal) && seen.Contains(tv, StringComparison.Ordinal)) break;
            await Task.Delay(200);
        } while (DateTime.UtcNow < deadline);
        var html = preview.GetProperty("html").GetString()!;
        Assert.Contains($"<li>{s1} ({shoes})</li>", html);
        Assert.Contains($"<li>{s3} ({shoes})</li>", html);
        Assert.DoesNotContain(s2, html); // in the cart: never recommended
        Assert.True(html.IndexOf(s1, StringComparison.Ordinal) < html.IndexOf(tv, StringComparison.Ordinal), "the visitor's category comes before the overall popular");

        // A journey sends the browse reminder when this shopper views a shoe: recommendations are chosen at that decision.
        var journeyId = $"br-{Guid.NewGuid():N}"[..20];
        var journey = new
        {
            name = "Shoe viewers " + journeyId,
            trigger = new { @event = "product_viewed", category = shoes }, // the others viewed before it was published
            start = "remind",
            steps = new object[] { new { id = "remind", send = new { channel = "email", template = "browse-reminder", contentType = "recommendations", kind = "marketing" } } },
        };
        await Json(await _marketing.PostAsJsonAsync("/v1/journeys", new { id = journeyId, journey }), HttpStatusCode.Created);
        await Json(await _marketing.PostAsync($"/v1/journeys/{journeyId}/publish", null), HttpStatusCode.OK);
        await Track(shopper, "Product Viewed", new { product_id = s1, category = shoes, price = 10 });

        var mail = Assert.Single(await host.Sink.WaitForAsync(1, TimeSpan.FromSeconds(30), m => m.To.Mailboxes.Any(b => b.Address == email)));
        Assert.Equal("Still looking, Ana?", mail.Subject);
        var body = mail.HtmlBody!;
        var viewed = body.IndexOf("Here is what you were looking at", StringComparison.Ordinal);
        var recommended = body.IndexOf("You might also like", StringComparison.Ordinal);
        Assert.True(viewed >= 0 && recommended > viewed, body);
        Assert.Contains($"<li>{s1} ({shoes})</li>", body[viewed..recommended]); // what they viewed
        Assert.Contains($"<li>{s3} ({shoes})</li>", body[recommended..]); // popular in their category
        Assert.DoesNotContain(s2, body);
        Assert.Contains($"- {s3} ({shoes})", mail.TextBody);
    }
}
