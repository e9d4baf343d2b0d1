using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Integration.Tests.Support;

namespace Actors.Integration.Tests.Visitors;

public class IdentityStitchingTests(HostFixture host) : IClassFixture<HostFixture>
{
    private readonly HttpClient _ingest = host.Client();
    private readonly HttpClient _admin = host.Client(HostFixture.AdminKey);

    private async Task Send(string visitor, int count, string category)
    {
        var events = Enumerable.Range(0, count).Select(i => new
        {
            @event = "Product Viewed", messageId = $"{visitor}-{i}", timestamp = DateTimeOffset.UtcNow.AddMinutes(-count + i),
            properties = new { product_id = $"sku-{i}", category },
        });
        var response = await _ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events", events);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private async Task<List<JsonElement>> AllEvents(string id)
    {
        var items = new List<JsonElement>();
        long? from = 1;
        while (from is not null)
        {
            var page = await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{id}/events?from={from}&limit=50");
            items.AddRange(page.GetProperty("items").EnumerateArray());
            from = page.GetProperty("next").ValueKind == JsonValueKind.Null ? null : page.GetProperty("next").GetInt64();
        }
        return items;
    }

    [Fact]
    public async Task Two_devices_identifying_at_the_same_moment_merge_into_one_customer_with_every_event_once()
    {
        var phone = $"phone-{Guid.NewGuid():N}";
        var laptop = $"laptop-{Guid.NewGuid():N}";
        var user = $"u-{Guid.NewGuid():N}";
        await Send(phone, 7, "shoes");
        await Send(laptop, 5, "bags");

        // Both devices log in at once, each twice (a retry): the merge must be idempotent and serialised.
        var logins = new[] { phone, laptop, phone, laptop }.Select(device => _ingest.PostAsJsonAsync($"/v1/visitors/{device}/identify",
            new { userId = user, messageId = $"login-{device}", traits = new { first_name = "Ada" } }));
        Assert.All(await Task.WhenAll(logins), r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));

        var events = await AllEvents($"user:{user}");
        var carried = events.Where(e => e.GetProperty("type").GetString() == "product_viewed").Select(e => e.GetProperty("messageId").GetString()).ToList();
        Assert.Equal(12, carried.Count);
        Assert.Equal(12, carried.Distinct().Count());
        Assert.Single(events, e => e.GetProperty("type").GetString() == "identified" && e.GetProperty("messageId").GetString() == $"login-{phone}");
        Assert.Equal(2, events.Count(e => e.GetProperty("type").GetString() == "profiles_merged"));

        // Later calls with either device id reach the customer's profile.
        foreach (var device in new[] { phone, laptop })
        {
            var profile = await _admin.GetFromJsonAsync<JsonElement>($"/v1/visitors/{device}/profile");
            Assert.Equal($"user:{user}", profile.GetProperty("profileId").GetString());
        }
        await _ingest.PostAsJsonAsync($"/v1/visitors/{phone}/events", new { @event = "Cart Viewed", messageId = $"after-{phone}" });
        Assert.Contains(await AllEvents($"user:{user}"), e => e.GetProperty("messageId").GetString() == $"after-{phone}");

        // The customer's profile records both devices it absorbed.
        var customer = await _admin.GetFromJsonAsync<JsonElement>($"/v1/visitors/user:{user}/profile");
        Assert.Equal(new[] { $"anon:{laptop}", $"anon:{phone}" }, customer.GetProperty("mergedFrom").EnumerateArray().Select(e => e.GetString()).Order());
    }

    [Fact]
    public async Task Carried_events_keep_their_original_event_times()
    {
        var device = $"d-{Guid.NewGuid():N}";
        var user = $"u-{Guid.NewGuid():N}";
        var then = DateTimeOffset.UtcNow.AddDays(-3);
        await _ingest.PostAsJsonAsync($"/v1/visitors/{device}/events", new { @event = "Product Viewed", messageId = $"old-{device}", timestamp = then, properties = new { product_id = "p" } });
        await _ingest.PostAsJsonAsync($"/v1/visitors/{device}/identify", new { userId = user, messageId = $"id-{device}" });
        var carried = (await AllEvents($"user:{user}")).Single(e => e.GetProperty("messageId").GetString() == $"old-{device}");
        Assert.Equal(then.ToUnixTimeMilliseconds(), carried.GetProperty("eventTime").GetDateTimeOffset().ToUnixTimeMilliseconds());
    }
}
