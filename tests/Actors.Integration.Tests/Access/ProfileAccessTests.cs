using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Actors.Api.Access;
using Actors.Integration.Tests.Support;

namespace Actors.Integration.Tests.Access;

/// <summary>Who reads which profile: an ingest key (public) only its own visitor's minimal view; marketing keys anyone's full profile.</summary>
public class ProfileAccessTests(HostFixture host) : IClassFixture<HostFixture>
{
    private readonly HttpClient _ingest = host.Client();
    private readonly HttpClient _marketing = host.Client(HostFixture.MarketingKey);

    private static readonly string[] Hidden = ["profileId", "userId", "attributes", "orders", "cartSkus", "consents", "mergedFrom", "mergedInto"];

    private async Task<string> CustomerAsync()
    {
        var user = $"alice-{Guid.NewGuid():N}";
        var identify = await _ingest.PostAsJsonAsync($"/v1/visitors/dev-{user}/identify",
            new { userId = user, traits = new { email = $"{user}@example.com" }, messageId = Guid.NewGuid().ToString() });
        Assert.Equal(HttpStatusCode.OK, identify.StatusCode);
        var order = await _ingest.PostAsJsonAsync($"/v1/visitors/user:{user}/events",
            new { @event = "Order Completed", messageId = Guid.NewGuid().ToString(), properties = new { order_id = "o-1", total = 42, currency = "EUR" } });
        Assert.Equal(HttpStatusCode.OK, order.StatusCode);
        return user;
    }

    private async Task<string> TokenAsync(string user, int? ttlSeconds = null)
    {
        var response = await _marketing.PostAsJsonAsync($"/v1/visitors/user:{user}/token", new { ttlSeconds });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(VisitorTokens.Header, body.GetProperty("header").GetString());
        return body.GetProperty("token").GetString()!;
    }

    private Task<HttpResponseMessage> ReadWithToken(string visitorId, string? token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/visitors/{visitorId}/profile");
        if (token is not null) request.Headers.Add(VisitorTokens.Header, token);
        return _ingest.SendAsync(request);
    }

    private static void AssertMinimal(JsonElement view)
    {
        foreach (var field in Hidden) Assert.False(view.TryGetProperty(field, out _), $"{field} in {view}");
        Assert.Equal(JsonValueKind.String, view.GetProperty("stage").ValueKind);
        Assert.Equal(JsonValueKind.Array, view.GetProperty("segments").ValueKind);
        Assert.True(view.GetProperty("version").GetInt64() > 0);
    }

    [Fact]
    public async Task An_ingest_key_without_a_token_cannot_read_a_known_customer()
    {
        var user = await CustomerAsync();
        var response = await _ingest.GetAsync($"/v1/visitors/user:{user}/profile");
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.DoesNotContain("@example.com", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task With_a_token_for_that_user_an_ingest_key_reads_the_minimal_view()
    {
        var user = await CustomerAsync();
        var response = await ReadWithToken($"user:{user}", await TokenAsync(user));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var view = await response.Content.ReadFromJsonAsync<JsonElement>();
        AssertMinimal(view);
        Assert.Equal("customer", view.GetProperty("stage").GetString());
    }

    [Fact]
    public async Task A_token_for_one_user_does_not_open_another()
    {
        var alice = await CustomerAsync();
        var bob = await CustomerAsync();
        Assert.Equal(HttpStatusCode.Forbidden, (await ReadWithToken($"user:{bob}", await TokenAsync(alice))).StatusCode);
    }

    [Fact]
    public async Task Expired_or_tampered_tokens_are_refused()
    {
        var user = await CustomerAsync();
        var token = await TokenAsync(user, ttlSeconds: 3); // whole seconds: valid for 2 to 3 s
        var dot = token.IndexOf('.');
        var tampered = token[..^1] + (token[^1] == '0' ? '1' : '0');
        var stretched = $"{DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds()}{token[dot..]}"; // a later expiry, the old signature
        Assert.Equal(HttpStatusCode.Forbidden, (await ReadWithToken($"user:{user}", tampered)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await ReadWithToken($"user:{user}", stretched)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await ReadWithToken($"user:{user}", "garbage")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ReadWithToken($"user:{user}", token)).StatusCode);
        await Task.Delay(3500);
        Assert.Equal(HttpStatusCode.Forbidden, (await ReadWithToken($"user:{user}", token)).StatusCode);
    }

    [Fact]
    public async Task Minting_a_token_needs_a_marketing_key()
    {
        var user = await CustomerAsync();
        Assert.Equal(HttpStatusCode.Forbidden, (await _ingest.PostAsJsonAsync($"/v1/visitors/user:{user}/token", new { })).StatusCode);
    }

    [Fact]
    public async Task An_ingest_key_reads_its_anonymous_visitor_minimal_view_and_a_marketing_key_the_full_profile()
    {
        var user = await CustomerAsync();
        var device = await _ingest.GetAsync($"/v1/visitors/dev-{user}/profile");
        Assert.Equal(HttpStatusCode.OK, device.StatusCode);
        AssertMinimal(await device.Content.ReadFromJsonAsync<JsonElement>());

        var full = await _marketing.GetFromJsonAsync<JsonElement>($"/v1/visitors/user:{user}/profile");
        Assert.Equal($"user:{user}", full.GetProperty("profileId").GetString());
        Assert.Equal(1, full.GetProperty("orders").GetProperty("count").GetInt32());
        Assert.Equal($"{user}@example.com", full.GetProperty("attributes").GetProperty("email").GetString());
    }

}

public sealed class VisitorTokenSecretHostFixture : HostFixture
{
    public const string Secret = "configured-visitor-token-secret-0123456789";
    protected override IEnumerable<string> ExtraArguments() => [$"--Actors:Api:VisitorTokenSecret={Secret}"];
}

/// <summary>A backend that holds the configured secret computes tokens itself, with the recipe README gives.</summary>
public class VisitorTokenRecipeTests(VisitorTokenSecretHostFixture host) : IClassFixture<VisitorTokenSecretHostFixture>
{
    [Fact]
    public async Task A_token_computed_by_the_backend_opens_the_minimal_view()
    {
        var user = $"carol-{Guid.NewGuid():N}";
        var ingest = host.Client();
        Assert.Equal(HttpStatusCode.OK, (await ingest.PostAsJsonAsync($"/v1/visitors/user:{user}/events",
            new { @event = "Cart Viewed", messageId = Guid.NewGuid().ToString() })).StatusCode);

        // HMAC-SHA256 over "{expiry}.{userId}", lowercase hex, sent as "{expiry}.{hex}".
        var expiry = DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeSeconds();
        var mac = System.Security.Cryptography.HMACSHA256.HashData(
            Encoding.UTF8.GetBytes(VisitorTokenSecretHostFixture.Secret), Encoding.UTF8.GetBytes($"{expiry}.{user}"));
        var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/visitors/user:{user}/profile");
        request.Headers.Add("X-Visitor-Token", $"{expiry}.{Convert.ToHexString(mac).ToLowerInvariant()}");
        var response = await ingest.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var view = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(view.TryGetProperty("profileId", out _));
        Assert.Equal(1, view.GetProperty("version").GetInt64());
    }
}
