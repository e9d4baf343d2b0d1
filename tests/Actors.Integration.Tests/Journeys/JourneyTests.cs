using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Integration.Tests.Support;
using Orleans.Runtime;

namespace Actors.Integration.Tests.Journeys;

/// <summary>
/// No quiet hours (equal times), so a message is decided the moment its step is reached, whatever the hour; visitors
/// held by a paused journey look again every second.
/// </summary>
public sealed class JourneyHostFixture : HostFixture
{
    protected override IEnumerable<string> ExtraArguments() =>
        ["--Actors:Messages:QuietFrom=00:00", "--Actors:Messages:QuietUntil=00:00", "--Actors:Segments:JourneyRecheckEvery=00:00:01"];
}

/// <summary>
/// Journeys through the real path: stored and published over HTTP, carried to the grains by the catalogue, walked by
/// each visitor's grain on events and wake-ups (timer or reminder), every decision in the visitor's stream.
/// </summary>
public class JourneyTests(JourneyHostFixture host) : IClassFixture<JourneyHostFixture>, IAsyncLifetime
{
    private readonly HttpClient _marketing = host.Client(HostFixture.MarketingKey);
    private readonly HttpClient _ingest = host.Client();
    private readonly HttpClient _admin = host.Client(HostFixture.AdminKey);

    /// <summary>Journeys are saved only with templates that exist: the ones these tests send.</summary>
    public Task InitializeAsync() => TestTemplates.EnsureAsync(_marketing, "cart-reminder-1", "cart-v1", "cart-v2", "cart-v3");

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>
    /// A cart journey of its own: triggered only by cart additions of <paramref name="category"/>, so the journeys of
    /// the other tests (same host) let no one in here.
    /// </summary>
    private static object CartJourney(string category, string wait, int holdoutPercent = 0) => new
    {
        name = $"Cart {category}",
        trigger = new { @event = "cart_item_added", category },
        start = "wait",
        steps = new object[]
        {
            new { id = "wait", wait = new { duration = wait }, next = "remind" },
            new { id = "remind", send = new { channel = "email", template = "cart-reminder-1" } },
        },
        goal = new { @event = "order_placed", attributionWindow = "P7D" },
        holdoutPercent,
    };

    private async Task<string> Publish(object journey)
    {
        var id = $"j-{Guid.NewGuid():N}"[..20];
        var create = await _marketing.PostAsJsonAsync("/v1/journeys", new { id, journey });
        Assert.True(create.StatusCode == HttpStatusCode.Created, await create.Content.ReadAsStringAsync());
        Assert.Equal("draft", (await create.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        var publish = await _marketing.PostAsync($"/v1/journeys/{id}/publish", null);
        Assert.True(publish.StatusCode == HttpStatusCode.OK, await publish.Content.ReadAsStringAsync());
        Assert.Equal("active", (await publish.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        return id;
    }

    private async Task Send(string visitor, string name, object properties)
    {
        var response = await _ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events",
            new { @event = name, messageId = $"{visitor}-{Guid.NewGuid():N}", properties });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task Consent(string visitor)
    {
        await TestAddresses.GiveEmailAsync(_ingest, visitor);
        await Send(visitor, "Consent Given", new { channel = "email", purpose = "marketing" });
    }

    private Task AddToCart(string visitor, string category) =>
        Send(visitor, "Product Added", new { product_id = "sku-1", price = 20, quantity = 1, category });

    private async Task<List<JsonElement>> Events(string visitor, string types) =>
        [.. (await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/events?type={types}&limit=1000"))
            .GetProperty("items").EnumerateArray()];

    private static string Data(JsonElement e, string name) => e.GetProperty("data").GetProperty(name).ToString();

    /// <summary>Polls the visitor's stream until <paramref name="done"/> holds of the events of those types, or the time is up.</summary>
    private async Task<List<JsonElement>> WaitFor(string visitor, string types, Func<List<JsonElement>, bool> done, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            var events = await Events(visitor, types);
            if (done(events) || DateTime.UtcNow > deadline) return events;
            await Task.Delay(250);
        }
    }

    [Fact]
    public async Task A_consenting_visitor_who_leaves_the_cart_gets_exactly_one_message_after_the_wait()
    {
        var category = $"c{Guid.NewGuid():N}"[..12];
        var journey = await Publish(CartJourney(category, "PT3S"));
        var visitor = $"jv-{Guid.NewGuid():N}";
        await Consent(visitor);
        var addedAt = DateTimeOffset.UtcNow;
        await AddToCart(visitor, category);

        var entered = Assert.Single(await Events(visitor, "journey_entered"));
        Assert.Equal(journey, Data(entered, "journeyId"));
        Assert.Empty(await Events(visitor, "message_decided")); // still waiting

        var decided = await WaitFor(visitor, "message_decided", e => e.Count > 0, TimeSpan.FromSeconds(30));
        await Task.Delay(TimeSpan.FromSeconds(2)); // nothing more comes
        decided = await Events(visitor, "message_decided");
        var message = Assert.Single(decided);
        Assert.Equal("sent", Data(message, "outcome"));
        Assert.Equal("allowed", Data(message, "reason"));
        Assert.Equal(journey, Data(message, "journeyId"));
        Assert.True(message.GetProperty("eventTime").GetDateTimeOffset() >= addedAt.AddSeconds(3), "sent before the wait ended");

        // The passage ended at the end of the graph; where the visitor is says so.
        var positions = await _marketing.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/journeys");
        var position = Assert.Single(positions.GetProperty("journeys").EnumerateArray());
        Assert.Equal(journey, position.GetProperty("journeyId").GetString());
        Assert.False(position.GetProperty("inside").GetBoolean());
        Assert.Equal(1, position.GetProperty("occurrence").GetInt32());
    }

    [Fact]
    public async Task The_figures_count_entries_verdicts_goals_exits_and_who_is_in_which_step()
    {
        var category = $"c{Guid.NewGuid():N}"[..12];
        var journey = await Publish(CartJourney(category, "PT2S"));
        var (sent, refused, bought, waiting) = ($"jf-s-{Guid.NewGuid():N}", $"jf-r-{Guid.NewGuid():N}", $"jf-b-{Guid.NewGuid():N}", $"jf-w-{Guid.NewGuid():N}");
        await Consent(sent);
        await AddToCart(sent, category);
        await AddToCart(refused, category); // no consent
        await Consent(bought);
        await AddToCart(bought, category);
        await Send(bought, "Order Completed", new { order_id = $"o-{bought}", total = 20, currency = "EUR" });
        await WaitFor(sent, "message_decided", e => e.Count > 0, TimeSpan.FromSeconds(30));
        await WaitFor(refused, "message_decided", e => e.Count > 0, TimeSpan.FromSeconds(30));
        await Consent(waiting);
        await AddToCart(waiting, category); // still in the 2 s wait when the figures are read

        var figures = await _marketing.GetFromJsonAsync<JsonElement>($"/v1/journeys/{journey}/figures");
        Assert.Equal(4, figures.GetProperty("entered").GetInt64());
        Assert.Equal(0, figures.GetProperty("heldOut").GetInt64());
        Assert.Equal(1, figures.GetProperty("messagesSent").GetInt64());
        var suppressed = Assert.Single(figures.GetProperty("suppressedByReason").EnumerateObject());
        Assert.StartsWith("no_consent", suppressed.Name);
        Assert.Equal(1, suppressed.Value.GetInt64());
        Assert.Equal(1, figures.GetProperty("goalsReached").GetInt64());
        Assert.Equal(1, figures.GetProperty("converted").GetInt64());
        Assert.Equal(2, figures.GetProperty("exitedByReason").GetProperty("completed").GetInt64());
        Assert.Equal(1, figures.GetProperty("inStep").GetProperty("wait").GetInt64());
        Assert.Equal(HttpStatusCode.NotFound, (await _marketing.GetAsync("/v1/journeys/no-such-journey/figures")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await _ingest.GetAsync($"/v1/journeys/{journey}/figures")).StatusCode);
    }

    [Fact]
    public async Task Publishing_a_new_version_with_moveInside_moves_waiting_visitors_over()
    {
        var category = $"c{Guid.NewGuid():N}"[..12];
        object Version(string template) => new
        {
            name = $"Cart {category}",
            trigger = new { @event = "cart_item_added", category },
            start = "wait",
            steps = new object[]
            {
                new { id = "wait", wait = new { duration = "PT4S" }, next = "remind" },
                new { id = "remind", send = new { channel = "email", template } },
            },
        };
        var journey = await Publish(Version("cart-v1"));
        var (stays, moves) = ($"jm-s-{Guid.NewGuid():N}", $"jm-m-{Guid.NewGuid():N}");
        await Consent(stays);
        await AddToCart(stays, category);

        // Version 2 published without moving: the first visitor finishes on version 1.
        Assert.Equal(HttpStatusCode.OK, (await _marketing.PutAsJsonAsync($"/v1/journeys/{journey}", new { journey = Version("cart-v2") })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _marketing.PostAsync($"/v1/journeys/{journey}/publish", null)).StatusCode);
        await Consent(moves);
        await Task.Delay(100);
        var first = await WaitFor(stays, "message_decided", e => e.Count > 0, TimeSpan.FromSeconds(30));
        Assert.Equal("cart-v1", Data(Assert.Single(first), "template"));

        // A visitor inside version 2, then version 3 published with moveInside: they go on in version 3.
        await AddToCart(moves, category);
        Assert.Equal(HttpStatusCode.OK, (await _marketing.PutAsJsonAsync($"/v1/journeys/{journey}", new { journey = Version("cart-v3") })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _marketing.PostAsync($"/v1/journeys/{journey}/publish?moveInside=true", null)).StatusCode);
        var second = await WaitFor(moves, "message_decided", e => e.Count > 0, TimeSpan.FromSeconds(30));
        Assert.Equal("cart-v3", Data(Assert.Single(second), "template"));
        var moved = Assert.Single(await Events(moves, "journey_version_changed"));
        Assert.Equal(("2", "3"), (Data(moved, "fromVersion"), Data(moved, "toVersion")));
    }

    [Fact]
    public async Task An_order_before_the_wait_ends_reaches_the_goal_and_nothing_is_sent()
    {
        var category = $"c{Guid.NewGuid():N}"[..12];
        var journey = await Publish(CartJourney(category, "PT5S"));
        var visitor = $"jv-{Guid.NewGuid():N}";
        await Consent(visitor);
        await AddToCart(visitor, category);
        await Send(visitor, "Order Completed", new { order_id = $"o-{visitor}", total = 20, currency = "EUR" });

        var goal = Assert.Single(await Events(visitor, "journey_goal_reached"));
        Assert.Equal(journey, Data(goal, "journeyId"));
        Assert.Equal("true", Data(goal, "withinAttribution").ToLowerInvariant());
        await Task.Delay(TimeSpan.FromSeconds(7)); // past the wait
        Assert.Empty(await Events(visitor, "message_decided"));
    }

    [Fact]
    public async Task The_wait_ends_by_the_durable_reminder_after_the_grain_was_deactivated()
    {
        var category = $"c{Guid.NewGuid():N}"[..12];
        await Publish(CartJourney(category, "PT8S"));
        var visitor = $"jv-{Guid.NewGuid():N}";
        await Consent(visitor);
        await AddToCart(visitor, category);
        Assert.Single(await Events(visitor, "journey_entered"));

        // The activation (and its timer) goes; only the reminder can bring the grain back.
        var management = host.Grains.GetGrain<IManagementGrain>(0);
        var profileId = $"anon:{visitor}";
        Assert.Contains(await management.GetDetailedGrainStatistics(), g => g.GrainId.Key.ToString() == profileId);
        await management.ForceActivationCollection(TimeSpan.Zero);
        for (var i = 0; i < 20 && (await management.GetDetailedGrainStatistics()).Any(g => g.GrainId.Key.ToString() == profileId); i++)
            await Task.Delay(100);
        Assert.DoesNotContain(await management.GetDetailedGrainStatistics(), g => g.GrainId.Key.ToString() == profileId);
        Assert.Empty(await Events(visitor, "message_decided")); // the 8 s wait has not ended yet

        var decided = await WaitFor(visitor, "message_decided", e => e.Count > 0, TimeSpan.FromSeconds(40));
        var message = Assert.Single(decided);
        Assert.Equal("sent", Data(message, "outcome"));
    }

    [Fact]
    public async Task A_visitor_without_consent_is_walked_but_the_message_is_suppressed_for_no_consent()
    {
        var category = $"c{Guid.NewGuid():N}"[..12];
        await Publish(CartJourney(category, "PT1S"));
        var visitor = $"jv-{Guid.NewGuid():N}";
        await AddToCart(visitor, category);

        var message = Assert.Single(await WaitFor(visitor, "message_decided", e => e.Count > 0, TimeSpan.FromSeconds(30)));
        Assert.Equal("suppressed", Data(message, "outcome"));
        Assert.StartsWith("no_consent", Data(message, "reason"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_holdout_of_100_percent_enters_every_visitor_held_out_and_sends_nothing()
    {
        var category = $"c{Guid.NewGuid():N}"[..12];
        await Publish(CartJourney(category, "PT1S", holdoutPercent: 100));
        var visitor = $"jv-{Guid.NewGuid():N}";
        await Consent(visitor);
        await AddToCart(visitor, category);

        var entered = Assert.Single(await Events(visitor, "journey_entered"));
        Assert.Equal("true", Data(entered, "heldOut").ToLowerInvariant());
        var message = Assert.Single(await WaitFor(visitor, "message_decided", e => e.Count > 0, TimeSpan.FromSeconds(30)));
        Assert.Equal("suppressed", Data(message, "outcome"));
        Assert.Equal("held_out", Data(message, "reason"));
    }

    [Fact]
    public async Task A_paused_journey_holds_its_visitors_and_publishing_again_moves_them_on_while_archiving_lets_them_out()
    {
        var category = $"c{Guid.NewGuid():N}"[..12];
        var journey = await Publish(CartJourney(category, "PT2S"));
        var visitor = $"jv-{Guid.NewGuid():N}";
        await Consent(visitor);
        await AddToCart(visitor, category);
        Assert.Equal(HttpStatusCode.OK, (await _marketing.PostAsync($"/v1/journeys/{journey}/pause", null)).StatusCode);

        await Task.Delay(TimeSpan.FromSeconds(4)); // past the wait: held, nothing decided
        Assert.Empty(await Events(visitor, "message_decided"));
        var held = await _marketing.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/journeys");
        Assert.Equal("paused", held.GetProperty("journeys")[0].GetProperty("status").GetString());
        Assert.True(held.GetProperty("journeys")[0].GetProperty("inside").GetBoolean());

        Assert.Equal(HttpStatusCode.OK, (await _marketing.PostAsync($"/v1/journeys/{journey}/publish", null)).StatusCode);
        var message = Assert.Single(await WaitFor(visitor, "message_decided", e => e.Count > 0, TimeSpan.FromSeconds(20)));
        Assert.Equal("sent", Data(message, "outcome"));

        // Archived while another visitor waits: at the wait's end they leave, sent nothing; no one enters any more.
        var other = $"jv-{Guid.NewGuid():N}";
        await Consent(other);
        await AddToCart(other, category);
        Assert.Single(await Events(other, "journey_entered"));
        Assert.Equal(HttpStatusCode.OK, (await _marketing.PostAsync($"/v1/journeys/{journey}/archive", null)).StatusCode);
        var exited = await WaitFor(other, "journey_exited", e => e.Count > 0, TimeSpan.FromSeconds(20));
        Assert.Equal("journey_archived", Data(Assert.Single(exited), "reason"));
        Assert.Empty(await Events(other, "message_decided"));
        var late = $"jv-{Guid.NewGuid():N}";
        await AddToCart(late, category);
        Assert.Empty(await Events(late, "journey_entered"));
    }

    [Fact]
    public async Task Invalid_journeys_are_refused_with_400_naming_every_path()
    {
        var broken = new
        {
            name = "Broken",
            trigger = new { @event = "cart_item_added" },
            start = "wait",
            steps = new object[]
            {
                new { id = "wait", wait = new { duration = "PT0S" }, next = "sned" },
                new { id = "send", send = new { channel = "fax", template = "t" } },
            },
        };
        foreach (var (path, body) in new[] { ("/v1/journeys", (object)new { id = "broken", journey = broken }), ("/v1/journeys/validate", new { journey = broken }) })
        {
            var response = await _marketing.PostAsJsonAsync(path, body);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
            var paths = errors.EnumerateObject().Select(p => p.Name).ToList();
            Assert.Contains("journey.steps[0].wait.duration", paths);
            Assert.Contains("journey.steps[0].next", paths);
            Assert.Contains("journey.steps[1].send.channel", paths);
            Assert.Contains("did you mean \"send\"", errors.GetProperty("journey.steps[0].next")[0].GetString(), StringComparison.Ordinal);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await _marketing.GetAsync("/v1/journeys/broken")).StatusCode);

        // Text PostgreSQL cannot store is a 400 at its path, not a 500.
        var nul = await _marketing.PostAsync("/v1/journeys", new StringContent(
            """{"id":"nul","journey":{"name":"a\u0000b","trigger":{"event":"cart_item_added"},"start":"s","steps":[{"id":"s","exit":true}]}}""",
            System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, nul.StatusCode);
        Assert.Contains("journey.name", (await nul.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").EnumerateObject().Select(p => p.Name));

        // No journey at all, or not an object: 400 at "journey".
        foreach (var body in new[] { """{"id":"none"}""", """{"id":"none","journey":null}""", """{"journey":[]}""" })
        {
            var response = await _marketing.PostAsync("/v1/journeys", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains("journey", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").EnumerateObject().Select(p => p.Name));
        }
        Assert.Equal(HttpStatusCode.NotFound, (await _marketing.PutAsJsonAsync("/v1/journeys/no-such", new { journey = CartJourney("shoes", "PT1H") })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _marketing.PostAsync("/v1/journeys/no-such/publish", null)).StatusCode);

        var valid = await _marketing.PostAsJsonAsync("/v1/journeys/validate", new { journey = CartJourney("shoes", "PT1H") });
        Assert.Equal(HttpStatusCode.OK, valid.StatusCode);
        Assert.StartsWith("When a visitor adds shoes to the cart", (await valid.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("description").GetString());
    }

    [Fact]
    public async Task Versions_are_kept_stale_revisions_get_409_and_templates_and_lists_are_served()
    {
        var category = $"c{Guid.NewGuid():N}"[..12];
        var id = await Publish(CartJourney(category, "PT1H"));
        var get = await _marketing.GetAsync($"/v1/journeys/{id}");
        var revision = get.Headers.ETag!.Tag;
        var current = await get.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(1, current.GetProperty("version").GetInt32());
        Assert.StartsWith("When a visitor adds", current.GetProperty("description").GetString());

        var put = new HttpRequestMessage(HttpMethod.Put, $"/v1/journeys/{id}") { Content = JsonContent.Create(new { journey = CartJourney(category, "PT2H") }) };
        put.Headers.IfMatch.Add(new System.Net.Http.Headers.EntityTagHeaderValue(revision));
        var updated = await _marketing.SendAsync(put);
        Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
        var saved = await updated.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(2, saved.GetProperty("version").GetInt32());
        Assert.Equal(2, saved.GetProperty("versions").GetArrayLength());
        Assert.Equal("active", saved.GetProperty("status").GetString());

        var stale = new HttpRequestMessage(HttpMethod.Put, $"/v1/journeys/{id}") { Content = JsonContent.Create(new { journey = CartJourney(category, "PT3H") }) };
        stale.Headers.IfMatch.Add(new System.Net.Http.Headers.EntityTagHeaderValue(revision));
        Assert.Equal(HttpStatusCode.Conflict, (await _marketing.SendAsync(stale)).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await _marketing.PostAsync($"/v1/journeys/{id}/pause", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _marketing.PostAsync($"/v1/journeys/{id}/archive", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await _marketing.PostAsync($"/v1/journeys/{id}/publish", null)).StatusCode);
        var list = await _marketing.GetFromJsonAsync<JsonElement>("/v1/journeys");
        Assert.Contains(list.EnumerateArray(), j => j.GetProperty("id").GetString() == id && j.GetProperty("status").GetString() == "archived");

        var templates = await _marketing.GetFromJsonAsync<JsonElement>("/v1/journeys/templates");
        Assert.Contains(templates.EnumerateArray(), t => t.GetProperty("id").GetString() == "abandoned-cart");
        Assert.Equal(HttpStatusCode.Forbidden, (await _ingest.GetAsync("/v1/journeys")).StatusCode);
    }

    [Fact]
    public async Task Replayed_state_has_the_same_journey_positions_as_the_live_profile_and_ingest_keys_do_not_see_them()
    {
        var category = $"c{Guid.NewGuid():N}"[..12];
        var journey = await Publish(CartJourney(category, "PT1H"));
        var visitor = $"jv-{Guid.NewGuid():N}";
        await Consent(visitor);
        await AddToCart(visitor, category);

        var live = await _marketing.GetFromJsonAsync<JsonElement>($"/v1/visitors/{visitor}/profile");
        var liveJourneys = live.GetProperty("journeys");
        var position = Assert.Single(liveJourneys.EnumerateArray());
        Assert.Equal(journey, position.GetProperty("journeyId").GetString());
        Assert.Equal("wait", position.GetProperty("stepId").GetString());

        var replayed = await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/state");
        Assert.Equal(liveJourneys.ToString(), replayed.GetProperty("profile").GetProperty("journeys").ToString());

        var where = await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/journeys");
        var here = Assert.Single(where.GetProperty("journeys").EnumerateArray());
        Assert.True(here.GetProperty("inside").GetBoolean());
        Assert.Equal("wait", here.GetProperty("stepKind").GetString());
        Assert.Equal("event cart_item_added", here.GetProperty("entryReason").GetString());
        Assert.Equal(position.GetProperty("waitUntil").GetDateTimeOffset(), here.GetProperty("waitUntil").GetDateTimeOffset());

        var minimal = await _ingest.GetFromJsonAsync<JsonElement>($"/v1/visitors/{visitor}/profile");
        Assert.False(minimal.TryGetProperty("journeys", out _));
        Assert.Equal(HttpStatusCode.Forbidden, (await _ingest.GetAsync($"/v1/users/{visitor}/journeys")).StatusCode);
    }
}
