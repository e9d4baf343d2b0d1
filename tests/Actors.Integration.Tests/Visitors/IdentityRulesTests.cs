using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Domain.Tracking;
using Actors.Grains.Identity;
using Actors.Grains.Visitors;
using Actors.Integration.Tests.Support;
using Actors.Storage.Streams;
using Microsoft.Extensions.DependencyInjection;

namespace Actors.Integration.Tests.Visitors;

/// <summary>
/// The identity rules through the real path: two people on one browser stay two customers, an ingest key cannot alias
/// one customer into another, an explicit merge is audited and can be undone, a merged device leaves its segments, and
/// a merge interrupted half-way loses nothing on its retry.
/// </summary>
public class IdentityRulesTests(HostFixture host) : IClassFixture<HostFixture>
{
    private readonly HttpClient _ingest = host.Client();
    private readonly HttpClient _marketing = host.Client(HostFixture.MarketingKey);
    private readonly HttpClient _admin = host.Client(HostFixture.AdminKey);

    private static string New(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    private async Task Ok(Task<HttpResponseMessage> call)
    {
        var response = await call;
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    private Task Identify(string device, string user, string messageId, object? traits = null) =>
        Ok(_ingest.PostAsJsonAsync("/v1/identify", new { anonymousId = device, userId = user, messageId, traits = traits ?? new { } }));

    private Task Order(string device, string? user, string orderId, decimal total) =>
        Ok(_ingest.PostAsJsonAsync("/v1/track", new
        {
            anonymousId = device, userId = user, messageId = $"msg-{orderId}", @event = "Order Completed",
            properties = new { order_id = orderId, total, currency = "EUR", products = new[] { new { product_id = "p1", price = total, quantity = 1 } } },
        }));

    private async Task<JsonElement> Profile(string id) => await _admin.GetFromJsonAsync<JsonElement>($"/v1/visitors/{id}/profile");

    private async Task<List<JsonElement>> Events(string id, string? type = null) =>
        [.. (await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{id}/events?limit=1000{(type is null ? "" : $"&type={type}")}")).GetProperty("items").EnumerateArray()];

    [Fact]
    public async Task Two_people_on_one_browser_stay_two_customers()
    {
        var browser = New("shared");
        var alice = New("alice");
        var bob = New("bob");
        await Identify(browser, alice, $"login-a-{browser}", new { email = $"{alice}@example.com" });
        await Order(browser, alice, $"o-{alice}", 120);
        await Identify(browser, bob, $"login-b-{browser}", new { email = $"{bob}@example.com" });
        await Ok(_ingest.PostAsJsonAsync("/v1/track", new { anonymousId = browser, messageId = $"after-{browser}", @event = "Product Viewed", properties = new { product_id = "p9" } }));

        var aliceProfile = await Profile($"user:{alice}");
        Assert.Equal($"user:{alice}", aliceProfile.GetProperty("profileId").GetString());
        Assert.Equal(alice, aliceProfile.GetProperty("userId").GetString());
        Assert.Equal($"{alice}@example.com", aliceProfile.GetProperty("attributes").GetProperty("email").GetString());
        Assert.Equal(1, aliceProfile.GetProperty("orders").GetProperty("count").GetInt32());

        var bobProfile = await Profile($"user:{bob}");
        Assert.Equal($"user:{bob}", bobProfile.GetProperty("profileId").GetString());
        Assert.Equal(bob, bobProfile.GetProperty("userId").GetString());
        Assert.Equal(0, bobProfile.GetProperty("orders").GetProperty("count").GetInt32());
        Assert.DoesNotContain($"user:{alice}", bobProfile.GetProperty("mergedFrom").EnumerateArray().Select(e => e.GetString()));

        // The browser's later events are bob's; what it did as alice stays alice's; both streams say what happened.
        Assert.Contains(await Events($"user:{bob}"), e => e.GetProperty("messageId").GetString() == $"after-{browser}");
        Assert.DoesNotContain(await Events($"user:{alice}"), e => e.GetProperty("messageId").GetString() == $"after-{browser}");
        Assert.Single(await Events($"user:{bob}", "device_linked"));
        Assert.Single(await Events($"user:{alice}", "device_unlinked"));
        Assert.Equal($"user:{bob}", (await Profile(browser)).GetProperty("profileId").GetString());

        // A retried login changes nothing more; alice logging in again takes the browser back.
        await Identify(browser, bob, $"login-b-{browser}");
        Assert.Single(await Events($"user:{bob}", "device_linked"));
        await Identify(browser, alice, $"login-a2-{browser}");
        await Ok(_ingest.PostAsJsonAsync("/v1/track", new { anonymousId = browser, messageId = $"again-{browser}", @event = "Product Viewed", properties = new { product_id = "p9" } }));
        Assert.Contains(await Events($"user:{alice}"), e => e.GetProperty("messageId").GetString() == $"again-{browser}");
        Assert.Equal(1, (await Profile($"user:{alice}")).GetProperty("orders").GetProperty("count").GetInt32());
    }

    [Fact]
    public async Task A_new_anonymous_visitor_is_routed_to_its_own_profile_without_an_identity_lookup()
    {
        var visitor = New("new");
        await Ok(_ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events", new { @event = "Product Viewed", messageId = $"first-{visitor}", properties = new { product_id = "p1" } }));

        var active = (await host.Grains.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics()).Select(a => a.GrainId).ToHashSet();
        Assert.Contains(host.Grains.GetGrain<IVisitorGrain>($"anon:{visitor}").GetGrainId(), active);
        // The alias is its own profile until the device logs in: no identity grain was activated (nor its state read).
        Assert.DoesNotContain(host.Grains.GetGrain<IIdentityGrain>($"anon:{visitor}").GetGrainId(), active);
        // (Replay asks for the alias's latest link, so it is read after the check.)
        Assert.Contains(await Events($"anon:{visitor}"), e => e.GetProperty("messageId").GetString() == $"first-{visitor}");
    }

    [Fact]
    public async Task A_shared_browser_routes_to_its_latest_customer_after_every_activation_and_memory_is_gone()
    {
        var browser = New("kiosk");
        var alice = New("alice");
        var bob = New("bob");
        await Ok(_ingest.PostAsJsonAsync($"/v1/visitors/{browser}/events", new { @event = "Product Viewed", messageId = $"before-{browser}", properties = new { product_id = "p1" } }));
        await Identify(browser, alice, $"login-a-{browser}");
        await Identify(browser, bob, $"login-b-{browser}");

        // Nothing in memory: the device's route comes from its own stream (merged into alice, then forwarding to bob).
        await host.Grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        await Ok(_ingest.PostAsJsonAsync($"/v1/visitors/{browser}/events", new { @event = "Product Viewed", messageId = $"cold-{browser}", properties = new { product_id = "p2" } }));
        Assert.Contains(await Events($"user:{bob}"), e => e.GetProperty("messageId").GetString() == $"cold-{browser}");
        Assert.DoesNotContain(await Events($"user:{alice}"), e => e.GetProperty("messageId").GetString() == $"cold-{browser}");
        Assert.Contains(await Events($"user:{alice}"), e => e.GetProperty("messageId").GetString() == $"before-{browser}");
        Assert.Equal($"user:{bob}", (await Profile(browser)).GetProperty("profileId").GetString());

        // Alice takes the browser back; again with nothing in memory, its events are hers.
        await Identify(browser, alice, $"login-a2-{browser}");
        await host.Grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        await Ok(_ingest.PostAsJsonAsync($"/v1/visitors/{browser}/events", new { @event = "Product Viewed", messageId = $"back-{browser}", properties = new { product_id = "p3" } }));
        Assert.Contains(await Events($"user:{alice}"), e => e.GetProperty("messageId").GetString() == $"back-{browser}");
        Assert.DoesNotContain(await Events($"user:{bob}"), e => e.GetProperty("messageId").GetString() == $"back-{browser}");
    }

    [Fact]
    public async Task A_customer_known_only_from_tracks_with_a_user_id_is_not_merged_into_the_next_one_on_the_browser()
    {
        var browser = New("till");
        var alice = New("alice");
        var bob = New("bob");
        // A server-side integration sends tracks with both ids and never an identify.
        await Order(browser, alice, $"o-{alice}", 80);
        await Order(browser, bob, $"o-{bob}", 20);

        var aliceProfile = await Profile($"user:{alice}");
        Assert.Equal($"user:{alice}", aliceProfile.GetProperty("profileId").GetString());
        Assert.Equal(80m, aliceProfile.GetProperty("orders").GetProperty("total").GetDecimal());
        var bobProfile = await Profile($"user:{bob}");
        Assert.Equal(20m, bobProfile.GetProperty("orders").GetProperty("total").GetDecimal());
        Assert.Empty(bobProfile.GetProperty("mergedFrom").EnumerateArray());
    }

    [Fact]
    public async Task An_ingest_key_cannot_alias_one_customer_into_another()
    {
        var alice = New("alice");
        var bob = New("bob");
        await Order(New("d"), alice, $"o-{alice}", 50);
        await Identify(New("d"), bob, $"login-{bob}");

        var response = await _ingest.PostAsJsonAsync("/v1/alias", new { type = "alias", previousId = $"user:{alice}", userId = bob, messageId = $"alias-{alice}" });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("previousId", await response.Content.ReadAsStringAsync());
        Assert.Equal($"user:{alice}", (await Profile($"user:{alice}")).GetProperty("profileId").GetString());
        Assert.Equal(0, (await Profile($"user:{bob}")).GetProperty("orders").GetProperty("count").GetInt32());

        // In a batch the refused alias is listed and the rest is stored.
        var batch = await _ingest.PostAsJsonAsync("/v1/batch", new
        {
            batch = new object[]
            {
                new { type = "alias", previousId = $"user:{alice}", userId = bob, messageId = $"alias2-{alice}" },
                new { type = "track", userId = bob, @event = "Product Viewed", messageId = $"view-{bob}", properties = new { product_id = "p" } },
            },
        });
        var body = await batch.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(HttpStatusCode.OK, batch.StatusCode);
        Assert.Equal(1, body.GetProperty("accepted").GetInt32());
        Assert.Equal(0, body.GetProperty("refused")[0].GetProperty("index").GetInt32());

        // An anonymous id may still be aliased with the ingest key (a device joins a customer).
        var device = New("dev");
        await Ok(_ingest.PostAsJsonAsync("/v1/track", new { anonymousId = device, messageId = $"v-{device}", @event = "Product Viewed", properties = new { product_id = "p" } }));
        await Ok(_ingest.PostAsJsonAsync("/v1/alias", new { type = "alias", previousId = device, userId = bob, messageId = $"alias-{device}" }));
        Assert.Contains(await Events($"user:{bob}"), e => e.GetProperty("messageId").GetString() == $"v-{device}");
    }

    [Fact]
    public async Task An_explicit_merge_is_audited_and_an_unmerge_gives_each_customer_back_their_own_history()
    {
        var alice = New("alice");
        var bob = New("bob");
        await Identify(New("d"), alice, $"login-{alice}", new { email = "a@example.com" });
        await Order(New("d"), alice, $"o1-{alice}", 30);
        await Order(New("d"), alice, $"o2-{alice}", 40);
        await Identify(New("d"), bob, $"login-{bob}", new { email = "b@example.com" });

        // An ingest key may not merge; a marketing key may, with a reason.
        Assert.Equal(HttpStatusCode.Forbidden, (await _ingest.PostAsJsonAsync("/v1/profiles/merge", new { from = $"user:{alice}", into = $"user:{bob}", reason = "x" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _marketing.PostAsJsonAsync("/v1/profiles/merge", new { from = $"user:{alice}", into = $"user:{bob}" })).StatusCode);
        // Hostile input is a 400 naming the field, never a 500.
        foreach (var body in new[]
                 {
                     $$"""{"from":"user:{{alice}}","into":"user:{{bob}}","reason":"a\u0000b"}""",
                     $$"""{"from":"user:{{alice}}\u0000","into":"user:{{bob}}","reason":"x"}""",
                     $$"""{"from":"{{alice}}","into":"user:{{bob}}","reason":"x"}""",
                     """{"from":"user:","into":"user:x","reason":"x"}""",
                     "[1,2]", "{",
                 })
        {
            var hostile = await _marketing.PostAsync("/v1/profiles/merge", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, hostile.StatusCode);
        }
        var surrogate = await _admin.PostAsync("/v1/profiles/unmerge", new StringContent("""{"profile":"user:x","reason":"\ud800"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, surrogate.StatusCode);
        await Ok(_marketing.PostAsJsonAsync("/v1/profiles/merge", new { from = $"user:{alice}", into = $"user:{bob}", reason = "same person, two accounts" }));

        var merged = await Profile($"user:{alice}");
        Assert.Equal($"user:{bob}", merged.GetProperty("profileId").GetString());
        Assert.Equal(bob, merged.GetProperty("userId").GetString()); // bob's profile keeps bob's user id
        Assert.Equal(2, merged.GetProperty("orders").GetProperty("count").GetInt32());
        Assert.Equal("repeat_customer", merged.GetProperty("stage").GetString());
        var audit = Assert.Single(await Events($"user:{bob}", "profiles_merged"), e => e.GetProperty("data").GetProperty("sourceProfileId").GetString() == $"user:{alice}");
        Assert.Equal($"key:bootstrap-marketing", audit.GetProperty("data").GetProperty("actor").GetString());
        Assert.Equal("same person, two accounts", audit.GetProperty("data").GetProperty("reason").GetString());

        // Events for alice meanwhile reach the merged profile.
        await Ok(_ingest.PostAsJsonAsync("/v1/track", new { userId = alice, messageId = $"during-{alice}", @event = "Product Viewed", properties = new { product_id = "p" } }));

        // Unmerge needs admin.
        Assert.Equal(HttpStatusCode.Forbidden, (await _marketing.PostAsJsonAsync("/v1/profiles/unmerge", new { profile = $"user:{alice}", reason = "x" })).StatusCode);
        await Ok(_admin.PostAsJsonAsync("/v1/profiles/unmerge", new { profile = $"user:{alice}", reason = "they are two people" }));
        Assert.Equal(HttpStatusCode.Conflict, (await _admin.PostAsJsonAsync("/v1/profiles/unmerge", new { profile = $"user:{alice}", reason = "again" })).StatusCode);

        var bobAfter = await Profile($"user:{bob}");
        Assert.Equal(0, bobAfter.GetProperty("orders").GetProperty("count").GetInt32());
        Assert.Equal("lead", bobAfter.GetProperty("stage").GetString());
        Assert.Equal("b@example.com", bobAfter.GetProperty("attributes").GetProperty("email").GetString());
        var aliceAfter = await Profile($"user:{alice}");
        Assert.Equal($"user:{alice}", aliceAfter.GetProperty("profileId").GetString());
        Assert.Equal(2, aliceAfter.GetProperty("orders").GetProperty("count").GetInt32());
        Assert.Equal(JsonValueKind.Null, aliceAfter.GetProperty("mergedInto").ValueKind);

        // Both replay to what the grains hold, after a deactivation too.
        foreach (var id in new[] { $"user:{alice}", $"user:{bob}" })
        {
            var live = await Profile(id);
            var replayed = (await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{id}/state")).GetProperty("profile");
            Assert.Equal(live.GetProperty("orders").GetRawText(), replayed.GetProperty("orders").GetRawText());
            Assert.Equal(live.GetProperty("stage").GetString(), replayed.GetProperty("stage").GetString());
            Assert.Equal(live.GetProperty("version").GetInt64(), replayed.GetProperty("version").GetInt64());
        }
        var management = host.Grains.GetGrain<IManagementGrain>(0);
        await management.ForceActivationCollection(TimeSpan.Zero);
        Assert.Equal(0, (await Profile($"user:{bob}")).GetProperty("orders").GetProperty("count").GetInt32());

        // Later events for alice are hers again.
        await Ok(_ingest.PostAsJsonAsync("/v1/track", new { userId = alice, messageId = $"after-{alice}", @event = "Product Viewed", properties = new { product_id = "p" } }));
        Assert.Contains(await Events($"user:{alice}"), e => e.GetProperty("messageId").GetString() == $"after-{alice}");
    }

    [Fact]
    public async Task A_device_merged_by_mistake_is_unmerged_and_its_later_events_are_its_own_again()
    {
        var device = New("kiosk");
        var user = New("u");
        await Order(device, null, $"g-{device}", 25); // a guest order on a kiosk
        await Identify(device, user, $"login-{device}");
        Assert.Equal(1, (await Profile($"user:{user}")).GetProperty("orders").GetProperty("count").GetInt32());

        await Ok(_admin.PostAsJsonAsync("/v1/profiles/unmerge", new { profile = $"anon:{device}", reason = "kiosk shared by customers" }));

        var customer = await Profile($"user:{user}");
        Assert.Equal(0, customer.GetProperty("orders").GetProperty("count").GetInt32());
        Assert.DoesNotContain($"anon:{device}", customer.GetProperty("mergedFrom").EnumerateArray().Select(e => e.GetString()));
        var kiosk = await Profile(device);
        Assert.Equal($"anon:{device}", kiosk.GetProperty("profileId").GetString());
        Assert.Equal(1, kiosk.GetProperty("orders").GetProperty("count").GetInt32());

        await Ok(_ingest.PostAsJsonAsync("/v1/track", new { anonymousId = device, messageId = $"after-{device}", @event = "Product Viewed", properties = new { product_id = "p" } }));
        Assert.Contains(await Events(device), e => e.GetProperty("messageId").GetString() == $"after-{device}");
        Assert.DoesNotContain(await Events($"user:{user}"), e => e.GetProperty("messageId").GetString() == $"after-{device}");
    }

    [Fact]
    public async Task Two_opposite_merges_at_once_end_in_one_customer_with_each_order_once()
    {
        var alice = New("alice");
        var bob = New("bob");
        await Order(New("d"), alice, $"a-{alice}", 10);
        await Order(New("d"), bob, $"b-{bob}", 20);

        var calls = await Task.WhenAll(
            _marketing.PostAsJsonAsync("/v1/profiles/merge", new { from = $"user:{alice}", into = $"user:{bob}", reason = "dupe" }),
            _marketing.PostAsJsonAsync("/v1/profiles/merge", new { from = $"user:{bob}", into = $"user:{alice}", reason = "dupe" }));
        Assert.All(calls, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));

        var a = await Profile($"user:{alice}");
        var b = await Profile($"user:{bob}");
        Assert.Equal(a.GetProperty("profileId").GetString(), b.GetProperty("profileId").GetString());
        Assert.Equal(2, a.GetProperty("orders").GetProperty("count").GetInt32());
        Assert.Equal(30m, a.GetProperty("orders").GetProperty("total").GetDecimal());
    }

    [Fact]
    public async Task Customer_value_for_rfm_follows_merges_and_unmerges_so_no_order_counts_twice()
    {
        var guest = New("guest");
        var alice = New("alice");
        var bob = New("bob");
        await Order(guest, null, $"g-{guest}", 15); // a guest checkout on a device, then the login
        await Identify(guest, alice, $"login-{guest}");
        await Order(New("d"), alice, $"a2-{alice}", 25);
        await Order(New("d"), bob, $"b1-{bob}", 100);

        Assert.Null(await Value($"anon:{guest}"));
        Assert.Equal((2, 40m), await Value($"user:{alice}"));

        await Ok(_marketing.PostAsJsonAsync("/v1/profiles/merge", new { from = $"user:{alice}", into = $"user:{bob}", reason = "same person" }));
        Assert.Null(await Value($"user:{alice}"));
        Assert.Equal((3, 140m), await Value($"user:{bob}"));

        await Ok(_admin.PostAsJsonAsync("/v1/profiles/unmerge", new { profile = $"user:{alice}", reason = "not the same person" }));
        Assert.Equal((2, 40m), await Value($"user:{alice}"));
        Assert.Equal((1, 100m), await Value($"user:{bob}"));
    }

    private async Task<(int Orders, decimal Total)?> Value(string profileId)
    {
        var store = host.Host.App.Services.GetRequiredService<Marten.IDocumentStore>();
        await using var session = store.QuerySession();
        var value = await session.LoadAsync<Actors.Storage.Segments.CustomerValue>(profileId);
        return value is null ? null : (value.Orders, value.Total);
    }

    [Fact]
    public async Task A_device_that_logs_in_leaves_its_segments_so_members_are_not_counted_twice()
    {
        var segment = $"idseg-{Guid.NewGuid():N}"[..20];
        var created = await _marketing.PostAsJsonAsync("/v1/segments", new
        {
            id = segment, name = segment, rule = new { count = new { @event = "product_viewed", category = "hats", atLeast = 1, withinDays = 30 } },
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        // A subscriber is told of exits too (nobody listens on port 9: the deliveries stay in the outbox, listed).
        Assert.Equal(HttpStatusCode.OK, (await _marketing.PutAsJsonAsync($"/v1/segments/{segment}/webhook", new { url = "http://127.0.0.1:9/hook" })).StatusCode);
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while ((await _marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/{segment}/backfill")).GetProperty("state").GetString() == "running")
        {
            Assert.True(DateTime.UtcNow < deadline);
            await Task.Delay(200);
        }

        var device = New("hatdev");
        var user = New("hatter");
        await Ok(_ingest.PostAsJsonAsync("/v1/track", new { anonymousId = device, messageId = $"hat-{device}", @event = "Product Viewed", properties = new { product_id = "h1", category = "hats" } }));
        Assert.Equal(1, await Count(segment));

        await Identify(device, user, $"login-{device}");

        Assert.Equal(1, await Count(segment));
        var members = (await _marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/{segment}/members?limit=100")).GetProperty("items")
            .EnumerateArray().Select(m => m.GetProperty("profileId").GetString()).ToList();
        Assert.Equal([$"user:{user}"], members);
        // The device's own stream (the replay routes follow its alias to the customer) records why it left.
        var streams = host.Host.App.Services.GetRequiredService<IVisitorStreams>();
        var own = await streams.ReadAsync($"anon:{device}", new EventQuery(1, 100));
        var left = Assert.Single(own.Select(e => e.Event).OfType<SegmentLeft>());
        Assert.Equal($"merged_into:user:{user}", left.Reason);
        Assert.IsType<MergedInto>(own[^1].Event);
        var deliveries = (await _marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/{segment}/deliveries")).EnumerateArray().ToList();
        Assert.Contains(deliveries, d => d.GetProperty("profileId").GetString() == $"anon:{device}" && d.GetProperty("change").GetString() == "left");
        Assert.Contains(deliveries, d => d.GetProperty("profileId").GetString() == $"user:{user}" && d.GetProperty("change").GetString() == "entered");
    }

    private async Task<int> Count(string segment) =>
        (await _marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/{segment}/count")).GetProperty("members").GetInt32();

    [Fact]
    public async Task A_merge_interrupted_after_carrying_the_history_loses_nothing_that_reached_the_device_in_between()
    {
        var device = New("crash");
        var user = New("u");
        await Ok(_ingest.PostAsJsonAsync("/v1/track", new { anonymousId = device, messageId = $"before-{device}", @event = "Product Viewed", properties = new { product_id = "p1" } }));
        await Identify(New("other"), user, $"login0-{user}");

        // The first half of a merge: the history so far carried into the customer, then the node dies before the
        // device's stream is ended and its alias linked.
        var source = $"anon:{device}";
        var stored = await Events(source);
        IReadOnlyList<CarriedEvent> carried = [.. stored.Select(e => new CarriedEvent(e.GetProperty("version").GetInt64(),
            JsonSerializer.Deserialize<VisitorEvent>(e.GetProperty("data").GetRawText(), Actors.Api.ApiJson.Options)!))];
        await host.Grains.GetGrain<IVisitorGrain>($"user:{user}").Absorb(source, carried.AsImmutable(), stored.Count, null, null);

        // Meanwhile the device goes on: this event lands in the device's stream.
        await Ok(_ingest.PostAsJsonAsync("/v1/track", new { anonymousId = device, messageId = $"between-{device}", @event = "Product Viewed", properties = new { product_id = "p2" } }));

        // The login is retried and completes the merge.
        await Identify(device, user, $"login-{device}");

        var events = (await Events($"user:{user}")).Select(e => e.GetProperty("messageId").GetString()).ToList();
        Assert.Single(events, id => id == $"before-{device}");
        Assert.Single(events, id => id == $"between-{device}");
        Assert.Equal($"user:{user}", (await Profile(device)).GetProperty("profileId").GetString());
    }
}
