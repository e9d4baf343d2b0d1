using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Domain.Channels;
using Actors.Grains.Channels;
using Actors.Integration.Tests.Support;
using Actors.Storage.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Actors.Integration.Tests.Channels;

/// <summary>Popularity refreshed five times a second; no quiet hours, so a journey's web message is decided at once.</summary>
public sealed class OnSiteHostFixture : HostFixture
{
    protected override IEnumerable<string> ExtraArguments() =>
    [
        "--Actors:OnSite:PopularityRefreshEvery=00:00:00.200",
        "--Actors:Messages:QuietFrom=00:00", "--Actors:Messages:QuietUntil=00:00",
    ];
}

/// <summary>
/// The on-site channel through the real path: events over HTTP into the grains and PostgreSQL, popularity read back
/// from the event log by the silo's refresher, decisions answered by the visitor's grain, impressions and dismissals
/// stored as events in the visitor's stream.
/// </summary>
public class OnSiteTests(OnSiteHostFixture host) : IClassFixture<OnSiteHostFixture>
{
    private readonly HttpClient _ingest = host.Client();
    private readonly HttpClient _marketing = host.Client(HostFixture.MarketingKey);
    private readonly HttpClient _admin = host.Client(HostFixture.AdminKey);

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    private async Task Send(string visitor, string name, object properties)
    {
        var response = await _ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events",
            new { @event = name, messageId = $"{visitor}-{Guid.NewGuid():N}", properties });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private Task View(string visitor, string sku, string category) => Send(visitor, "Product Viewed", new { product_id = sku, category, price = 10 });

    private async Task<JsonElement> Decisions(string visitor, string placement = "home", int? limit = null)
    {
        var response = await _ingest.GetAsync($"/v1/visitors/{visitor}/decisions?placement={placement}" + (limit is { } l ? $"&limit={l}" : ""));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        var json = JsonDocument.Parse(body).RootElement;
        Assert.Equal(placement, json.GetProperty("placement").GetString());
        return json;
    }

    private static List<JsonElement> OfType(JsonElement answer, string type) =>
        [.. answer.GetProperty("decisions").EnumerateArray().Where(d => d.GetProperty("type").GetString() == type)];

    private async Task<List<JsonElement>> Events(string visitor, string types) =>
        [.. (await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/events?type={types}&limit=1000"))
            .GetProperty("items").EnumerateArray()];

    private static async Task<T> Eventually<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            var value = await read();
            if (done(value) || DateTime.UtcNow > deadline) return value;
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task An_anonymous_visitor_gets_the_newsletter_popup_and_nothing_after_subscribing()
    {
        var visitor = Unique("ns");
        Assert.Single(OfType(await Decisions(visitor), "newsletter_popup")); // a first page, before any event
        await View(visitor, Unique("sku"), "shoes");
        Assert.Single(OfType(await Decisions(visitor), "newsletter_popup"));

        await Send(visitor, "Newsletter Subscribed", new { source = "popup" });
        var after = await Decisions(visitor);
        Assert.Empty(OfType(after, "newsletter_popup"));
        Assert.Empty(OfType(after, "message"));
    }

    [Fact]
    public async Task A_shoe_viewer_gets_the_shoes_popular_among_other_visitors_but_not_what_is_in_the_cart()
    {
        var shoes = Unique("shoes");
        var (s1, s2, s3, s4, tv) = (Unique("s1"), Unique("s2"), Unique("s3"), Unique("s4"), Unique("tv"));
        // Other visitors: s1 viewed by four, s2 by three, s3 by two, s4 by one; a television far more popular than any shoe.
        for (var i = 0; i < 4; i++)
        {
            var other = Unique("other");
            await View(other, s1, shoes);
            if (i < 3) await View(other, s2, shoes);
            if (i < 2) await View(other, s3, shoes);
            if (i < 1) await View(other, s4, shoes);
            for (var k = 0; k < 3; k++) await View(other, tv, Unique("electronics"));
        }
        var visitor = Unique("shopper");
        await View(visitor, s1, shoes);
        await Send(visitor, "Product Added", new { product_id = s2, category = shoes, price = 10, quantity = 1 });

        // s1: 4 + 1 (the shopper's view); s2 is in the cart; s3: 2, s4: 1.
        string[] expected = [s1, s3, s4];
        static IEnumerable<(string?, long)> Scored(JsonElement answer) => OfType(answer, "recommendations").SelectMany(r => r.GetProperty("items").EnumerateArray())
            .Select(i => (i.GetProperty("sku").GetString(), i.GetProperty("score").GetInt64()));
        var answer = await Eventually(() => Decisions(visitor, limit: 3), a => Scored(a).SequenceEqual([(s1, 5L), (s3, 2L), (s4, 1L)]), TimeSpan.FromSeconds(20));
        var items = Assert.Single(OfType(answer, "recommendations")).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(expected, items.Select(i => i.GetProperty("sku").GetString()));
        Assert.All(items, i => Assert.Equal(shoes, i.GetProperty("category").GetString()));
        Assert.Equal([5L, 2L, 1L], items.Select(i => i.GetProperty("score").GetInt64()));

        // A visitor with no affinity gets the overall popular: the television first.
        var stranger = await Decisions(Unique("stranger"), limit: 1);
        Assert.Equal(tv, Assert.Single(Assert.Single(OfType(stranger, "recommendations")).GetProperty("items").EnumerateArray()).GetProperty("sku").GetString());
    }

    [Fact]
    public async Task A_journeys_web_message_is_shown_its_impression_recorded_once_and_after_dismissing_it_is_gone()
    {
        var category = Unique("banner");
        var journeyId = $"j-{Guid.NewGuid():N}"[..20];
        await TestTemplates.EnsureAsync(_marketing, "cart-banner");
        var create = await _marketing.PostAsJsonAsync("/v1/journeys", new
        {
            id = journeyId,
            journey = new
            {
                name = $"On-site {category}",
                trigger = new { @event = "cart_item_added", category },
                start = "show",
                steps = new object[] { new { id = "show", send = new { channel = "web", template = "cart-banner" } } },
                goal = new { @event = "order_placed", attributionWindow = "P7D" },
            },
        });
        Assert.True(create.StatusCode == HttpStatusCode.Created, await create.Content.ReadAsStringAsync());
        var publish = await _marketing.PostAsync($"/v1/journeys/{journeyId}/publish", null);
        Assert.True(publish.IsSuccessStatusCode, await publish.Content.ReadAsStringAsync());

        var visitor = Unique("web");
        await Send(visitor, "Consent Given", new { channel = "web", purpose = "marketing" });
        await Send(visitor, "Product Added", new { product_id = Unique("sku"), category, price = 10, quantity = 1 });

        var answer = await Eventually(() => Decisions(visitor, "cart_banner"), a => OfType(a, "message").Count > 0, TimeSpan.FromSeconds(20));
        var message = Assert.Single(OfType(answer, "message"));
        Assert.Equal(journeyId, message.GetProperty("journeyId").GetString());
        Assert.Equal("cart-banner", message.GetProperty("template").GetString());
        var key = message.GetProperty("messageKey").GetString()!;
        var decided = Assert.Single(await Events(visitor, "message_decided"));
        Assert.Equal(key, decided.GetProperty("data").GetProperty("messageKey").GetString());

        // Shown three times: the impression is one message_opened on the web channel.
        await Decisions(visitor, "cart_banner");
        await Decisions(visitor, "cart_banner");
        var opened = await Eventually(() => Events(visitor, "message_opened"), e => e.Count > 0, TimeSpan.FromSeconds(10));
        await Task.Delay(500);
        await Decisions(visitor, "cart_banner");
        opened = await Events(visitor, "message_opened");
        Assert.Equal("web", Assert.Single(opened).GetProperty("data").GetProperty("channel").GetString());

        var dismiss = await _ingest.PostAsync($"/v1/visitors/{visitor}/decisions/{Uri.EscapeDataString(key)}/dismiss", null);
        Assert.True(dismiss.StatusCode == HttpStatusCode.OK, await dismiss.Content.ReadAsStringAsync());
        Assert.Equal("dismissed", (await dismiss.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        Assert.Empty(OfType(await Decisions(visitor, "cart_banner"), "message"));

        var again = await _ingest.PostAsync($"/v1/visitors/{visitor}/decisions/{Uri.EscapeDataString(key)}/dismiss", null);
        Assert.Equal("already_dismissed", (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        var dismissed = Assert.Single(await Events(visitor, "message_dismissed"));
        Assert.Equal(key, dismissed.GetProperty("data").GetProperty("messageKey").GetString());
    }

    [Fact]
    public async Task A_starting_silo_reads_back_only_its_bounded_scan_of_the_latest_events()
    {
        var category = Unique("startup");
        var (early, late) = (Unique("early"), Unique("late"));
        var feed = host.Host.App.Services.GetRequiredService<PopularityFeed>();
        await View(Unique("v"), early, category);
        await View(Unique("v"), late, category);
        var beforeOrder = await feed.HeadAsync(CancellationToken.None);
        await Send(Unique("v"), "Order Completed", new
        {
            order_id = Unique("o"), total = 20, currency = "EUR",
            products = new[] { new { product_id = late, category, price = 10, quantity = 1 } },
        });

        // New boards, as a starting silo makes them: one reading back the whole log (in pages of 7), one only what came after the views.
        var whole = new PopularityBoard(feed, new OnSiteSettings { PopularityPageSize = 7 }, TimeProvider.System, new Actors.Grains.Hosting.OutageLog(NullLogger<Actors.Grains.Hosting.OutageLog>.Instance), NullLogger<PopularityBoard>.Instance);
        var all = await Eventually(async () => { await whole.RefreshAsync(CancellationToken.None); return whole.Current.In(category); },
            l => l.Count == 2, TimeSpan.FromSeconds(10));
        Assert.Equal([(late, 6L), (early, 1L)], all.Select(p => (p.Sku, p.Score))); // a view 1 + an order line 5

        var recent = await Eventually(async () =>
        {
            var scan = (int)(await feed.HeadAsync(CancellationToken.None) - beforeOrder);
            var bounded = new PopularityBoard(feed, new OnSiteSettings { PopularityStartupScan = scan }, TimeProvider.System, new Actors.Grains.Hosting.OutageLog(NullLogger<Actors.Grains.Hosting.OutageLog>.Instance), NullLogger<PopularityBoard>.Instance);
            await bounded.RefreshAsync(CancellationToken.None);
            return bounded.Current.In(category);
        }, l => l.Count > 0, TimeSpan.FromSeconds(10));
        Assert.Equal([(late, 5L)], recent.Select(p => (p.Sku, p.Score))); // the order alone: the views lie before the scan
    }

    [Fact]
    public async Task A_known_customer_needs_a_visitor_token_as_for_the_profile_read()
    {
        var user = $"user:{Guid.NewGuid():N}";
        var refused = await _ingest.GetAsync($"/v1/visitors/{user}/decisions?placement=home");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await _ingest.PostAsync($"/v1/visitors/{user}/decisions/k/dismiss", null)).StatusCode);

        var token = await (await _marketing.PostAsJsonAsync($"/v1/visitors/{user}/token", new { })).Content.ReadFromJsonAsync<JsonElement>();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/visitors/{user}/decisions?placement=home");
        request.Headers.Add("X-Visitor-Token", token.GetProperty("token").GetString());
        var allowed = await _ingest.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        var answer = await allowed.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Empty(OfType(answer, "newsletter_popup")); // a known customer is not anonymous

        Assert.Equal(HttpStatusCode.OK, (await _marketing.GetAsync($"/v1/visitors/{user}/decisions?placement=home")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Client(null).GetAsync("/v1/visitors/v1/decisions?placement=home")).StatusCode);
    }

    [Theory]
    [InlineData("v1/decisions", "placement")]
    [InlineData("v1/decisions?placement=", "placement")]
    [InlineData("v1/decisions?placement=%3Cscript%3E", "placement")]
    [InlineData("v1/decisions?placement=_home", "placement")]
    [InlineData("v1/decisions?placement=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "placement")]
    [InlineData("v1/decisions?placement=home&limit=0", "limit")]
    [InlineData("v1/decisions?placement=home&limit=21", "limit")]
    [InlineData("v1/decisions?placement=home&limit=-1", "limit")]
    [InlineData("v1/decisions?placement=home&limit=1e3", "limit")]
    [InlineData("v1/decisions?placement=home&limit=99999999999999999999", "limit")]
    public async Task Hostile_decision_requests_are_refused_naming_the_field(string path, string field)
    {
        var response = await _ingest.GetAsync($"/v1/visitors/{path}");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{response.StatusCode}: {body}");
        Assert.True(JsonDocument.Parse(body).RootElement.GetProperty("errors").TryGetProperty(field, out _), body);
    }

    [Fact]
    public async Task Dismissing_what_the_visitor_was_never_shown_is_not_found_and_hostile_keys_are_refused()
    {
        var visitor = Unique("nd");
        var unknown = await _ingest.PostAsync($"/v1/visitors/{visitor}/decisions/no-such-message/dismiss", null);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Empty(await Events(visitor, "message_dismissed"));

        var tooLong = await _ingest.PostAsync($"/v1/visitors/{visitor}/decisions/{new string('k', 513)}/dismiss", null);
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        var nul = await _ingest.PostAsync($"/v1/visitors/{visitor}/decisions/a%00b/dismiss", null);
        Assert.Equal(HttpStatusCode.BadRequest, nul.StatusCode); // refused before routing: a NUL never reaches a grain
    }
}
