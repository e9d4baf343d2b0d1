using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Integration.Tests.Support;

namespace Actors.Integration.Tests.Visitors;

public sealed class RateLimitedHostFixture : HostFixture
{
    protected override IEnumerable<string> ExtraArguments() => ["--Actors:Api:RequestsPerSecondPerKey=5", "--Actors:Api:BurstPerKey=5"];
}

public class RateLimitTests(RateLimitedHostFixture host) : IClassFixture<RateLimitedHostFixture>
{
    [Fact]
    public async Task Over_the_rate_limit_a_key_gets_429_with_retry_after_and_nothing_is_stored()
    {
        var visitor = $"rl-{Guid.NewGuid():N}";
        var client = host.Client();
        // Twenty at once: far over a burst of five.
        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            client.PostAsJsonAsync($"/v1/visitors/{visitor}/events", new { @event = "Cart Viewed", messageId = $"{visitor}-{i}" })));
        var statuses = responses.Select(r => r.StatusCode).ToList();
        var limited = responses.FirstOrDefault(r => r.StatusCode == HttpStatusCode.TooManyRequests);

        Assert.NotNull(limited);
        Assert.True(limited!.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
        var accepted = statuses.Count(s => s == HttpStatusCode.OK);
        Assert.InRange(accepted, 5, 12); // the burst, and what refilled meanwhile

        await Task.Delay(1500);
        var profile = await client.GetFromJsonAsync<JsonElement>($"/v1/visitors/{visitor}/profile");
        Assert.Equal(accepted, profile.GetProperty("version").GetInt64());
    }

    [Fact]
    public async Task Made_up_keys_share_their_address_bucket_and_a_valid_key_keeps_its_own()
    {
        var valid = host.Client();
        await WaitForFullBucketsAsync();

        // Thirty callers with thirty made-up keys: one address, one bucket of five.
        var responses = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ =>
            host.Client($"guess-{Guid.NewGuid():N}").GetAsync($"/v1/visitors/v-{Guid.NewGuid():N}/profile")));
        var statuses = responses.Select(r => r.StatusCode).ToList();
        Assert.All(statuses, s => Assert.Contains(s, new[] { HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests }));
        Assert.InRange(statuses.Count(s => s == HttpStatusCode.Unauthorized), 1, 20); // five, and what refilled meanwhile; not thirty

        // The valid key is not throttled by them: its bucket is its own.
        var own = await valid.GetAsync($"/v1/visitors/v-{Guid.NewGuid():N}/profile");
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);

        // Requests with no key at all are counted against the address too, before any body is read.
        var anonymous = host.Client(key: null);
        var noKey = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ =>
            anonymous.PostAsJsonAsync("/v1/track", new { writeKey = $"guess-{Guid.NewGuid():N}", anonymousId = "x", @event = "Cart Viewed" })));
        Assert.Contains(noKey, r => r.StatusCode == HttpStatusCode.TooManyRequests);
        await WaitForFullBucketsAsync();
    }

    // Five a second, burst five: a second and a bit refills any bucket another test drained.
    private static Task WaitForFullBucketsAsync() => Task.Delay(1200);
}
