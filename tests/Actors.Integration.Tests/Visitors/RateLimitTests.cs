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
}
