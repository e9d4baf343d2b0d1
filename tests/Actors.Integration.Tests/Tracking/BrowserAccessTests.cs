using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Actors.Integration.Tests.Support;
using Actors.Storage.Access;
using Microsoft.Extensions.DependencyInjection;

namespace Actors.Integration.Tests.Tracking;

/// <summary>A host whose configuration lets every ingest key be used from one origin, besides the keys' own origins.</summary>
public sealed class BrowserAccessHostFixture : HostFixture
{
    public const string EveryKeyOrigin = "https://everywhere.example";

    protected override IEnumerable<string> ExtraArguments() => [$"--Actors:Api:AllowedOrigins={EveryKeyOrigin}"];
}

/// <summary>
/// What a browser may and may not do, at the HTTP level, as the browser SDKs send it and as a hostile page would: CORS
/// preflights per origin and per route, text/plain bodies with the key inside on analytics.js's short paths, RudderStack's
/// beacon path, the SDK settings documents, keys used from origins they do not allow, NUL characters, retries.
/// </summary>
public sealed class BrowserAccessTests(BrowserAccessHostFixture host) : IClassFixture<BrowserAccessHostFixture>
{
    private const string Shop = "https://shop.example";
    private const string Stranger = "https://evil.example";

    private ApiKeyStore Keys => host.Host.App.Services.GetRequiredService<ApiKeyStore>();

    private async Task<string> ShopKey(params string[] origins) =>
        (await Keys.CreateAsync($"web-{Guid.NewGuid():N}", ApiScope.Ingest, origins.Length == 0 ? [Shop] : origins)).Key;

    private static HttpRequestMessage Preflight(string path, string origin, string method, string headers = "authorization,content-type")
    {
        var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", method);
        request.Headers.Add("Access-Control-Request-Headers", headers);
        return request;
    }

    /// <summary>What analytics.js's fetch and sendBeacon send: the message as text/plain, the write key inside it.</summary>
    private static HttpRequestMessage TextPlain(string path, string origin, string json)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "text/plain") };
        request.Headers.Add("Origin", origin);
        return request;
    }

    private static string? AllowOrigin(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Access-Control-Allow-Origin", out var values) ? string.Join(",", values) : null;

    private static bool AnyCorsHeader(HttpResponseMessage response) =>
        response.Headers.Any(h => h.Key.StartsWith("Access-Control-", StringComparison.OrdinalIgnoreCase));

    private static string Track(string writeKey, string anonymousId, string messageId, string name = "Trail shoe") =>
        JsonSerializer.Serialize(new
        {
            writeKey, type = "track", @event = "Product Viewed", anonymousId, messageId,
            properties = new { product_id = "sku-7", name, price = 89.9 },
            context = new { library = new { name = "analytics.js", version = "next-1.84.3" } },
            sentAt = DateTimeOffset.UtcNow, _metadata = new { bundled = new[] { "Segment.io" }, unbundled = Array.Empty<string>(), bundledIds = Array.Empty<string>() },
        });

    private async Task<List<JsonElement>> Events(string visitor)
    {
        var page = await host.Client(HostFixture.AdminKey).GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/events?limit=100");
        return [.. page.GetProperty("items").EnumerateArray()];
    }

    [Fact]
    public async Task A_preflight_from_a_keys_origin_is_answered_for_the_ingest_and_visitor_routes_without_credentials()
    {
        await ShopKey();
        using var client = host.Client(key: null);
        foreach (var (path, method) in new[]
        {
            ("/v1/t", "POST"), ("/v1/p", "POST"), ("/v1/i", "POST"), ("/v1/g", "POST"), ("/v1/a", "POST"), ("/v1/s", "POST"), ("/v1/b", "POST"),
            ("/v1/track", "POST"), ("/v1/batch", "POST"), ("/beacon/v1/batch", "POST"), ("/sourceConfig/", "GET"),
            ("/v1/visitors/anon-1/profile", "GET"), ("/v1/visitors/anon-1/decisions", "GET"), ("/v1/visitors/anon-1/decisions/welcome/dismiss", "POST"),
            ("/v1/visitors/anon-1/push-subscriptions", "POST"), ("/v1/visitors/anon-1/push-subscriptions", "DELETE"), ("/v1/visitors/anon-1/events", "POST"),
        })
        {
            using var response = await client.SendAsync(Preflight(path, Shop, method, "authorization,content-type,x-visitor-token,anonymousid"));
            Assert.True(response.StatusCode == HttpStatusCode.NoContent, $"{method} {path}: {response.StatusCode}");
            Assert.Equal(Shop, AllowOrigin(response));
            Assert.Contains(method, string.Join(",", response.Headers.GetValues("Access-Control-Allow-Methods")));
            Assert.Contains("authorization", string.Join(",", response.Headers.GetValues("Access-Control-Allow-Headers")), StringComparison.OrdinalIgnoreCase);
            Assert.False(response.Headers.Contains("Access-Control-Allow-Credentials"), $"{path} allows credentials");
        }
    }

    [Fact]
    public async Task A_preflight_from_an_origin_no_key_allows_gets_no_CORS_headers()
    {
        await ShopKey();
        using var client = host.Client(key: null);
        foreach (var path in new[] { "/v1/t", "/v1/batch", "/v1/visitors/anon-1/profile" })
        {
            using var response = await client.SendAsync(Preflight(path, Stranger, path.EndsWith("profile") ? "GET" : "POST"));
            Assert.False(AnyCorsHeader(response), $"{path} answered CORS to {Stranger}");
        }
    }

    [Fact]
    public async Task Marketing_and_admin_routes_never_answer_CORS_even_to_an_allowed_origin()
    {
        await ShopKey();
        using var anonymous = host.Client(key: null);
        foreach (var (path, method) in new[]
        {
            ("/v1/users/user:ada/events", "GET"), ("/v1/users/user:ada/state", "GET"), ("/v1/segments", "POST"), ("/v1/segments", "GET"),
            ("/v1/profiles/merge", "POST"), ("/v1/profiles/unmerge", "POST"), ("/v1/visitors/user:ada/token", "POST"), ("/v1/journeys", "POST"),
        })
        {
            using var response = await anonymous.SendAsync(Preflight(path, Shop, method));
            Assert.False(AnyCorsHeader(response), $"{method} {path} answered a preflight");
            Assert.False(response.IsSuccessStatusCode, $"{method} {path} answered a preflight with {response.StatusCode}");
        }

        // Sent anyway (a page cannot, but a script can): refused, and nothing for a browser to read.
        var request = new HttpRequestMessage(HttpMethod.Get, "/v1/users/user:ada/events");
        request.Headers.Add("Origin", Shop);
        using var admin = host.Client(HostFixture.AdminKey);
        using var read = await admin.SendAsync(request);
        Assert.Equal(HttpStatusCode.Forbidden, read.StatusCode);
        Assert.False(AnyCorsHeader(read));
    }

    [Fact]
    public async Task A_text_plain_message_on_a_short_path_with_the_key_in_the_body_is_stored_once_even_when_the_SDK_retries_it()
    {
        var key = await ShopKey();
        var anonymousId = $"tp-{Guid.NewGuid():N}";
        var body = Track(key, anonymousId, $"ajs-next-{Guid.NewGuid():N}");
        using var client = host.Client(key: null);

        using var first = await client.SendAsync(TextPlain("/v1/t", Shop, body));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(Shop, AllowOrigin(first));
        Assert.Equal(1, (await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accepted").GetInt32());

        using var retry = await client.SendAsync(TextPlain("/v1/t", Shop, body)); // the SDK did not see the first answer
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Equal(1, (await retry.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("duplicates").GetInt32());

        Assert.Single(await Events(anonymousId), e => e.GetProperty("type").GetString() == "product_viewed");
    }

    [Fact]
    public async Task Every_short_path_and_the_batch_paths_store_what_analytics_js_and_RudderStacks_beacon_send()
    {
        var key = await ShopKey();
        var anonymousId = $"sp-{Guid.NewGuid():N}";
        var userId = $"sp-user-{Guid.NewGuid():N}";
        using var client = host.Client(key: null);

        string Message(string type, object fields) => JsonSerializer.Serialize(
            new Dictionary<string, object?> { ["writeKey"] = key, ["type"] = type, ["anonymousId"] = anonymousId, ["messageId"] = $"{type}-{Guid.NewGuid():N}", ["sentAt"] = DateTimeOffset.UtcNow }
                .Concat(JsonSerializer.SerializeToElement(fields).EnumerateObject().Select(p => KeyValuePair.Create(p.Name, (object?)p.Value)))
                .ToDictionary());

        foreach (var (path, json) in new[]
        {
            ("/v1/p", Message("page", new { name = "Home", properties = new { url = "https://shop.example/" } })),
            ("/v1/s", Message("screen", new { name = "Basket" })),
            ("/v1/g", Message("group", new { groupId = "team-1", traits = new { name = "Team" } })),
            ("/v1/i", Message("identify", new { userId, traits = new { email = "sp@example.com" } })),
        })
        {
            using var response = await client.SendAsync(TextPlain(path, Shop, json));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        // analytics.js's batching delivery: /v1/b, {writeKey, batch, sentAt}, text/plain.
        var batch = $$"""{"writeKey":"{{key}}","sentAt":"{{DateTimeOffset.UtcNow:O}}","batch":[{{Track(key, anonymousId, $"b1-{Guid.NewGuid():N}")}},{{Message("track", new { userId, @event = "Product Added", properties = new { product_id = "sku-7", price = 89.9, quantity = 1 } })}}]}""";
        using (var response = await client.SendAsync(TextPlain("/v1/b", Shop, batch)))
            Assert.Equal(2, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accepted").GetInt32());

        // RudderStack's BeaconQueue on page unload: sendBeacon of a text/plain {batch, sentAt}, the key only in the query.
        var beacon = JsonSerializer.Serialize(new
        {
            sentAt = DateTimeOffset.UtcNow,
            batch = new[]
            {
                new
                {
                    type = "track", @event = "Order Completed", anonymousId, userId, messageId = $"rs-{Guid.NewGuid():N}", channel = "web",
                    originalTimestamp = DateTimeOffset.UtcNow, properties = new { order_id = $"o-{userId}", total = 89.9, currency = "EUR" },
                },
            },
        });
        using (var response = await client.SendAsync(TextPlain($"/beacon/v1/batch?writeKey={key}", Shop, beacon)))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(Shop, AllowOrigin(response));
        }

        var types = (await Events($"user:{userId}")).Select(e => e.GetProperty("type").GetString()).ToList();
        Assert.True(types.Count(t => t == "page_viewed") == 2, string.Join(", ", types)); // the page and the screen
        foreach (var type in new[] { "identified", "product_viewed", "cart_item_added", "order_placed" })
            Assert.True(types.Count(t => t == type) == 1, $"{type}: {string.Join(", ", types)}");
        var profile = await host.Client(HostFixture.AdminKey).GetFromJsonAsync<JsonElement>($"/v1/visitors/user:{userId}/profile");
        Assert.Equal("customer", profile.GetProperty("stage").GetString());
    }

    [Fact]
    public async Task A_sendBeacon_body_with_a_wrong_write_key_is_401_and_stores_nothing()
    {
        var anonymousId = $"wk-{Guid.NewGuid():N}";
        using var client = host.Client(key: null);
        foreach (var path in new[] { "/v1/t", "/v1/track" })
        {
            using var response = await client.SendAsync(TextPlain(path, Shop, Track("ak_ingest_madeup0000000000000000000000", anonymousId, $"m-{Guid.NewGuid():N}")));
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
        using (var noKey = await client.SendAsync(TextPlain("/v1/t", Shop, """{"type":"track","event":"Product Viewed","anonymousId":"x"}""")))
            Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
        using (var beacon = await client.SendAsync(TextPlain("/beacon/v1/batch?writeKey=ak_ingest_madeup", Shop, """{"batch":[]}""")))
            Assert.Equal(HttpStatusCode.Unauthorized, beacon.StatusCode);

        using var admin = host.Client(HostFixture.AdminKey);
        var stream = await admin.GetFromJsonAsync<JsonElement>($"/v1/users/{anonymousId}/events");
        Assert.Empty(stream.GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task A_key_used_from_a_page_of_an_origin_it_does_not_allow_is_refused_and_secret_keys_never_work_from_a_page()
    {
        var shopKey = await ShopKey();
        var otherShop = "https://other-shop.example";
        await ShopKey(otherShop); // allowed for some key: its preflight is answered, yet this shop's key is not for it
        using var client = host.Client(key: null);

        using (var stranger = await client.SendAsync(TextPlain("/v1/t", Stranger, Track(shopKey, "x-1", $"m-{Guid.NewGuid():N}"))))
        {
            Assert.Equal(HttpStatusCode.Forbidden, stranger.StatusCode);
            Assert.Null(AllowOrigin(stranger));
        }
        using (var other = await client.SendAsync(TextPlain("/v1/t", otherShop, Track(shopKey, "x-2", $"m-{Guid.NewGuid():N}"))))
        {
            Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
            Assert.Contains(otherShop, await other.Content.ReadAsStringAsync());
        }

        // The host's own setting lets every ingest key in, the bootstrap one included.
        using (var everywhere = await client.SendAsync(TextPlain("/v1/t", BrowserAccessHostFixture.EveryKeyOrigin, Track(HostFixture.IngestKey, "x-3", $"m-{Guid.NewGuid():N}"))))
        {
            Assert.Equal(HttpStatusCode.OK, everywhere.StatusCode);
            Assert.Equal(BrowserAccessHostFixture.EveryKeyOrigin, AllowOrigin(everywhere));
        }

        // A marketing key in a page, even one of an allowed origin, is refused: it is a secret.
        var profileRead = new HttpRequestMessage(HttpMethod.Get, "/v1/visitors/x-3/profile");
        profileRead.Headers.Add("Origin", BrowserAccessHostFixture.EveryKeyOrigin);
        using var marketing = host.Client(HostFixture.MarketingKey);
        using var secret = await marketing.SendAsync(profileRead);
        Assert.Equal(HttpStatusCode.Forbidden, secret.StatusCode);
        Assert.Contains("secret", await secret.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_key_that_allows_any_origin_works_from_every_page_and_origins_changed_on_a_key_apply_at_once()
    {
        var any = await Keys.CreateAsync("anywhere", ApiScope.Ingest, ["*"]);
        using var client = host.Client(key: null);
        var somewhere = $"https://{Guid.NewGuid():N}.example";
        try
        {
            using (var preflight = await client.SendAsync(Preflight("/v1/t", somewhere, "POST")))
                Assert.Equal(somewhere, AllowOrigin(preflight));
            using (var sent = await client.SendAsync(TextPlain("/v1/t", somewhere, Track(any.Key, "any-1", $"m-{Guid.NewGuid():N}"))))
                Assert.Equal(HttpStatusCode.OK, sent.StatusCode);
        }
        finally
        {
            await Keys.RevokeAsync(any.Id); // the other tests' strangers must stay strangers
        }
        using (var revoked = await client.SendAsync(Preflight("/v1/t", somewhere, "POST")))
            Assert.Null(AllowOrigin(revoked));

        var created = await Keys.CreateAsync("moving-shop", ApiScope.Ingest, ["https://old.example"]);
        Assert.True(await Keys.SetAllowedOriginsAsync(created.Id, ["https://new.example/"]));
        using (var old = await client.SendAsync(TextPlain("/v1/t", "https://old.example", Track(created.Key, "mv-1", $"m-{Guid.NewGuid():N}"))))
            Assert.Equal(HttpStatusCode.Forbidden, old.StatusCode);
        using (var moved = await client.SendAsync(TextPlain("/v1/t", "https://new.example", Track(created.Key, "mv-2", $"m-{Guid.NewGuid():N}"))))
            Assert.Equal(HttpStatusCode.OK, moved.StatusCode);

        await Assert.ThrowsAsync<ArgumentException>(() => Keys.CreateAsync("bad", ApiScope.Ingest, ["https://shop.example/checkout"]));
    }

    [Fact]
    public async Task A_NUL_character_in_a_text_plain_body_is_a_400_naming_the_field_on_every_browser_path()
    {
        var key = await ShopKey();
        using var client = host.Client(key: null);
        var nul = Track(key, $"nul-{Guid.NewGuid():N}", $"m-{Guid.NewGuid():N}", name: "Trail\0shoe");
        Assert.Contains("\\u0000", nul); // as JSON carries it

        foreach (var (path, json, field) in new[]
        {
            ("/v1/t", nul, "properties.name"),
            ("/v1/b", $$"""{"writeKey":"{{key}}","batch":[{{nul}}]}""", "batch[0].properties.name"),
            ($"/beacon/v1/batch?writeKey={key}", $$"""{"batch":[{{nul}}]}""", "batch[0].properties.name"),
        })
        {
            using var response = await client.SendAsync(TextPlain(path, Shop, json));
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{path}: {response.StatusCode}");
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"{path}: {problem}");
            Assert.Equal(Shop, AllowOrigin(response)); // the page's SDK can read why, and drops the message rather than retry
        }

        // A NUL in the write key itself is no key.
        using var badKey = await client.SendAsync(TextPlain("/v1/t", Shop, """{"writeKey":"ak\u0000x","type":"track","event":"E","anonymousId":"a"}"""));
        Assert.Equal(HttpStatusCode.Unauthorized, badKey.StatusCode);
    }

    [Fact]
    public async Task The_settings_documents_send_the_SDKs_to_this_host_and_need_a_valid_write_key()
    {
        var key = await ShopKey();
        using var client = host.Client(key: null);

        var settingsRequest = new HttpRequestMessage(HttpMethod.Get, $"/v1/projects/{key}/settings");
        settingsRequest.Headers.Add("Origin", Shop);
        using var settings = await client.SendAsync(settingsRequest);
        Assert.Equal(HttpStatusCode.OK, settings.StatusCode);
        Assert.Equal(Shop, AllowOrigin(settings));
        var segment = (await settings.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("integrations").GetProperty("Segment.io");
        Assert.Equal($"127.0.0.1:{host.BaseAddress.Port}/v1", segment.GetProperty("apiHost").GetString());
        Assert.Equal("http", segment.GetProperty("protocol").GetString());
        Assert.Equal(key, segment.GetProperty("apiKey").GetString());

        using (var unknown = await client.GetAsync("/v1/projects/ak_ingest_unknown/settings"))
            Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);

        // RudderStack's source configuration: the write key as the Basic user name (and in the query), as the SDK sends it.
        var sourceRequest = new HttpRequestMessage(HttpMethod.Get, $"/sourceConfig/?p=npm&v=3.34.1&build=modern&writeKey={key}&lockIntegrationsVersion=true");
        sourceRequest.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{key}:")));
        sourceRequest.Headers.Add("Origin", Shop);
        using var source = await client.SendAsync(sourceRequest);
        Assert.Equal(HttpStatusCode.OK, source.StatusCode);
        var config = (await source.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("source");
        Assert.True(config.GetProperty("enabled").GetBoolean());
        Assert.Empty(config.GetProperty("destinations").EnumerateArray());
        using (var unknown = await client.GetAsync("/sourceConfig/?writeKey=ak_ingest_unknown"))
            Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
    }
}
