using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Actors.Domain.Tracking;
using Actors.Grains.Identity;
using Actors.Integration.Tests.Support;
using Actors.Storage.Streams;
using Microsoft.Extensions.DependencyInjection;

namespace Actors.Integration.Tests.Tracking;

/// <summary>
/// Issue 10 at the edge, over HTTP into PostgreSQL: one message must not break a profile, and bad input is a 400
/// naming the field, never a 500. Times are clamped around receipt, amounts bounded, NUL and lone surrogates refused.
/// </summary>
public class EdgeBoundsTests(HostFixture host) : IClassFixture<HostFixture>
{
    private readonly HttpClient _ingest = host.Client();
    private readonly HttpClient _admin = host.Client(HostFixture.AdminKey);
    private readonly HttpClient _marketing = host.Client(HostFixture.MarketingKey);

    private static string NewId(string kind) => $"{kind}-{Guid.NewGuid():N}";

    /// <summary>Posts raw JSON text, so escapes such as \u0000 and \ud800 reach the server as written.</summary>
    private Task<HttpResponseMessage> PostRaw(string path, string json, HttpClient? client = null) =>
        (client ?? _ingest).PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    private static async Task<JsonElement> Problem(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static void Names(JsonElement problem, params string[] fields)
    {
        foreach (var field in fields) Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"{field} not in {problem}");
    }

    private async Task<List<JsonElement>> Events(string visitorId) =>
        [.. (await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{visitorId}/events"))!.GetProperty("items").EnumerateArray()];

    // ---- event times ----

    [Fact]
    public async Task An_identify_dated_at_the_end_of_9999_is_clamped_keeps_its_client_time_and_the_customer_keeps_working()
    {
        var user = NewId("u");
        var before = DateTimeOffset.UtcNow;
        // This host's at-risk delay is 3 s, so the last second of the calendar is what overflowed (60 days in production).
        var identify = await PostRaw("/v1/identify", $$$"""{"userId":"{{{user}}}","timestamp":"9999-12-31T23:59:59Z","traits":{"plan":"gold"}}""");
        Assert.Equal(HttpStatusCode.OK, identify.StatusCode);

        // Before the fix every later event for this customer was stored but answered 500 (overflow computing the wake-up).
        for (var i = 0; i < 3; i++)
        {
            var track = await PostRaw("/v1/track", $$$"""{"userId":"{{{user}}}","event":"Product Viewed","properties":{"product_id":"p{{{i}}}"}}""");
            Assert.Equal(HttpStatusCode.OK, track.StatusCode);
        }
        var profile = await _marketing.GetFromJsonAsync<JsonElement>($"/v1/visitors/user:{user}/profile");
        Assert.Equal("lead", profile.GetProperty("stage").GetString());

        var identified = (await Events($"user:{user}")).First(e => e.GetProperty("type").GetString() == EventNames.Identified);
        var stored = identified.GetProperty("eventTime").GetDateTimeOffset();
        Assert.InRange(stored, before, DateTimeOffset.UtcNow + EventBounds.MaxFuture);
        Assert.Equal(new DateTimeOffset(9999, 12, 31, 23, 59, 59, TimeSpan.Zero), identified.GetProperty("data").GetProperty("clientTime").GetDateTimeOffset());
    }

    [Fact]
    public async Task A_client_clock_an_hour_fast_is_corrected_with_sentAt_of_the_message_or_of_the_batch()
    {
        var visitor = NewId("v");
        var clientNow = DateTimeOffset.UtcNow.AddHours(1);
        // Server SDKs (Node, Python) put sentAt on the batch, analytics.js on each message.
        var response = await PostRaw("/v1/batch", $$$"""
            {"sentAt":"{{{clientNow:O}}}","batch":[
             {"type":"track","anonymousId":"{{{visitor}}}","event":"Product Viewed","properties":{"product_id":"p1"},"timestamp":"{{{clientNow.AddMinutes(-2):O}}}"},
             {"type":"track","anonymousId":"{{{visitor}}}","event":"Product Viewed","properties":{"product_id":"p2"},"timestamp":"{{{clientNow.AddMinutes(-2):O}}}",
              "sentAt":"{{{clientNow.AddSeconds(30):O}}}"}]}
            """);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var viewed = (await Events(visitor)).Where(e => e.GetProperty("type").GetString() == EventNames.ProductViewed).ToList();
        Assert.Equal(2, viewed.Count);
        var expected = DateTimeOffset.UtcNow.AddMinutes(-2);
        Assert.InRange(viewed[0].GetProperty("eventTime").GetDateTimeOffset(), expected.AddSeconds(-30), expected.AddSeconds(5));
        Assert.InRange(viewed[1].GetProperty("eventTime").GetDateTimeOffset(), expected.AddSeconds(-60), expected.AddSeconds(-25));
        Assert.All(viewed, v => Assert.Equal(clientNow.AddMinutes(-2), v.GetProperty("data").GetProperty("clientTime").GetDateTimeOffset()));
    }

    /// <summary>Writes events straight into the customer's stream, as the edge stored them before it bounded them.</summary>
    private async Task WriteOldStream(string user, params VisitorEvent[] events)
    {
        var services = host.Host.App.Services;
        var profileId = await services.GetRequiredService<VisitorDirectory>().ResolveAsync(Aliases.User(user));
        await services.GetRequiredService<IVisitorStreams>().AppendAsync(profileId, 0, events);
    }

    /// <summary>New events over HTTP for a customer with an old stream: all 200, and the profile and its replay readable.</summary>
    private async Task<JsonElement> NewEventsAreAccepted(string user)
    {
        var events = await PostRaw($"/v1/visitors/user:{user}/events", """
            [{"event":"Product Viewed","properties":{"product_id":"p1","category":"shoes"}},
             {"event":"Product Added","properties":{"product_id":"p1","quantity":2}},
             {"event":"Order Completed","properties":{"order_id":"o-3","total":10}},
             {"event":"Order Refunded","properties":{"order_id":"o-1"}}]
            """);
        Assert.Equal(HttpStatusCode.OK, events.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await PostRaw("/v1/track", $$$"""{"userId":"{{{user}}}","event":"Signed Up"}""")).StatusCode);

        var profile = await _marketing.GetFromJsonAsync<JsonElement>($"/v1/visitors/user:{user}/profile");
        var state = await _admin.GetAsync($"/v1/users/user:{user}/state");
        Assert.Equal(HttpStatusCode.OK, state.StatusCode);
        var replayed = await state.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(profile.GetProperty("version").GetInt64(), replayed.GetProperty("version").GetInt64());
        return profile;
    }

    [Fact]
    public async Task A_stream_already_holding_times_at_the_calendar_edges_loads_and_takes_new_events()
    {
        var user = NewId("u");
        await WriteOldStream(user,
            new Identified(user, new Dictionary<string, string>()) { MessageId = NewId("m"), EventTime = DateTimeOffset.MaxValue, ReceivedTime = DateTimeOffset.UtcNow },
            new NewsletterSubscribed("footer") { MessageId = NewId("m"), EventTime = DateTimeOffset.MinValue, ReceivedTime = DateTimeOffset.UtcNow },
            new CartItemAdded("sku-1", "shoes", 1, 5m) { MessageId = NewId("m"), EventTime = DateTimeOffset.MaxValue, ReceivedTime = DateTimeOffset.UtcNow },
            new OrderPlaced("o-1", [], 5m, "EUR", SalesChannel.Online) { MessageId = NewId("m"), EventTime = DateTimeOffset.MinValue, ReceivedTime = DateTimeOffset.UtcNow },
            new OrderPlaced("o-2", [], 5m, "EUR", SalesChannel.Online) { MessageId = NewId("m"), EventTime = DateTimeOffset.MaxValue, ReceivedTime = DateTimeOffset.UtcNow });
        var profile = await NewEventsAreAccepted(user);
        Assert.Equal(3, profile.GetProperty("orders").GetProperty("count").GetInt32());
    }

    [Fact]
    public async Task A_stream_already_holding_huge_amounts_loads_and_takes_new_events()
    {
        var user = NewId("u");
        await WriteOldStream(user,
            new CartItemAdded("sku-1", "shoes", int.MaxValue, 5e28m) { MessageId = NewId("m"), EventTime = DateTimeOffset.UtcNow.AddMinutes(-5), ReceivedTime = DateTimeOffset.UtcNow },
            new OrderPlaced("o-1", [], 5e28m, "EUR", SalesChannel.Online) { MessageId = NewId("m"), EventTime = DateTimeOffset.UtcNow.AddMinutes(-4), ReceivedTime = DateTimeOffset.UtcNow },
            new OrderPlaced("o-2", [], 5e28m, "EUR", SalesChannel.Online) { MessageId = NewId("m"), EventTime = DateTimeOffset.UtcNow.AddMinutes(-3), ReceivedTime = DateTimeOffset.UtcNow });
        var profile = await NewEventsAreAccepted(user);
        Assert.Equal(3, profile.GetProperty("orders").GetProperty("count").GetInt32());
        Assert.Equal(decimal.MaxValue, profile.GetProperty("orders").GetProperty("total").GetDecimal()); // saturated, not thrown
    }

    // ---- amounts ----

    [Fact]
    public async Task Amounts_and_quantities_beyond_the_bounds_are_refused_naming_the_field()
    {
        var visitor = NewId("v");
        Names(await Problem(await PostRaw("/v1/track", $$$"""{"anonymousId":"{{{visitor}}}","event":"Order Completed","properties":{"order_id":"o1","total":5e28}}""")),
            "properties.total");
        Names(await Problem(await PostRaw("/v1/track", $$$"""
            {"anonymousId":"{{{visitor}}}","event":"Order Completed","properties":{"order_id":"o2","total":10,
             "products":[{"product_id":"a","price":1e13},{"product_id":"b","price":1,"quantity":10000000}]}}
            """)), "properties.products[0].price", "properties.products[1].quantity");
        Names(await Problem(await PostRaw("/v1/track", $$$"""
            {"anonymousId":"{{{visitor}}}","event":"Order Completed","properties":{"order_id":"o3","products":[{"product_id":"a","price":1e12,"quantity":1000}]}}
            """)), "properties.products");
        Names(await Problem(await PostRaw("/v1/track", $$$"""{"anonymousId":"{{{visitor}}}","event":"Order Refunded","properties":{"order_id":"o1","total":1e20}}""")),
            "properties.total");
        Names(await Problem(await PostRaw("/v1/track", $$$"""{"anonymousId":"{{{visitor}}}","event":"Checkout Started","properties":{"total":1e20}}""")),
            "properties.total");
        Names(await Problem(await PostRaw("/v1/track", $$$"""{"anonymousId":"{{{visitor}}}","event":"Product Viewed","properties":{"product_id":"a","price":1e20}}""")),
            "properties.price");
        Names(await Problem(await PostRaw("/v1/track", $$$"""{"anonymousId":"{{{visitor}}}","event":"Product Added","properties":{"product_id":"a","price":1,"quantity":2147483647}}""")),
            "properties.quantity");

        // At the bound is fine, twice.
        for (var i = 0; i < 2; i++)
            Assert.Equal(HttpStatusCode.OK, (await PostRaw("/v1/track", $$$"""{"anonymousId":"{{{visitor}}}","event":"Order Completed","properties":{"order_id":"ok{{{i}}}","total":1e12}}""")).StatusCode);
        var profile = await _marketing.GetFromJsonAsync<JsonElement>($"/v1/visitors/{visitor}/profile");
        Assert.Equal(2_000_000_000_000m, profile.GetProperty("orders").GetProperty("total").GetDecimal());
    }

    // ---- strings ----

    [Theory]
    [InlineData("""{"anonymousId":"a\u0000b","event":"x"}""", "anonymousId")]
    [InlineData("""{"anonymousId":"{v}","userId":"\ud800","event":"x"}""", "userId")]
    [InlineData("""{"anonymousId":"{v}","messageId":"m\u0000","event":"x"}""", "messageId")]
    [InlineData("""{"anonymousId":"{v}","event":"Product\u0000Viewed"}""", "event")]
    [InlineData("""{"anonymousId":"{v}","event":"x","properties":{"note":"bad\udc00"}}""", "properties.note")]
    [InlineData("""{"anonymousId":"{v}","event":"x","properties":{"na\u0000me":"v"}}""", "properties")]
    [InlineData("""{"anonymousId":"{v}","event":"x","properties":{"n\ud800":"v"}}""", "properties")]
    [InlineData("""{"anonymousId":"{v}","event":"Order Completed","properties":{"order_id":"o","products":[{"product_id":"p","name":"\u0000"}]}}""", "properties.products[0].name")]
    [InlineData("""{"anonymousId":"{v}","event":"x","context":{"page":{"title":"\ud800x"}}}""", "context.page.title")]
    [InlineData("""{"anonymousId":"{v}","event":"x","properties":{"tags":["ok","\u0000"]}}""", "properties.tags[1]")]
    public async Task A_nul_or_lone_surrogate_anywhere_is_a_400_naming_the_field(string template, string field)
    {
        var json = template.Replace("{v}", NewId("v"), StringComparison.Ordinal);
        Names(await Problem(await PostRaw("/v1/track", json)), field);
    }

    [Fact]
    public async Task Identify_traits_with_a_nul_are_refused()
    {
        Names(await Problem(await PostRaw("/v1/identify", $$$"""{"userId":"{{{NewId("u")}}}","traits":{"email":"a\u0000@b.c"}}""")), "traits.email");
    }

    [Fact]
    public async Task In_a_batch_the_bad_strings_are_refused_and_the_good_messages_stored()
    {
        string good1 = NewId("v"), good2 = NewId("v"), bad = NewId("v");
        var response = await PostRaw("/v1/batch", $$$"""
            {"batch":[
              {"type":"track","anonymousId":"{{{good1}}}","event":"Product Viewed","properties":{"product_id":"p1"}},
              {"type":"track","anonymousId":"{{{bad}}}","messageId":"bad\u0000id","event":"x","properties":{"a":"\u0000"}},
              {"type":"track","anonymousId":"{{{bad}}}","messageId":"\ud800","event":"x"},
              {"type":"page","anonymousId":"{{{good2}}}","name":"Home"}
            ]}
            """);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(2, body.GetProperty("accepted").GetInt32());
        var refused = body.GetProperty("refused").EnumerateArray().ToList();
        Assert.Equal([1, 2], refused.Select(r => r.GetProperty("index").GetInt32()));
        var fields = refused.SelectMany(r => r.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("field").GetString())).ToList();
        Assert.Contains("batch[1].messageId", fields);
        Assert.Contains("batch[1].properties.a", fields);
        Assert.Contains("batch[2].messageId", fields);

        Assert.Single(await Events(good1));
        Assert.Single(await Events(good2));
        Assert.Empty(await Events(bad));
    }

    [Fact]
    public async Task The_per_visitor_route_refuses_bad_strings_in_the_body_and_in_the_visitor_id()
    {
        var visitor = NewId("v");
        Names(await Problem(await PostRaw($"/v1/visitors/{visitor}/events", """{"event":"x","properties":{"k":"\u0000"}}""")), "properties.k");
        Names(await Problem(await PostRaw($"/v1/visitors/{visitor}/identify", """{"userId":"\ud800"}""")), "userId");
        var mixed = await PostRaw($"/v1/visitors/{visitor}/events", """[{"event":"ok"},{"event":"\u0000"}]""");
        Assert.Equal(HttpStatusCode.OK, mixed.StatusCode);
        Assert.Single(await Events(visitor));

        // Kestrel itself refuses a decoded NUL in the path (a bare 400); the route's own check stands behind it.
        Assert.Equal(HttpStatusCode.BadRequest, (await PostRaw("/v1/visitors/a%00b/events", """{"event":"x"}""")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await PostRaw("/v1/visitors/a%00b/identify", """{"userId":"u"}""")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _ingest.GetAsync("/v1/visitors/a%00b/profile")).StatusCode);
        // An encoded lone surrogate is not valid UTF-8: it is never decoded into the id, so nothing reaches the store.
        Assert.True((await PostRaw("/v1/visitors/a%ED%A0%80b/events", """{"event":"x"}""")).StatusCode is HttpStatusCode.OK or HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_write_key_that_is_not_text_is_unauthorized_not_a_crash()
    {
        var anonymous = host.Client(key: null);
        var response = await PostRaw("/v1/track", """{"writeKey":"\ud800","anonymousId":"a","event":"x"}""", anonymous);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Hostile_authorization_headers_are_unauthorized_and_the_real_key_still_works_after_them()
    {
        var anonymous = host.Client(key: null);
        async Task<HttpStatusCode> Send(string authorization)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/visitors/hostile-auth/events")
            { Content = new StringContent("""{"event":"x"}""", Encoding.UTF8, "application/json") };
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
            return (await anonymous.SendAsync(request)).StatusCode;
        }
        string Basic(byte[] credentials) => "Basic " + Convert.ToBase64String(credentials);
        foreach (var authorization in new[]
        {
            "Basic not*base64!", "Basic abc", "Basic ", "Basic " + new string('A', 7_999) + "=", // bad, cut, empty, 6 KB of zero bytes
            Basic(Encoding.UTF8.GetBytes(new string('k', 6_000) + ":")),                             // a long unknown key (the pooled path)
            Basic([0xff, 0xfe, 0x00, (byte)':']),                                                   // not UTF-8, a NUL
            Basic(Encoding.UTF8.GetBytes(":" + HostFixture.IngestKey)),                             // the key as the password only
            "Bearer %00", "Digest " + HostFixture.IngestKey,
        })
            Assert.True(await Send(authorization) is var status && status == HttpStatusCode.Unauthorized, $"{status} for {authorization[..Math.Min(40, authorization.Length)]}");
        // A raw NUL in the header is refused by the server before any key is read.
        Assert.Equal(HttpStatusCode.BadRequest, await Send("Bearer \u0000"));
        // The real key as a Segment SDK sends it (user name, empty password), after all of the above.
        Assert.Equal(HttpStatusCode.OK, await Send(Basic(Encoding.UTF8.GetBytes(HostFixture.IngestKey + ":"))));
    }

    // ---- imports ----

    [Fact]
    public async Task Imports_refuse_bad_strings_huge_amounts_and_far_dates_row_by_row()
    {
        string good = NewId("u"), bad = NewId("u");
        var lines = string.Join('\n',
            $$$"""{"userId":"{{{good}}}","orderId":"G-{{{good}}}","total":20,"orderedAt":"2026-01-10T10:00:00Z"}""",
            $$$"""{"userId":"{{{bad}}}","orderId":"B1-{{{bad}}}","total":20,"orderedAt":"2026-01-10T10:00:00Z","note":"\u0000"}""",
            $$$"""{"userId":"{{{bad}}}","orderId":"B2-{{{bad}}}","total":20,"orderedAt":"2026-01-10T10:00:00Z","n\ud800":"x"}""",
            $$$"""{"userId":"{{{bad}}}","orderId":"B3-{{{bad}}}","total":5e28,"orderedAt":"2026-01-10T10:00:00Z"}""",
            $$$"""{"userId":"{{{bad}}}","orderId":"B4-{{{bad}}}","total":20,"orderedAt":"9999-12-31T00:00:00Z"}""",
            $$$"""{"userId":"{{{bad}}}","orderId":"B5-{{{bad}}}","total":20,"orderedAt":"0001-01-01T00:00:00Z"}""",
            $$$"""{"userId":"{{{bad}}}","orderId":"B6-{{{bad}}}","total":20,"orderedAt":"2026-01-10T10:00:00Z","lines":[{"sku":"a","price":1e20,"quantity":1}]}""");
        var response = await _marketing.PostAsync("/v1/imports/orders", new StringContent(lines, Encoding.UTF8, "application/x-ndjson"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var report = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(1, report.GetProperty("imported").GetInt32());
        Assert.Equal(6, report.GetProperty("failed").GetInt32());
        var errors = report.GetProperty("errors").EnumerateArray().Select(e => (e.GetProperty("row").GetInt32(), e.GetProperty("field").GetString())).ToList();
        Assert.Contains((2, "note"), errors);
        Assert.Contains((3, "line"), errors);
        Assert.Contains((4, "total"), errors);
        Assert.Contains((5, "ordered_at"), errors);
        Assert.Contains((6, "ordered_at"), errors);
        Assert.Contains((7, "lines.price"), errors);

        var csv = $"user_id,tier\n{good},gold\n{bad},go\0ld\n";
        var attributes = await _marketing.PostAsync("/v1/imports/attributes", new StringContent(csv, Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.OK, attributes.StatusCode);
        var attributesReport = await attributes.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(1, attributesReport.GetProperty("imported").GetInt32());
        Assert.Contains((2, "tier"), attributesReport.GetProperty("errors").EnumerateArray().Select(e => (e.GetProperty("row").GetInt32(), e.GetProperty("field").GetString())));
        Assert.Equal(HttpStatusCode.OK, (await _marketing.GetAsync($"/v1/visitors/user:{good}/profile")).StatusCode);
    }
}
