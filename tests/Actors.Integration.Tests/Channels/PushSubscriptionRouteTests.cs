using System.Buffers.Text;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Actors.Api.Access;
using Actors.Channels.Delivery;
using Actors.Channels.Push;
using Actors.Domain.Channels;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;
using Actors.Integration.Tests.Support;
using Actors.Storage.Streams;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Actors.Integration.Tests.Channels;

/// <summary>Reads a visitor's stream back from PostgreSQL and folds it: what a reloaded grain would know.</summary>
internal static class Streams
{
    public static async Task<(VisitorProfile Profile, IReadOnlyList<VisitorEvent> Events)> FoldAsync(HostFixture host, string profileId)
    {
        var stored = await new MartenVisitorStreams(host.Host.App.Services.GetRequiredService<IDocumentStore>()).ReadAsync(profileId, new EventQuery(1, 1000));
        var profile = new VisitorProfile(profileId);
        foreach (var e in stored) profile.Apply(e.Event);
        return (profile, [.. stored.Select(e => e.Event)]);
    }
}

/// <summary>The subscription routes over HTTP → visitor grain → PostgreSQL, with the host's default (strict) endpoint rules.</summary>
public class PushSubscriptionRouteTests(HostFixture host) : IClassFixture<HostFixture>
{
    private readonly HttpClient _ingest = host.Client();

    private static object SubscriptionJson(string endpoint, TestBrowser browser) =>
        new { endpoint, expirationTime = (long?)null, keys = new { p256dh = browser.P256dh, auth = browser.AuthText } };

    private static Task<HttpResponseMessage> DeleteAsync(HttpClient client, string url, object body) =>
        client.SendAsync(new HttpRequestMessage(HttpMethod.Delete, url) { Content = JsonContent.Create(body) });

    [Fact]
    public async Task The_VAPID_public_key_is_a_P256_point_every_call_and_node_agrees_on()
    {
        var first = await _ingest.GetFromJsonAsync<JsonElement>("/v1/push/vapid-public-key");
        var second = await _ingest.GetFromJsonAsync<JsonElement>("/v1/push/vapid-public-key");
        var key = first.GetProperty("publicKey").GetString()!;
        Assert.True(P256.IsValidPublicKey(Base64Url.DecodeFromChars(key)));
        Assert.Equal(key, second.GetProperty("publicKey").GetString());
        // Another node derives it from the same secret in PostgreSQL.
        var secrets = host.Host.App.Services.GetRequiredService<Actors.Storage.Access.InstallationSecrets>();
        var otherNode = new VapidKeys(new PushSettings(), TimeProvider.System, secrets);
        Assert.Equal(key, (await otherNode.GetAsync()).PublicKeyText);
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Client(null).GetAsync("/v1/push/vapid-public-key")).StatusCode);
    }

    [Fact]
    public async Task A_subscription_is_stored_once_in_the_visitors_stream_reaches_the_recipient_and_is_removed_again()
    {
        var visitor = $"push-{Guid.NewGuid():N}";
        using var browser = new TestBrowser();
        var endpoint = $"https://push.example.net/wpush/v2/{Guid.NewGuid():N}";
        // Some libraries pad their base64url: the same keys, stored canonically.
        var padded = new { endpoint, expirationTime = 1_900_000_000_000L, keys = new { p256dh = browser.P256dh + "=", auth = browser.AuthText + "==" } };

        var created = await _ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/push-subscriptions", padded);
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        Assert.False((await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("duplicate").GetBoolean());
        var retried = await _ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/push-subscriptions", SubscriptionJson(endpoint, browser));
        Assert.True((await retried.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("duplicate").GetBoolean());

        var (profile, events) = await Streams.FoldAsync(host, $"anon:{visitor}");
        var stored = Assert.Single(events.OfType<PushSubscribed>());
        Assert.Equal((endpoint, browser.P256dh, browser.AuthText), (stored.Endpoint, stored.P256dh, stored.Auth));
        var recipient = Assert.Single(MessageRecipient.From(profile, PopularProducts.None).PushSubscriptions);
        Assert.Equal((endpoint, browser.P256dh, browser.AuthText), (recipient.Endpoint, recipient.P256dh, recipient.Auth));

        var removed = await DeleteAsync(_ingest, $"/v1/visitors/{visitor}/push-subscriptions", new { endpoint });
        Assert.Equal(HttpStatusCode.OK, removed.StatusCode);
        (profile, events) = await Streams.FoldAsync(host, $"anon:{visitor}");
        Assert.Equal(endpoint, Assert.Single(events.OfType<PushUnsubscribed>()).Endpoint);
        Assert.Empty(MessageRecipient.From(profile, PopularProducts.None).PushSubscriptions);
    }

    public static TheoryData<string, string> Hostile()
    {
        using var browser = new TestBrowser();
        var good = browser.P256dh;
        var auth = browser.AuthText;
        var offCurve = Base64Url.DecodeFromChars(good);
        offCurve[64] ^= 1;
        string Body(string endpointJson, string keysJson, string extra = "") => $$"""{"endpoint":{{endpointJson}},{{extra}}"keys":{{keysJson}}}""";
        var keys = $$"""{"p256dh":"{{good}}","auth":"{{auth}}"}""";
        const string ok = "\"https://push.example.net/x\"";
        return new()
        {
            { "[]", "body" },
            { "\"just a string\"", "body" },
            { Body("null", keys), "endpoint" },
            { Body("42", keys), "endpoint" },
            { Body("\"not a url\"", keys), "endpoint" },
            { Body("\"http://push.example.net/x\"", keys), "endpoint" },
            { Body("\"https://127.0.0.1/x\"", keys), "endpoint" },
            { Body("\"https://169.254.169.254/latest/meta-data\"", keys), "endpoint" },
            { Body("\"https://[::1]:8443/x\"", keys), "endpoint" },
            { Body("\"https://localhost/x\"", keys), "endpoint" },
            { Body("\"file:///etc/passwd\"", keys), "endpoint" },
            { Body($"\"https://push.example.net/{new string('a', 2100)}\"", keys), "endpoint" },
            { Body("\"https://push.example.net/\\u0000\"", keys), "endpoint" },
            { Body("\"https://push.example.net/\\ud800\"", keys), "endpoint" },
            { Body(ok, keys, "\"expirationTime\":\"tomorrow\","), "expirationTime" },
            { $$"""{"endpoint":{{ok}}}""", "keys" },
            { Body(ok, "[1,2]"), "keys" },
            { Body(ok, $$"""{"auth":"{{auth}}"}"""), "keys.p256dh" },
            { Body(ok, $$"""{"p256dh":"{{good[..40]}}","auth":"{{auth}}"}"""), "keys.p256dh" },
            { Body(ok, $$"""{"p256dh":"{{Base64Url.EncodeToString(offCurve)}}","auth":"{{auth}}"}"""), "keys.p256dh" },
            { Body(ok, $$"""{"p256dh":"***not base64***","auth":"{{auth}}"}"""), "keys.p256dh" },
            { Body(ok, $$"""{"p256dh":7,"auth":"{{auth}}"}"""), "keys.p256dh" },
            { Body(ok, $$"""{"p256dh":"{{good}}","auth":"{{auth[..^2]}}"}"""), "keys.auth" },
            { Body(ok, $$"""{"p256dh":"{{good}}","auth":"{{Base64Url.EncodeToString(new byte[32])}}"}"""), "keys.auth" },
            { Body(ok, $$"""{"p256dh":"{{good}}"}"""), "keys.auth" },
        };
    }

    [Theory]
    [MemberData(nameof(Hostile))]
    public async Task Hostile_subscriptions_are_refused_naming_the_field_and_store_nothing(string body, string field)
    {
        var visitor = $"push-bad-{Guid.NewGuid():N}";
        var response = await _ingest.PostAsync($"/v1/visitors/{visitor}/push-subscriptions", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"{field} not named in {problem}");
        Assert.Empty((await Streams.FoldAsync(host, $"anon:{visitor}")).Events);
    }

    [Fact]
    public async Task Malformed_removals_and_visitor_ids_are_client_errors()
    {
        Assert.Equal(HttpStatusCode.BadRequest, (await DeleteAsync(_ingest, "/v1/visitors/v1/push-subscriptions", new { endpoint = 5 })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await DeleteAsync(_ingest, "/v1/visitors/v1/push-subscriptions", new { endpoint = "https://push.example.net/x", keys = new { p256dh = "AAAA", auth = "AAAA" } })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _ingest.PostAsync("/v1/visitors/v1/push-subscriptions", new StringContent("{", Encoding.UTF8, "application/json"))).StatusCode);
        using var browser = new TestBrowser();
        var longId = new string('v', 201);
        Assert.Equal(HttpStatusCode.BadRequest, (await _ingest.PostAsJsonAsync($"/v1/visitors/{longId}/push-subscriptions", SubscriptionJson("https://push.example.net/x", browser))).StatusCode);
    }

    [Fact]
    public async Task Hostile_visitor_ids_never_give_a_server_error()
    {
        string[] ids = ["a%00b", "a%ED%A0%80b", "%F0", new string('x', 10_240), "a%0Ab", "..%2F..", "user:%00", "user:", "anon:", new string('y', 300), "user:" + new string('z', 2_000), "anon:%F0%9F%98%80"];
        using var browser = new TestBrowser();
        var failures = new List<string>();
        foreach (var client in new[] { _ingest, host.Client(HostFixture.AdminKey) })
        foreach (var id in ids)
        {
            var url = $"/v1/visitors/{id}/push-subscriptions";
            var posted = await client.PostAsJsonAsync(url, SubscriptionJson($"https://push.example.net/{Guid.NewGuid():N}", browser));
            var deleted = await DeleteAsync(client, url, new { endpoint = "https://push.example.net/x" });
            foreach (var response in new[] { posted, deleted })
                if ((int)response.StatusCode >= 500) failures.Add($"{response.RequestMessage!.Method} [{id[..Math.Min(12, id.Length)]}]: {(int)response.StatusCode}");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task An_ingest_key_attaches_a_browser_to_a_known_customer_only_with_their_visitor_token()
    {
        var user = $"pushy-{Guid.NewGuid():N}";
        var marketing = host.Client(HostFixture.MarketingKey);
        Assert.Equal(HttpStatusCode.OK, (await _ingest.PostAsJsonAsync($"/v1/visitors/dev-{user}/identify", new { userId = user, messageId = Guid.NewGuid().ToString() })).StatusCode);
        using var browser = new TestBrowser();
        var endpoint = $"https://push.example.net/{Guid.NewGuid():N}";
        var url = $"/v1/visitors/user:{user}/push-subscriptions";

        Assert.Equal(HttpStatusCode.Forbidden, (await _ingest.PostAsJsonAsync(url, SubscriptionJson(endpoint, browser))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await DeleteAsync(_ingest, url, new { endpoint })).StatusCode);
        var otherToken = await TokenAsync(marketing, $"someone-else-{Guid.NewGuid():N}");
        Assert.Equal(HttpStatusCode.Forbidden, (await SendWithToken(url, SubscriptionJson(endpoint, browser), otherToken)).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await SendWithToken(url, SubscriptionJson(endpoint, browser), await TokenAsync(marketing, user))).StatusCode);
        var profileId = (await marketing.GetFromJsonAsync<JsonElement>($"/v1/visitors/user:{user}/profile")).GetProperty("profileId").GetString()!;
        var (profile, _) = await Streams.FoldAsync(host, profileId);
        Assert.Equal(endpoint, Assert.Single(MessageRecipient.From(profile, PopularProducts.None).PushSubscriptions).Endpoint);
    }

    private async Task<HttpResponseMessage> SendWithToken(string url, object body, string token)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = JsonContent.Create(body) };
        request.Headers.Add(VisitorTokens.Header, token);
        return await _ingest.SendAsync(request);
    }

    private static async Task<string> TokenAsync(HttpClient marketing, string user)
    {
        var response = await marketing.PostAsJsonAsync($"/v1/visitors/user:{user}/token", new { });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
    }
}

public sealed class PushHostFixture : HostFixture
{
    public const string Subject = "mailto:push@shop.example";

    protected override IEnumerable<string> ExtraArguments() =>
        ["--Actors:Push:AllowInsecureEndpoints=true", $"--Actors:Push:Subject={Subject}", "--Actors:Push:TtlSeconds=600"];
}

/// <summary>
/// From the browser's subscription over HTTP, through a journey's push step, the outbox and the push shard grain, to a
/// message the push endpoint verifies and decrypts with the host's own VAPID key; a second browser whose subscription is
/// gone (410) is forgotten by the visitor's profile.
/// </summary>
public class PushDeliveryEndToEndTests(PushHostFixture host) : IClassFixture<PushHostFixture>
{
    [Fact]
    public async Task A_journeys_push_message_reaches_the_subscribed_browser_decrypted_and_a_gone_subscription_is_forgotten()
    {
        await using var service = await LocalPushService.StartAsync();
        service.ExpectedSubject = PushHostFixture.Subject;
        using var browser = new TestBrowser();
        service.Register("browser-1", browser);
        var (_, gone) = service.Subscribe("browser-gone", status: 410);
        var visitor = $"push-e2e-{Guid.NewGuid():N}";
        var (ingest, marketing, admin) = (host.Client(), host.Client(HostFixture.MarketingKey), host.Client(HostFixture.AdminKey));

        var applicationServerKey = (await ingest.GetFromJsonAsync<JsonElement>("/v1/push/vapid-public-key")).GetProperty("publicKey").GetString();
        var subscribed = await ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/push-subscriptions",
            new { endpoint = service.EndpointFor("browser-1"), expirationTime = (long?)null, keys = new { p256dh = browser.P256dh, auth = browser.AuthText } });
        Assert.Equal(HttpStatusCode.OK, subscribed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/push-subscriptions",
            new { endpoint = gone.Endpoint, keys = new { p256dh = gone.P256dh, auth = gone.Auth } })).StatusCode);

        var template = await marketing.PutAsJsonAsync("/v1/templates/back-in-stock",
            new { channel = "push", subject = "Back in stock", text = "Your size is back, {{ visitor.first_name | default: 'friend' }}.", url = "https://shop.example/p/1" });
        Assert.True(template.IsSuccessStatusCode, await template.Content.ReadAsStringAsync());
        var journey = new
        {
            name = "Back in stock",
            trigger = new { manual = true },
            start = "push",
            steps = new object[] { new { id = "push", send = new { channel = "push", template = "back-in-stock", kind = "transactional" } } },
        };
        var id = $"jp-{Guid.NewGuid():N}"[..20];
        Assert.Equal(HttpStatusCode.Created, (await marketing.PostAsJsonAsync("/v1/journeys", new { id, journey })).StatusCode);
        Assert.True((await marketing.PostAsync($"/v1/journeys/{id}/publish", null)).IsSuccessStatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await marketing.PostAsJsonAsync($"/v1/journeys/{id}/trigger", new { profiles = new[] { visitor } })).StatusCode);

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!service.Received.Any(r => r.SubscriptionId == "browser-1") && DateTime.UtcNow < deadline) await Task.Delay(100);
        var received = Assert.Single(service.Received, r => r.SubscriptionId == "browser-1");
        Assert.Null(received.VapidError);
        Assert.Equal(applicationServerKey, received.VapidKey);
        Assert.Null(received.DecryptError);
        Assert.Equal("600", received.Headers["TTL"]);
        var payload = JsonDocument.Parse(received.Payload!).RootElement;
        Assert.Equal(("Back in stock", "Your size is back, friend.", "https://shop.example/p/1"),
            (payload.GetProperty("title").GetString(), payload.GetProperty("body").GetString(), payload.GetProperty("url").GetString()));

        async Task<List<JsonElement>> Events(string type) =>
            [.. (await admin.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/events?type={type}&limit=100")).GetProperty("items").EnumerateArray()];
        // The gone subscription is forgotten before the send is marked, and message_sent is appended after that (the
        // shard reports a batch's outcomes while it goes on): wait for both, not for the first of them.
        while (((await Events("push_unsubscribed")).Count == 0 || (await Events("message_sent")).Count == 0) && DateTime.UtcNow < deadline)
            await Task.Delay(100);
        var sent = Assert.Single(await Events("message_sent"));
        Assert.Equal(payload.GetProperty("messageKey").GetString(), sent.GetProperty("data").GetProperty("messageKey").GetString());
        var forgotten = Assert.Single(await Events("push_unsubscribed"));
        Assert.Equal(gone.Endpoint, forgotten.GetProperty("data").GetProperty("endpoint").GetString());
        var (profile, _) = await Streams.FoldAsync(host, $"anon:{visitor}");
        Assert.Equal([service.EndpointFor("browser-1")], profile.PushSubscriptions.Select(p => p.Endpoint));
    }
}
