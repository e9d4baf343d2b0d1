using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Integration.Tests.Support;

namespace Actors.Integration.Tests.Journeys;

/// <summary>
/// A marketer's trigger through the real path: POST over HTTP, the job on the node, each visitor's grain, the stream in
/// PostgreSQL. A trigger for a segment reaches exactly its members, each once, even when it is posted again.
/// </summary>
public class JourneyTriggerTests(JourneyHostFixture host) : IClassFixture<JourneyHostFixture>
{
    private readonly HttpClient _marketing = host.Client(HostFixture.MarketingKey);
    private readonly HttpClient _ingest = host.Client();
    private readonly HttpClient _admin = host.Client(HostFixture.AdminKey);

    /// <summary>A manual journey whose only step sets an attribute: the passage ends as soon as the visitor enters.</summary>
    private static object Promo(string value) => new
    {
        name = $"Promo {value}",
        trigger = new { manual = true },
        start = "mark",
        steps = new object[] { new { id = "mark", setAttribute = new { name = "promo", value } } },
    };

    private async Task<string> Create(object journey, bool publish = true)
    {
        var id = $"jt-{Guid.NewGuid():N}"[..20];
        var create = await _marketing.PostAsJsonAsync("/v1/journeys", new { id, journey });
        Assert.True(create.StatusCode == HttpStatusCode.Created, await create.Content.ReadAsStringAsync());
        if (!publish) return id;
        var published = await _marketing.PostAsync($"/v1/journeys/{id}/publish", null);
        Assert.True(published.StatusCode == HttpStatusCode.OK, await published.Content.ReadAsStringAsync());
        return id;
    }

    private async Task<string> Segment(string category)
    {
        var id = $"ts-{Guid.NewGuid():N}"[..20];
        var response = await _marketing.PostAsJsonAsync("/v1/segments",
            new { id, name = id, rule = new { count = new { @event = "product_viewed", category, atLeast = 1, withinHours = 24 } } });
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while ((await _marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/{id}/backfill")).GetProperty("state").GetString() == "running")
        {
            Assert.True(DateTime.UtcNow < deadline, "backfill did not finish");
            await Task.Delay(200);
        }
        return id;
    }

    private async Task View(string visitor, string category)
    {
        var response = await _ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events",
            new { @event = "Product Viewed", messageId = $"{visitor}-{Guid.NewGuid():N}", properties = new { product_id = "sku-1", category } });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<List<JsonElement>> Entered(string visitor, string journey) =>
        [.. (await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/events?type=journey_entered&limit=1000"))
            .GetProperty("items").EnumerateArray().Where(e => e.GetProperty("data").GetProperty("journeyId").GetString() == journey)];

    private async Task<JsonElement> Trigger(string journey, object body)
    {
        var response = await _marketing.PostAsJsonAsync($"/v1/journeys/{journey}/trigger", body);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var accepted = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(accepted.GetProperty("progressUrl").GetString(), response.Headers.Location?.ToString());
        return accepted;
    }

    private Task<JsonElement> Done(JsonElement accepted) => DoneAsync(_marketing, accepted.GetProperty("progressUrl").GetString()!);

    /// <summary>Polls a trigger's progress until it is no longer running; it must have ended "done".</summary>
    internal static async Task<JsonElement> DoneAsync(HttpClient marketing, string progressUrl)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            var progress = await marketing.GetFromJsonAsync<JsonElement>(progressUrl);
            var state = progress.GetProperty("state").GetString();
            if (state != "running")
            {
                Assert.True(state == "done", progress.ToString());
                return progress;
            }
            Assert.True(DateTime.UtcNow < deadline, "the trigger did not finish");
            await Task.Delay(50);
        }
    }


    private static long N(JsonElement progress, string name) => progress.GetProperty(name).GetInt64();

    [Fact]
    public async Task A_trigger_for_a_segment_enters_exactly_its_members_once_and_posted_again_enters_nobody()
    {
        var category = $"c{Guid.NewGuid():N}"[..12];
        var segment = await Segment(category);
        var journey = await Create(Promo("spring"));
        var run = Guid.NewGuid().ToString("N")[..8];
        var members = Enumerable.Range(0, 30).Select(i => $"in-{run}-{i}").ToList();
        var outsiders = Enumerable.Range(0, 10).Select(i => $"out-{run}-{i}").ToList();
        await Parallel.ForEachAsync(members, async (v, _) => await View(v, category));
        await Parallel.ForEachAsync(outsiders, async (v, _) => await View(v, "other-" + category));
        Assert.Equal(30, (await _marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/{segment}/count")).GetProperty("members").GetInt32());

        var triggerId = $"spring-{run}";
        var accepted = await Trigger(journey, new { segment, triggerId });
        Assert.Equal(triggerId, accepted.GetProperty("triggerId").GetString());
        var progress = await Done(accepted);
        Assert.Equal((30, 30, 30, 0, 0, 0), (N(progress, "total"), N(progress, "done"), N(progress, "entered"), N(progress, "heldOut"),
            N(progress, "alreadyInside"), N(progress, "alreadyTriggered")));
        Assert.Empty(progress.GetProperty("notEligible").EnumerateObject());
        Assert.True(progress.GetProperty("finishedAt").GetDateTimeOffset() >= progress.GetProperty("startedAt").GetDateTimeOffset());

        foreach (var member in members)
        {
            var entered = Assert.Single(await Entered(member, journey));
            Assert.Equal($"trigger {triggerId}", entered.GetProperty("data").GetProperty("reason").GetString());
            var profile = await _marketing.GetFromJsonAsync<JsonElement>($"/v1/users/{member}/journeys");
            Assert.False(Assert.Single(profile.GetProperty("journeys").EnumerateArray()).GetProperty("inside").GetBoolean()); // the passage ended
        }
        foreach (var outsider in outsiders) Assert.Empty(await Entered(outsider, journey));

        // Posted again after it finished (onceAtATime would let them in again): it runs, and enters nobody twice.
        var again = await Done(await Trigger(journey, new { segment, triggerId }));
        Assert.Equal((30, 0, 30), (N(again, "done"), N(again, "entered"), N(again, "alreadyTriggered")));
        foreach (var member in members) Assert.Single(await Entered(member, journey));
        foreach (var outsider in outsiders) Assert.Empty(await Entered(outsider, journey));

        // A new trigger is a new passage for everyone whose last one ended.
        var next = await Done(await Trigger(journey, new { segment }));
        Assert.StartsWith("t-", next.GetProperty("triggerId").GetString());
        Assert.Equal(30, N(next, "entered"));
        Assert.Equal(2, (await Entered(members[0], journey)).Count);
    }

    [Fact]
    public async Task A_trigger_for_a_list_resolves_each_id_counts_each_outcome_and_skips_unknown_visitors()
    {
        var journey = await Create(Promo("list"));
        var run = Guid.NewGuid().ToString("N")[..8];
        var visitors = Enumerable.Range(0, 5).Select(i => $"lv-{run}-{i}").ToList();
        foreach (var v in visitors) await View(v, "any");
        // A known customer whose device is stitched in: "user:…" reaches their profile.
        var user = $"lu-{run}";
        var identify = await _ingest.PostAsJsonAsync($"/v1/visitors/{visitors[4]}/identify", new { userId = user });
        Assert.True(identify.IsSuccessStatusCode, await identify.Content.ReadAsStringAsync());

        var ids = new List<string> { $"anon:{visitors[0]}", visitors[1], $"anon:{visitors[2]}", $"anon:{visitors[2]}", visitors[3], $"user:{user}", $"anon:nobody-{run}" };
        var progress = await Done(await Trigger(journey, new { profiles = ids }));
        Assert.Equal((6, 6, 5), (N(progress, "total"), N(progress, "done"), N(progress, "entered")));
        Assert.Equal(1, progress.GetProperty("notEligible").GetProperty("unknown_profile").GetInt64());
        foreach (var v in visitors[..4]) Assert.Single(await Entered(v, journey));
        Assert.Single(await Entered($"user:{user}", journey));
        Assert.Equal(HttpStatusCode.OK, (await _admin.GetAsync($"/v1/users/anon:nobody-{run}/events")).StatusCode);
        Assert.Empty(await Entered($"anon:nobody-{run}", journey));

        // The stitched device (merged into the customer) forwards: listed by its anonymous id it is the same visitor.
        var triggerId = $"list-{run}";
        var first = await Done(await Trigger(journey, new { profiles = new[] { visitors[4] }, triggerId }));
        Assert.Equal(1, N(first, "entered"));
        var retry = await Done(await Trigger(journey, new { profiles = new[] { $"user:{user}" }, triggerId }));
        Assert.Equal(1, N(retry, "alreadyTriggered"));
        Assert.Equal(2, (await Entered($"user:{user}", journey)).Count);
    }

    [Fact]
    public async Task The_same_trigger_id_posted_while_it_runs_answers_with_the_running_one()
    {
        var journey = await Create(Promo("busy"));
        var run = Guid.NewGuid().ToString("N")[..8];
        // 3,000 visitors never seen: each is a grain to activate and a stream to read, so the trigger runs a while.
        var ids = Enumerable.Range(0, 3_000).Select(i => $"anon:busy-{run}-{i}").ToArray();
        var triggerId = $"busy-{run}";
        var first = await Trigger(journey, new { profiles = ids, triggerId });
        var second = await Trigger(journey, new { profiles = ids[..1], triggerId });
        Assert.True(first.GetProperty("started").GetBoolean());
        Assert.False(second.GetProperty("started").GetBoolean(), second.ToString());
        Assert.Equal(first.GetProperty("progress").GetProperty("startedAt").GetDateTimeOffset(),
            second.GetProperty("progress").GetProperty("startedAt").GetDateTimeOffset());
        Assert.Equal(3_000, N(second.GetProperty("progress"), "total"));

        var done = await Done(first);
        Assert.Equal((3_000, 3_000), (N(done, "done"), done.GetProperty("notEligible").GetProperty("unknown_profile").GetInt64()));
        Assert.True(done.GetProperty("rate").GetDouble() > 0);
        await Task.Delay(300);
        Assert.Equal(done.GetProperty("rate").GetDouble(), (await Done(first)).GetProperty("rate").GetDouble()); // a finished trigger's rate stays
    }

    [Fact]
    public async Task Bad_triggers_are_400_naming_the_field_unknown_journeys_404_and_inactive_ones_409()
    {
        var journey = await Create(Promo("bad"));
        async Task<(HttpStatusCode, string)> Post(string id, string body)
        {
            var response = await _marketing.PostAsync($"/v1/journeys/{id}/trigger", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        async Task Refused(string body, string field)
        {
            var (status, text) = await Post(journey, body);
            Assert.True(status == HttpStatusCode.BadRequest, $"{body}: {status} {text}");
            var errors = JsonDocument.Parse(text).RootElement.GetProperty("errors");
            Assert.True(errors.TryGetProperty(field, out _), $"{body}: {text}");
        }

        await Refused("{}", "segment");
        await Refused("""{"segment":"x","profiles":["a"]}""", "profiles");
        await Refused("""{"segment":42}""", "segment");
        await Refused("""{"segment":"Not An Id"}""", "segment");
        await Refused("""{"segment":"no-such-segment"}""", "segment");
        await Refused("""{"profiles":[]}""", "profiles");
        await Refused("""{"profiles":"user:a"}""", "profiles");
        await Refused("""{"profiles":["user:a","bad\u0001id"]}""", "profiles[1]");
        await Refused("""{"profiles":["user:a",7]}""", "profiles[1]");
        await Refused("""{"profiles":["nul\u0000"]}""", "profiles[0]");
        await Refused("""{"profiles":["\ud800"]}""", "profiles[0]");
        await Refused("""{"profiles":[""]}""", "profiles[0]");
        await Refused($$"""{"profiles":[{{string.Join(",", Enumerable.Range(0, 10_001).Select(i => $"\"v{i}\""))}}]}""", "profiles");
        await Refused("""{"profiles":["a"],"triggerId":"has space"}""", "triggerId");
        await Refused("""{"profiles":["a"],"triggerId":7}""", "triggerId");
        await Refused("[]", "body");

        Assert.Equal(HttpStatusCode.NotFound, (await Post("no-such-journey", """{"profiles":["a"]}""")).Item1);
        var draft = await Create(Promo("draft"), publish: false);
        Assert.Equal(HttpStatusCode.Conflict, (await Post(draft, """{"profiles":["a"]}""")).Item1);
        Assert.Equal(HttpStatusCode.OK, (await _marketing.PostAsync($"/v1/journeys/{journey}/pause", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await Post(journey, """{"profiles":["a"]}""")).Item1);

        Assert.Equal(HttpStatusCode.NotFound, (await _marketing.GetAsync($"/v1/journeys/{journey}/triggers/never")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await _ingest.PostAsync($"/v1/journeys/{journey}/trigger",
            new StringContent("""{"profiles":["a"]}""", System.Text.Encoding.UTF8, "application/json"))).StatusCode);
    }

    [Fact]
    public async Task A_broadcast_reaches_each_member_once_through_the_policy_and_a_retry_sends_nobody_twice()
    {
        var category = $"b{Guid.NewGuid():N}"[..12];
        var segment = await Segment(category);
        var members = Enumerable.Range(0, 6).Select(i => $"bc-{i}-{Guid.NewGuid():N}").ToList();
        foreach (var (visitor, i) in members.Select((v, i) => (v, i)))
        {
            if (i % 2 == 0)
            {
                await TestAddresses.GiveEmailAsync(_ingest, visitor);
                var consent = await _ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events",
                    new { @event = "Consent Given", messageId = $"{visitor}-consent", properties = new { channel = "email", purpose = "marketing" } });
                Assert.True(consent.IsSuccessStatusCode);
            }
            await View(visitor, category);
        }
        var outsider = $"bc-out-{Guid.NewGuid():N}";
        await View(outsider, "elsewhere");

        var broadcastId = $"bc{Guid.NewGuid():N}"[..16];
        await TestTemplates.EnsureAsync(_marketing, "spring-sale", "another");
        var body = new { broadcastId, segment, channel = "email", template = "spring-sale", topic = "offers" };
        var first = await _marketing.PostAsJsonAsync("/v1/broadcasts", body);
        Assert.True(first.StatusCode == HttpStatusCode.Accepted, await first.Content.ReadAsStringAsync());
        var accepted = await first.Content.ReadFromJsonAsync<JsonElement>();
        var progress = await Done(accepted);
        Assert.Equal(6, progress.GetProperty("entered").GetInt64());

        // Each member: one verdict; consenting ones sent, the others suppressed for want of consent. The outsider: none.
        async Task<List<JsonElement>> Decided(string visitor) =>
            [.. (await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/events?type=message_decided&limit=100")).GetProperty("items").EnumerateArray()];
        foreach (var (visitor, i) in members.Select((v, i) => (v, i)))
        {
            var decided = Assert.Single(await Decided(visitor));
            Assert.Equal(i % 2 == 0 ? "sent" : "suppressed", decided.GetProperty("data").GetProperty("outcome").GetString());
            Assert.Equal("spring-sale", decided.GetProperty("data").GetProperty("template").GetString());
        }
        Assert.Empty(await Decided(outsider));

        // Retried (a lost answer, a double click): nobody gets a second message.
        var again = await _marketing.PostAsJsonAsync("/v1/broadcasts", body);
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        var retried = await Done(await again.Content.ReadFromJsonAsync<JsonElement>());
        Assert.Equal(0, retried.GetProperty("entered").GetInt64());
        foreach (var visitor in members) Assert.Single(await Decided(visitor));

        var figures = await _marketing.GetFromJsonAsync<JsonElement>(accepted.GetProperty("figuresUrl").GetString());
        Assert.Equal(3, figures.GetProperty("messagesSent").GetInt64());

        // The same id for another message is refused; bad fields are named.
        var other = await _marketing.PostAsJsonAsync("/v1/broadcasts", new { broadcastId, segment, channel = "email", template = "another" });
        Assert.Equal(HttpStatusCode.Conflict, other.StatusCode);
        var bad = await _marketing.PostAsJsonAsync("/v1/broadcasts", new { segment, channel = "fax", template = "x" });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("channel", await bad.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, (await _marketing.PostAsJsonAsync("/v1/broadcasts", new { segment = "no-such-segment", channel = "email", template = "x" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await _ingest.PostAsJsonAsync("/v1/broadcasts", body)).StatusCode);
    }
}
