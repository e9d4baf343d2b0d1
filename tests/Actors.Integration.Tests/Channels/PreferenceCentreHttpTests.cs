using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Actors.Channels.Links;
using Actors.Integration.Tests.Support;
using static Actors.Integration.Tests.Channels.PreferenceCentreKit;

namespace Actors.Integration.Tests.Channels;

/// <summary>
/// The preference centre and unsubscribe routes over plain HTTP, through the real host: RFC 8058 one-click, links that
/// are bad, expired or for something else, hostile forms, double submits, merged profiles, and a paused visitor whom the
/// message policy then suppresses.
/// </summary>
public class PreferenceCentreHttpTests(PreferenceCentreHostFixture host) : IClassFixture<PreferenceCentreHostFixture>
{
    private readonly PreferenceCentreKit _kit = new(host);
    private readonly HttpClient _marketing = host.Client(HostFixture.MarketingKey);

    private static FormUrlEncodedContent OneClick() => new([new("List-Unsubscribe", "One-Click")]);

    [Fact]
    public async Task One_click_POST_withdraws_the_consent_without_a_page_and_a_repeat_adds_nothing()
    {
        var visitor = await _kit.Subscriber("oc");
        var token = await _kit.Token(visitor, LinkPurpose.Unsubscribe);
        using var browser = _kit.Visitor();

        var first = await browser.PostAsync($"/m/u/{token}", OneClick());
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.True((await first.Content.ReadAsStringAsync()).Length < 100, "the one-click answer is a short text, not a page");

        // Mailbox providers may send it as multipart/form-data too; the repeat changes nothing.
        using var multipart = new MultipartFormDataContent { { new StringContent("One-Click"), "List-Unsubscribe" } };
        Assert.Equal(HttpStatusCode.OK, (await browser.PostAsync($"/m/u/{token}", multipart)).StatusCode);

        var withdrawn = Assert.Single(await _kit.Events(visitor, "consent_withdrawn"));
        Assert.Equal(("email", "marketing"), (Data(withdrawn, "channel"), Data(withdrawn, "purpose")));
        var unsubscribed = Assert.Single(await _kit.Events(visitor, "newsletter_unsubscribed"));
        Assert.Equal("one_click", Data(unsubscribed, "source"));
        var profile = await _kit.Profile(visitor);
        Assert.DoesNotContain("email:marketing", profile.GetProperty("consents").EnumerateArray().Select(c => c.GetString()));
        Assert.False(profile.GetProperty("newsletterSubscriber").GetBoolean());
    }

    [Fact]
    public async Task Bad_expired_tampered_and_wrong_purpose_links_get_a_friendly_404_page()
    {
        var visitor = await _kit.Subscriber("bad");
        var good = await _kit.Token(visitor, LinkPurpose.Unsubscribe);
        var tampered = good[..^2] + (good[^2] == 'A' ? "BA" : "AA");
        var expired = await _kit.Token(visitor, LinkPurpose.Unsubscribe, lifetime: TimeSpan.FromSeconds(-5));
        var click = await _kit.Token(visitor, LinkPurpose.Click);
        var unknownProfile = await _kit.Links.SignAsync(LinkPurpose.Preferences, $"anon:nobody-{Guid.NewGuid():N}");
        using var browser = _kit.Visitor();

        foreach (var token in new[] { tampered, expired, click, unknownProfile, "nonsense", "a.b", new string('x', 8000) })
        {
            foreach (var path in new[] { $"/m/u/{token}", $"/m/p/{token}" })
            {
                var page = await browser.GetAsync(path);
                Assert.Equal(HttpStatusCode.NotFound, page.StatusCode);
                Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
                Assert.Contains("expired or is not valid", await page.Content.ReadAsStringAsync());
                Assert.Equal(HttpStatusCode.NotFound, (await browser.PostAsync(path, OneClick())).StatusCode);
            }
        }
        Assert.Empty(await _kit.Events(visitor, "consent_withdrawn,newsletter_unsubscribed"));

        // An unsubscribe link also opens the preference centre (the landing links there); a preferences link is no unsubscribe link.
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync($"/m/p/{good}")).StatusCode);
        var preferences = await _kit.Token(visitor, LinkPurpose.Preferences);
        Assert.Equal(HttpStatusCode.NotFound, (await browser.PostAsync($"/m/u/{preferences}", OneClick())).StatusCode);
    }

    [Fact]
    public async Task Hostile_forms_are_refused_with_4xx_and_store_nothing()
    {
        var visitor = await _kit.Subscriber("hostile");
        var token = await _kit.Token(visitor, LinkPurpose.Preferences);
        using var browser = _kit.Visitor();
        var html = await browser.GetStringAsync($"/m/p/{token}");
        var nonce = Nonce(html);

        async Task<HttpStatusCode> Post(HttpContent content) => (await browser.PostAsync($"/m/p/{token}", content)).StatusCode;
        HttpContent Raw(byte[] bytes, string type = "application/x-www-form-urlencoded")
        {
            var content = new ByteArrayContent(bytes);
            content.Headers.ContentType = MediaTypeHeaderValue.Parse(type);
            return content;
        }

        Assert.Equal(HttpStatusCode.BadRequest, await Post(new FormUrlEncodedContent([new("nonce", nonce), new("topic", "sho\0es")])));
        Assert.Equal(HttpStatusCode.BadRequest, await Post(Raw(Encoding.ASCII.GetBytes($"nonce={nonce}&topic=%FF%FEshoes"))));
        Assert.Equal(HttpStatusCode.BadRequest, await Post(Raw([.. Encoding.ASCII.GetBytes($"nonce={nonce}&topic="), 0xC3, 0x28])));
        Assert.Equal(HttpStatusCode.BadRequest, await Post(new FormUrlEncodedContent([new("nonce", nonce), new("topic", "not-offered")])));
        Assert.Equal(HttpStatusCode.BadRequest, await Post(new FormUrlEncodedContent([new("nonce", nonce), new("topic", "shoes"), new("pause", "3650")])));
        Assert.Equal(HttpStatusCode.BadRequest, await Post(new FormUrlEncodedContent([new("nonce", "short"), new("topic", "shoes")])));
        Assert.Equal(HttpStatusCode.BadRequest, await Post(new FormUrlEncodedContent([new("nonce", nonce), new("nonce", nonce + "x")])));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, await Post(Raw(Encoding.ASCII.GetBytes($"nonce={nonce}&x=" + new string('a', 200_000)))));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, await Post(JsonContent.Create(new { nonce, topic = "shoes" })));
        // Small enough, but more values than any page of ours sends.
        Assert.Equal(HttpStatusCode.BadRequest, await Post(new FormUrlEncodedContent([new("nonce", nonce), .. Enumerable.Repeat(new KeyValuePair<string, string>("topic", "shoes"), 1000)])));
        Assert.Equal(HttpStatusCode.BadRequest, (await browser.PostAsync($"/m/u/{await _kit.Token(visitor, LinkPurpose.Unsubscribe)}",
            new FormUrlEncodedContent([new("List-Unsubscribe", "Two-Clicks")]))).StatusCode);

        Assert.Empty(await _kit.Events(visitor, "preferences_updated,consent_withdrawn,newsletter_unsubscribed"));
    }

    [Fact]
    public async Task The_page_encodes_what_the_visitor_has_and_a_double_submit_is_one_change()
    {
        var visitor = await _kit.Subscriber("twice", new { topics = new[] { "shoes", "<b>bold</b>\"x" } });
        var token = await _kit.Token(visitor, LinkPurpose.Preferences);
        using var browser = _kit.Visitor();
        var html = await browser.GetStringAsync($"/m/p/{token}");
        Assert.DoesNotContain("<b>bold</b>", html);
        Assert.Contains("&lt;b&gt;bold&lt;/b&gt;", html);
        Assert.Equal("no-store", (await browser.GetAsync($"/m/p/{token}")).Headers.CacheControl?.ToString());

        var form = FormOf(html, new Dictionary<string, string[]?> { ["pause"] = ["30"] });
        var responses = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => browser.PostAsync($"/m/p/{token}", new FormUrlEncodedContent(form))));
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.SeeOther, r.StatusCode));
        Assert.Equal($"/m/p/{token}?saved=1", responses[0].Headers.Location?.OriginalString);
        var again = await browser.PostAsync($"/m/p/{token}", new FormUrlEncodedContent(form));
        Assert.Equal(HttpStatusCode.SeeOther, again.StatusCode);

        var update = Assert.Single(await _kit.Events(visitor, "preferences_updated"), e => e.GetProperty("messageId").GetString()!.StartsWith("pc:", StringComparison.Ordinal));
        Assert.True(DateTimeOffset.Parse(Data(update, "pausedUntil"), System.Globalization.CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow.AddDays(29));
        Assert.False(update.GetProperty("data").TryGetProperty("topics", out var topics) && topics.ValueKind != JsonValueKind.Null,
            "the topics were sent back as they were, so they are not part of the change");
        Assert.Contains("Your preferences are saved.", await browser.GetStringAsync($"/m/p/{token}?saved=1"));
    }

    [Fact]
    public async Task A_link_to_a_profile_that_was_merged_reaches_the_profile_it_went_into()
    {
        var device = $"merged-{Guid.NewGuid():N}";
        await _kit.Send(device, "Newsletter Subscribed");
        await _kit.Send(device, "Consent Given", new { channel = "email", purpose = "marketing" });
        var token = await _kit.Token(device, LinkPurpose.Unsubscribe); // made while the device was its own profile
        var user = $"u-{Guid.NewGuid():N}";
        var identify = await host.Client().PostAsJsonAsync($"/v1/visitors/{device}/identify", new { userId = user, messageId = $"id-{device}" });
        Assert.True(identify.IsSuccessStatusCode, await identify.Content.ReadAsStringAsync());
        Assert.Equal($"user:{user}", await _kit.ProfileId(device));

        using var browser = _kit.Visitor();
        Assert.Equal(HttpStatusCode.OK, (await browser.PostAsync($"/m/u/{token}", OneClick())).StatusCode);
        Assert.Single(await _kit.Events($"user:{user}", "consent_withdrawn"));
        var profile = await _marketing.GetFromJsonAsync<JsonElement>($"/v1/visitors/user:{user}/profile");
        Assert.Contains("email:marketing", profile.GetProperty("withdrawnConsents").EnumerateArray().Select(c => c.GetString()));
    }

    [Fact]
    public async Task A_visitor_paused_through_the_preference_centre_gets_nothing_from_a_journey()
    {
        var category = $"c{Guid.NewGuid():N}"[..12];
        var journeyId = $"j-{Guid.NewGuid():N}"[..20];
        await TestTemplates.EnsureAsync(_marketing, "cart-reminder-1");
        var journey = new
        {
            name = $"Cart {category}",
            trigger = new { @event = "cart_item_added", category },
            start = "wait",
            steps = new object[]
            {
                new { id = "wait", wait = new { duration = "PT1S" }, next = "remind" },
                new { id = "remind", send = new { channel = "email", template = "cart-reminder-1" } },
            },
        };
        Assert.Equal(HttpStatusCode.Created, (await _marketing.PostAsJsonAsync("/v1/journeys", new { id = journeyId, journey })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _marketing.PostAsync($"/v1/journeys/{journeyId}/publish", null)).StatusCode);

        var (paused, control) = (await _kit.Subscriber("paused"), await _kit.Subscriber("control"));
        var token = await _kit.Token(paused, LinkPurpose.Preferences);
        using var browser = _kit.Visitor();
        var form = FormOf(await browser.GetStringAsync($"/m/p/{token}"), new Dictionary<string, string[]?> { ["pause"] = ["60"] });
        Assert.Equal(HttpStatusCode.SeeOther, (await browser.PostAsync($"/m/p/{token}", new FormUrlEncodedContent(form))).StatusCode);

        foreach (var v in new[] { paused, control })
            await _kit.Send(v, "Product Added", new { product_id = "sku-1", price = 20, quantity = 1, category });
        var decided = await Eventually(() => _kit.Events(paused, "message_decided"), e => e.Count > 0, TimeSpan.FromSeconds(30));
        var message = Assert.Single(decided);
        Assert.Equal("suppressed", Data(message, "outcome"));
        Assert.StartsWith("paused_until:", Data(message, "reason"));
        var sent = await Eventually(() => _kit.Events(control, "message_decided"), e => e.Count > 0, TimeSpan.FromSeconds(30));
        Assert.Equal("sent", Data(Assert.Single(sent), "outcome")); // the same journey sends to a visitor who did not pause
    }
}
