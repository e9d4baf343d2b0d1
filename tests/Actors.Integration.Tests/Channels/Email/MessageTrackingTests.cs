using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Api.Channels;
using Actors.Channels.Links;
using Actors.Integration.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Actors.Integration.Tests.Channels.Email;

/// <summary>
/// The open pixel and click redirect through HTTP on the real host: a signed link records its event in the visitor's
/// stream (read back through the replay route), once; a link that is not genuine records nothing.
/// </summary>
public sealed class MessageTrackingTests(HostFixture host) : IClassFixture<HostFixture>
{
    private readonly HttpClient _ingest = host.Client();
    private readonly HttpClient _admin = host.Client(HostFixture.AdminKey);
    private readonly HttpClient _visitor = new(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = host.BaseAddress }; // no key
    private LinkUrls Urls => host.Host.App.Services.GetRequiredService<LinkUrls>();
    private MessageLinks Links => host.Host.App.Services.GetRequiredService<MessageLinks>();

    /// <summary>A visitor with one event; returns its id for the routes and its profile id.</summary>
    private async Task<(string Visitor, string ProfileId)> Visitor()
    {
        var visitor = $"t-{Guid.NewGuid():N}";
        var sent = await _ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events",
            new { @event = "Product Viewed", messageId = $"{visitor}-1", properties = new { product_id = "p1", category = "shoes" } });
        Assert.True(sent.IsSuccessStatusCode, await sent.Content.ReadAsStringAsync());
        var page = await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/events");
        return (visitor, page.GetProperty("profileId").GetString()!);
    }

    private async Task<List<JsonElement>> Events(string visitor, string type) =>
        [.. (await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/events?type={type}&limit=1000")).GetProperty("items").EnumerateArray()];

    /// <summary>The path of a link made for the default public address, to request from the test host instead.</summary>
    private string PathOf(string url) => url[Urls.BaseUrl.Length..];

    private static string KeyFor(string profileId) => $"{profileId}:j-cart:1:remind:1";

    private static async Task AssertPixel(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/gif", response.Content.Headers.ContentType?.MediaType);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal("GIF89a"u8.ToArray(), bytes[..6]);
        Assert.Equal(43, bytes.Length);
        Assert.Equal(0x3B, bytes[^1]); // the GIF trailer
        Assert.Contains("no-store", response.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task The_pixel_records_one_open_however_often_it_is_loaded()
    {
        var (visitor, profileId) = await Visitor();
        var key = KeyFor(profileId);
        var pixel = PathOf(await Urls.OpenAsync(profileId, key, "email"));

        await AssertPixel(await _visitor.GetAsync(pixel));
        await AssertPixel(await _visitor.GetAsync(pixel));

        var opened = Assert.Single(await Events(visitor, "message_opened"));
        Assert.Equal($"{key}:opened", opened.GetProperty("messageId").GetString());
        Assert.Equal(key, opened.GetProperty("data").GetProperty("messageKey").GetString());
        Assert.Equal("email", opened.GetProperty("data").GetProperty("channel").GetString());
    }

    [Fact]
    public async Task A_click_records_the_destination_once_per_link_and_redirects_there()
    {
        var (visitor, profileId) = await Visitor();
        var key = KeyFor(profileId);
        const string cart = "https://shop.example/cart?a=1&b=2";
        const string product = "http://shop.example/p/1";
        var cartLink = PathOf(await Urls.ClickAsync(profileId, key, "email", cart));

        foreach (var _ in new[] { 1, 2 })
        {
            var response = await _visitor.GetAsync(cartLink);
            Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
            Assert.Equal(cart, response.Headers.Location?.OriginalString);
        }
        var productResponse = await _visitor.GetAsync(PathOf(await Urls.ClickAsync(profileId, key, "email", product)));
        Assert.Equal(product, productResponse.Headers.Location?.OriginalString);

        // A destination beyond ASCII still makes a valid Location header (punycode host, percent-encoded path and query).
        const string unicode = "https://bücher.example/schuhe/größe?farbe=grün#oben";
        var unicodeResponse = await _visitor.GetAsync(PathOf(await Urls.ClickAsync(profileId, key, "email", unicode)));
        Assert.Equal(HttpStatusCode.Redirect, unicodeResponse.StatusCode);
        Assert.Equal("https://xn--bcher-kva.example/schuhe/gr%C3%B6%C3%9Fe?farbe=gr%C3%BCn#oben", unicodeResponse.Headers.Location?.OriginalString);

        var clicks = await Events(visitor, "message_clicked");
        Assert.Equal([cart, product, unicode], clicks.Select(c => c.GetProperty("data").GetProperty("url").GetString()));
        Assert.Equal(MessageTrackingApi.ClickedMessageId(key, cart), clicks[0].GetProperty("messageId").GetString());
        Assert.All(clicks, c => Assert.Equal(key, c.GetProperty("data").GetProperty("messageKey").GetString()));
    }

    [Fact]
    public async Task A_link_that_is_not_genuine_records_nothing_the_pixel_still_answers_and_the_click_is_not_found()
    {
        var (visitor, profileId) = await Visitor();
        var key = KeyFor(profileId);
        var open = PathOf(await Urls.OpenAsync(profileId, key, "email"));
        var click = PathOf(await Urls.ClickAsync(profileId, key, "email", "https://shop.example/"));
        var openToken = open["/m/o/".Length..];
        var clickToken = click["/m/c/".Length..];

        string[] badOpens =
        [
            "/m/o/" + Tamper(openToken),
            "/m/o/" + clickToken, // a genuine token, for another purpose
            "/m/o/" + await Links.SignAsync(LinkPurpose.Open, profileId, key, "email", lifetime: TimeSpan.FromSeconds(-1)), // expired
            "/m/o/not-a-token",
            "/m/o/" + new string('A', 7000) + "." + new string('B', 100),
        ];
        foreach (var path in badOpens) await AssertPixel(await _visitor.GetAsync(path));

        string[] badClicks =
        [
            "/m/c/" + Tamper(clickToken),
            "/m/c/" + openToken,
            "/m/c/" + await Links.SignAsync(LinkPurpose.Click, profileId, key, "email", "https://shop.example/", TimeSpan.FromSeconds(-1)),
            "/m/c/" + await Links.SignAsync(LinkPurpose.Click, profileId, key, "email", "javascript:alert(1)"), // never a redirect target
            "/m/c/not-a-token",
            "/m/c/" + new string('A', 7000) + "." + new string('B', 100),
        ];
        foreach (var path in badClicks)
        {
            var response = await _visitor.GetAsync(path);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
            Assert.Null(response.Headers.Location);
        }
        // What the web server refuses before any route (NUL in the path, a request line over its limit) is a 4xx too.
        foreach (var path in new[] { "/m/o/%00%00.%00", "/m/c/%00%00.%00", "/m/o/" + new string('A', 20_000), "/m/c/" + new string('A', 20_000) })
        {
            var refused = await _visitor.GetAsync(path);
            Assert.True((int)refused.StatusCode is >= 400 and < 500, $"{path[..8]}: {refused.StatusCode}");
        }

        Assert.Empty(await Events(visitor, "message_opened,message_clicked"));
        // The genuine links still work after all that.
        Assert.Equal(HttpStatusCode.Redirect, (await _visitor.GetAsync(click)).StatusCode);
        Assert.Single(await Events(visitor, "message_clicked"));
    }

    /// <summary>One character of the signed payload changed: still well-formed, no longer what was signed.</summary>
    private static string Tamper(string token) => (token[3] == 'A' ? 'B' : 'A') is var c ? token[..3] + c + token[4..] : token;

    [Fact]
    public async Task An_open_of_a_profile_merged_since_the_send_reaches_the_profile_it_went_into()
    {
        var (device, deviceProfile) = await Visitor();
        var user = $"u-{Guid.NewGuid():N}";
        var identify = await _ingest.PostAsJsonAsync($"/v1/visitors/{device}/identify", new { userId = user, messageId = $"id-{device}" });
        Assert.True(identify.IsSuccessStatusCode, await identify.Content.ReadAsStringAsync());
        var userPage = await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/user:{user}/events");
        Assert.NotEqual(deviceProfile, userPage.GetProperty("profileId").GetString());

        var key = KeyFor(deviceProfile); // the email went out while the device was its own profile
        await AssertPixel(await _visitor.GetAsync(PathOf(await Urls.OpenAsync(deviceProfile, key, "email"))));

        var opened = Assert.Single(await Events($"user:{user}", "message_opened"));
        Assert.Equal(key, opened.GetProperty("data").GetProperty("messageKey").GetString());
    }
}
