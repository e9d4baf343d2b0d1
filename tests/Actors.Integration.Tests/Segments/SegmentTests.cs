using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Integration.Tests.Support;
using Orleans.Runtime;

namespace Actors.Integration.Tests.Segments;

/// <summary>Segments end to end: rules over HTTP, membership decided by each visitor grain, members from the projection.</summary>
public class SegmentTests(HostFixture host) : IClassFixture<HostFixture>
{
    private readonly HttpClient _marketing = host.Client(HostFixture.MarketingKey);
    private readonly HttpClient _ingest = host.Client();
    private readonly HttpClient _admin = host.Client(HostFixture.AdminKey);

    private async Task<JsonElement> CreateSegment(string id, object rule)
    {
        var response = await _marketing.PostAsJsonAsync("/v1/segments", new { id, name = id, rule });
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private async Task<JsonElement> WaitForBackfill(string id)
    {
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (true)
        {
            var progress = await _marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/{id}/backfill");
            if (progress.GetProperty("state").GetString() != "running") return progress;
            Assert.True(DateTime.UtcNow < deadline, "backfill did not finish");
            await Task.Delay(200);
        }
    }

    private async Task<List<JsonElement>> SegmentEvents(string visitor) =>
        [.. (await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/events?type=segment_entered,segment_left&limit=100"))
            .GetProperty("items").EnumerateArray()];

    [Fact]
    public async Task Three_views_of_shoes_enter_the_segment_and_it_is_left_exactly_when_the_oldest_leaves_the_window()
    {
        var segment = $"shoes-{Guid.NewGuid():N}"[..20];
        await CreateSegment(segment, new { count = new { @event = "product_viewed", category = "shoes", atLeast = 3, withinHours = 1 } });
        await WaitForBackfill(segment);

        // Three views whose oldest is 59 min 48 s old: the window closes on it 12 s from now.
        var visitor = $"seg-{Guid.NewGuid():N}";
        var now = DateTimeOffset.UtcNow;
        var oldest = now.AddMinutes(-59).AddSeconds(-48);
        for (var i = 0; i < 3; i++)
        {
            await _ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events", new
            {
                @event = "Product Viewed", messageId = $"{visitor}-{i}", timestamp = oldest.AddSeconds(i),
                properties = new { product_id = $"sku-{i}", category = "Shoes" },
            });
            var profile = await _ingest.GetFromJsonAsync<JsonElement>($"/v1/visitors/{visitor}/profile");
            var member = profile.GetProperty("segments").EnumerateArray().Any(s => s.GetString() == segment);
            Assert.Equal(i == 2, member); // in on the third view, not before
        }

        // Nothing else happens; the grain wakes itself when the oldest view leaves the 1-hour window.
        var exit = oldest.AddHours(1);
        List<JsonElement> events = [];
        while (DateTimeOffset.UtcNow < exit.AddSeconds(30))
        {
            events = await SegmentEvents(visitor);
            if (events.Any(e => e.GetProperty("type").GetString() == "segment_left")) break;
            await Task.Delay(250);
        }
        var left = Assert.Single(events, e => e.GetProperty("type").GetString() == "segment_left");
        var leftAt = left.GetProperty("eventTime").GetDateTimeOffset();
        Assert.InRange(leftAt, exit, exit.AddSeconds(2));
        Assert.Equal(0, (await _marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/{segment}/count")).GetProperty("members").GetInt32());
    }

    [Fact]
    public async Task Rules_and_names_with_text_that_cannot_be_stored_are_refused_with_400_not_500()
    {
        async Task<HttpStatusCode> Post(string body) =>
            (await _marketing.PostAsync("/v1/segments", new StringContent(body, System.Text.Encoding.UTF8, "application/json"))).StatusCode;
        Assert.Equal(HttpStatusCode.BadRequest, await Post("""{"id":"nul-rule","name":"x","rule":{"attribute":"tier","equals":"go\u0000ld"}}"""));
        Assert.Equal(HttpStatusCode.BadRequest, await Post("""{"id":"nul-name","name":"a\u0000b","rule":{"topic":"shoes"}}"""));
        Assert.Equal(HttpStatusCode.BadRequest, await Post("""{"id":"sur-rule","name":"x","rule":{"topic":"sh\ud800oes"}}"""));
        var validate = await _marketing.PostAsync("/v1/segments/validate",
            new StringContent("""{"rule":{"topic":"a\u0000"}}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, validate.StatusCode);

        await CreateSegment("clean-one", new { topic = "shoes" });
        var put = await _marketing.PutAsync("/v1/segments/clean-one",
            new StringContent("""{"name":"b\u0000","rule":{"topic":"shoes"}}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
    }

    [Fact]
    public async Task A_backfill_over_thousands_of_profiles_reports_progress_and_the_right_count()
    {
        const int visitors = 2000;
        var tag = Guid.NewGuid().ToString("N")[..8];
        var batch = Enumerable.Range(0, visitors).Select(i => new
        {
            type = "track", anonymousId = $"bf-{tag}-{i}", messageId = $"bf-{tag}-{i}", @event = "Product Viewed",
            properties = new { product_id = "sku", category = i % 4 == 0 ? $"bags-{tag}" : "other" },
        }).ToList();
        foreach (var chunk in batch.Chunk(250))
            Assert.Equal(HttpStatusCode.OK, (await _ingest.PostAsJsonAsync("/v1/batch", new { batch = chunk })).StatusCode);

        var segment = $"bags-{tag}";
        var created = await CreateSegment(segment, new { count = new { @event = "product_viewed", category = $"bags-{tag}", atLeast = 1, withinDays = 30 } });
        Assert.Equal("running", created.GetProperty("backfill").GetProperty("state").GetString());

        var progress = await WaitForBackfill(segment);
        Assert.Equal("completed", progress.GetProperty("state").GetString());
        Assert.True(progress.GetProperty("done").GetInt64() >= visitors);
        Assert.Equal(progress.GetProperty("total").GetInt64(), progress.GetProperty("done").GetInt64());

        var count = (await _marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/{segment}/count")).GetProperty("members").GetInt32();
        Assert.Equal(visitors / 4, count);

        // The member list agrees with the grains' own view.
        var members = new List<string>();
        string? after = null;
        do
        {
            var page = await _marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/{segment}/members?limit=200{(after is null ? "" : $"&after={after}")}");
            members.AddRange(page.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("profileId").GetString()!));
            after = page.GetProperty("next").ValueKind == JsonValueKind.Null ? null : page.GetProperty("next").GetString();
        } while (after is not null);
        Assert.Equal(visitors / 4, members.Distinct().Count());
        foreach (var i in new[] { 0, 4, 1, 3 })
        {
            var profile = await _ingest.GetFromJsonAsync<JsonElement>($"/v1/visitors/bf-{tag}-{i}/profile");
            var inSegment = profile.GetProperty("segments").EnumerateArray().Any(s => s.GetString() == segment);
            Assert.Equal(i % 4 == 0, inSegment);
            Assert.Equal(inSegment, members.Contains($"anon:bf-{tag}-{i}"));
        }

        // New events keep being evaluated after the backfill.
        await _ingest.PostAsJsonAsync($"/v1/visitors/bf-{tag}-1/events", new { @event = "Product Viewed", messageId = $"bf-{tag}-late", properties = new { product_id = "x", category = $"bags-{tag}" } });
        Assert.Equal(visitors / 4 + 1, (await _marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/{segment}/count")).GetProperty("members").GetInt32());
    }

    [Fact]
    public async Task An_invalid_rule_is_refused_with_the_path_of_the_wrong_part()
    {
        var response = await _marketing.PostAsJsonAsync("/v1/segments/validate", new { rule = new { all = new object[] { new { stage = new[] { "lead" } }, new { count = new { @event = "product_viewed", atLeast = 0, withinDays = 14 } } } } });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains(body.GetProperty("errors").EnumerateArray(), e => e.GetProperty("path").GetString() == "all[1].count.atLeast");

        var create = await _marketing.PostAsJsonAsync("/v1/segments", new { id = "bad", name = "bad", rule = new { cout = 3 } });
        Assert.Equal(HttpStatusCode.BadRequest, create.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _marketing.GetAsync("/v1/segments/bad")).StatusCode);
    }

    [Fact]
    public async Task A_valid_rule_is_shown_back_in_readable_form_and_templates_are_offered()
    {
        var response = await _marketing.PostAsJsonAsync("/v1/segments/validate", new { rule = new { all = new object[] { new { stage = new[] { "lead" } }, new { topic = "shoes" } } } });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("lead", body.GetProperty("description").GetString());
        var templates = await _marketing.GetFromJsonAsync<JsonElement>("/v1/segments/templates");
        Assert.True(templates.GetArrayLength() >= 9);
        Assert.Equal(HttpStatusCode.Forbidden, (await _ingest.GetAsync("/v1/segments")).StatusCode);
    }

    [Fact]
    public async Task Membership_after_replay_equals_membership_before()
    {
        var segment = $"replay-{Guid.NewGuid():N}"[..20];
        await CreateSegment(segment, new { all = new object[] { new { stage = new[] { "lead" } }, new { count = new { @event = "product_viewed", atLeast = 2, withinDays = 30 } } } });
        await WaitForBackfill(segment);

        var visitor = $"rp-{Guid.NewGuid():N}";
        object[] events =
        [
            new { @event = "Product Viewed", messageId = $"{visitor}-1", properties = new { product_id = "a" } },
            new { @event = "Newsletter Subscribed", messageId = $"{visitor}-2" },
            new { @event = "Product Viewed", messageId = $"{visitor}-3", properties = new { product_id = "b" } },
        ];
        foreach (var e in events) await _ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events", e);

        var live = await _admin.GetFromJsonAsync<JsonElement>($"/v1/visitors/{visitor}/profile");
        Assert.Contains(segment, live.GetProperty("segments").EnumerateArray().Select(s => s.GetString()));

        await host.Grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        var reactivated = await _admin.GetFromJsonAsync<JsonElement>($"/v1/visitors/{visitor}/profile");
        var replayed = (await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/state")).GetProperty("profile");
        Assert.Equal(live.GetProperty("segments").ToString(), reactivated.GetProperty("segments").ToString());
        Assert.Equal(live.GetProperty("segments").ToString(), replayed.GetProperty("segments").ToString());
    }
}
