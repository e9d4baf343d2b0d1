using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Integration.Tests.Support;

namespace Actors.Integration.Tests.Visitors;

/// <summary>The per-visitor gateway over HTTP, through the grain, into PostgreSQL.</summary>
public class VisitorGatewayTests(HostFixture host) : IClassFixture<HostFixture>
{
    private readonly HttpClient _ingest = host.Client();
    private readonly HttpClient _admin = host.Client(HostFixture.AdminKey);

    private static string NewVisitor() => $"v-{Guid.NewGuid():N}";

    private static object Track(string @event, object properties, string? messageId = null) =>
        new { type = "track", @event, messageId = messageId ?? Guid.NewGuid().ToString(), timestamp = DateTimeOffset.UtcNow, properties };

    // The full view (orders, attributes, profile id) takes a marketing or admin key; ingest keys get a minimal one.
    private async Task<JsonElement> Profile(string visitorId, HttpClient? client = null) =>
        await (client ?? _admin).GetFromJsonAsync<JsonElement>($"/v1/visitors/{visitorId}/profile");

    [Fact]
    public async Task Events_round_trip_into_the_stream_and_move_the_stage()
    {
        var visitor = NewVisitor();
        var response = await _ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events", new object[]
        {
            Track("Product Viewed", new { product_id = "sku-1", category = "Shoes", price = 59.9 }),
            Track("Newsletter Subscribed", new { source = "popup" }),
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(2, body.GetProperty("accepted").GetInt32());

        var profile = await Profile(visitor);
        Assert.Equal("lead", profile.GetProperty("stage").GetString());
        Assert.Equal("newsletter", profile.GetProperty("leadKind").GetString());

        await _ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events", Track("Order Completed", new { order_id = "o-1", total = 80, currency = "EUR", products = new[] { new { product_id = "sku-1", category = "Shoes", price = 80, quantity = 1 } } }));
        await _ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events", Track("Order Completed", new { order_id = "o-2", total = 20, currency = "EUR" }));
        profile = await Profile(visitor);
        Assert.Equal("repeat_customer", profile.GetProperty("stage").GetString());
        Assert.Equal(2, profile.GetProperty("orders").GetProperty("count").GetInt32());

        var events = await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/events?type=stage_changed");
        Assert.Equal(["newsletter_signup", "first_order", "orders_reached_2"],
            events.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("data").GetProperty("reason").GetString()));
    }

    [Fact]
    public async Task A_duplicate_delivery_is_acknowledged_and_stored_once()
    {
        var visitor = NewVisitor();
        var message = Track("Product Viewed", new { product_id = "sku-9" }, messageId: "dup-1");
        var first = await (await _ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events", message)).Content.ReadFromJsonAsync<JsonElement>();
        var second = await _ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events", message);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        var body = await second.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(1, first.GetProperty("accepted").GetInt32());
        Assert.Equal(0, body.GetProperty("accepted").GetInt32());
        Assert.Equal(1, body.GetProperty("duplicates").GetInt32());
        Assert.Equal(1, (await Profile(visitor)).GetProperty("version").GetInt64());
    }

    [Fact]
    public async Task A_bad_payload_names_the_field_and_stores_nothing()
    {
        var visitor = NewVisitor();
        var response = await _ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events", Track("Order Completed", new { total = 10 }));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty("properties.order_id", out _), problem.ToString());
        Assert.Equal(0, (await Profile(visitor)).GetProperty("version").GetInt64());
    }

    [Fact]
    public async Task In_a_batch_only_the_refused_items_are_left_out_and_named()
    {
        var visitor = NewVisitor();
        var response = await _ingest.PostAsJsonAsync("/v1/batch", new
        {
            batch = new object[]
            {
                new { type = "track", anonymousId = visitor, @event = "Product Viewed", messageId = "b-1", properties = new { product_id = "p1" } },
                new { type = "track", anonymousId = visitor, messageId = "b-2", properties = new { } },
                new { type = "page", anonymousId = visitor, messageId = "b-3", name = "Home" },
            },
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(body.GetProperty("success").GetBoolean());
        Assert.Equal(2, body.GetProperty("accepted").GetInt32());
        var refused = Assert.Single(body.GetProperty("refused").EnumerateArray());
        Assert.Equal(1, refused.GetProperty("index").GetInt32());
        Assert.Contains("batch[1].event", refused.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("field").GetString()));
        Assert.Equal(2, (await Profile(visitor)).GetProperty("version").GetInt64());
    }

    [Fact]
    public async Task Missing_or_wrong_keys_get_401_and_a_weak_scope_gets_403_and_nothing_changes()
    {
        var visitor = NewVisitor();
        var anonymous = host.Client(key: null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync($"/v1/visitors/{visitor}/events", Track("Product Viewed", new { product_id = "x" }))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Client("not-a-key-at-all").GetAsync($"/v1/visitors/{visitor}/profile")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await _ingest.GetAsync($"/v1/users/{visitor}/events")).StatusCode);
        Assert.Equal(0, (await Profile(visitor)).GetProperty("version").GetInt64());
    }

    [Fact]
    public async Task The_Segment_write_key_is_accepted_as_the_basic_user_name()
    {
        var client = host.Client(key: null);
        client.DefaultRequestHeaders.Authorization = new("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(HostFixture.IngestKey + ":")));
        var visitor = NewVisitor();
        var response = await client.PostAsJsonAsync("/v1/track", new { anonymousId = visitor, @event = "Cart Viewed", messageId = Guid.NewGuid().ToString() });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, (await Profile(visitor)).GetProperty("version").GetInt64());
    }

    [Fact]
    public async Task The_write_key_is_also_accepted_in_the_body_as_the_Node_SDK_sends_it()
    {
        var visitor = NewVisitor();
        var response = await host.Client(key: null).PostAsJsonAsync("/v1/track",
            new { writeKey = HostFixture.IngestKey, anonymousId = visitor, @event = "Cart Viewed", messageId = Guid.NewGuid().ToString() });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, (await Profile(visitor)).GetProperty("version").GetInt64());
    }

    [Fact]
    public async Task A_caller_without_a_valid_key_is_refused_before_its_body_is_read()
    {
        // Not JSON at all: were the body bound first, this would be a 400.
        var content = new StringContent("{ not json", System.Text.Encoding.UTF8, "application/json");
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Client("not-a-key-at-all").PostAsync("/v1/segments", content)).StatusCode);
        var ingestContent = new StringContent("{ not json", System.Text.Encoding.UTF8, "application/json");
        Assert.Equal(HttpStatusCode.Forbidden, (await _ingest.PostAsync("/v1/segments", ingestContent)).StatusCode);
    }

    [Fact]
    public async Task An_over_limit_body_gets_413_and_changes_nothing()
    {
        var visitor = NewVisitor();
        var huge = new string('x', 40 * 1024);
        var response = await _ingest.PostAsJsonAsync("/v1/track", new { anonymousId = visitor, @event = "Cart Viewed", properties = new { huge } });
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal(0, (await Profile(visitor)).GetProperty("version").GetInt64());
    }

    [Fact]
    public async Task Gzip_bodies_are_accepted()
    {
        var visitor = NewVisitor();
        var json = JsonSerializer.SerializeToUtf8Bytes(new { batch = new[] { new { type = "track", anonymousId = visitor, @event = "Cart Viewed", messageId = Guid.NewGuid().ToString() } } });
        using var compressed = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(compressed, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(json);
        var content = new ByteArrayContent(compressed.ToArray());
        content.Headers.ContentType = new("application/json");
        content.Headers.ContentEncoding.Add("gzip");
        var response = await _ingest.PostAsync("/v1/batch", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, (await Profile(visitor)).GetProperty("version").GetInt64());
    }

    /// <summary>A body whose length the client does not say (chunked), as browsers' and SDKs' streams send it.</summary>
    private sealed class UnknownLength(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }

    private static object[] ViewsOf(string visitor, int count, string tag) =>
        [.. Enumerable.Range(0, count).Select(i => (object)new
        {
            type = "track", anonymousId = visitor, @event = "Product Viewed", messageId = $"{visitor}-{tag}-{i}",
            properties = new { product_id = $"{tag}-{i}", category = "Shoes", name = new string('n', 150) },
        })];

    private async Task<List<string>> StoredSkus(string visitor)
    {
        var skus = new List<string>();
        long? next = 1;
        while (next is { } from)
        {
            var page = await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/anon:{visitor}/events?from={from}&limit=500");
            skus.AddRange(page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("data").GetProperty("sku").GetString()!));
            next = page.GetProperty("next").ValueKind == JsonValueKind.Number ? page.GetProperty("next").GetInt64() : null;
        }
        return skus;
    }

    [Fact]
    public async Task Bodies_of_unknown_length_and_gzip_batches_that_inflate_far_are_read_whole_and_one_byte_over_the_limit_is_refused()
    {
        // The body is read into a pooled buffer sized from Content-Length, or grown from 4 KB when there is none.
        var visitor = NewVisitor();
        var chunked = new StreamContent(new UnknownLength(JsonSerializer.SerializeToUtf8Bytes(new { batch = ViewsOf(visitor, 400, "chunked") })));
        chunked.Headers.ContentType = new("application/json");
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/batch") { Content = chunked })
        {
            request.Headers.TransferEncodingChunked = true;
            Assert.Equal(HttpStatusCode.OK, (await _ingest.SendAsync(request)).StatusCode);
        }

        using var compressed = new MemoryStream();
        var json = JsonSerializer.SerializeToUtf8Bytes(new { batch = ViewsOf(visitor, 400, "gzip") });
        using (var gzip = new System.IO.Compression.GZipStream(compressed, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true)) gzip.Write(json);
        Assert.True(compressed.Length * 10 < json.Length, $"{compressed.Length} bytes inflate to {json.Length}");
        var zipped = new ByteArrayContent(compressed.ToArray());
        zipped.Headers.ContentType = new("application/json");
        zipped.Headers.ContentEncoding.Add("gzip");
        Assert.Equal(HttpStatusCode.OK, (await _ingest.PostAsync("/v1/batch", zipped)).StatusCode);

        var skus = await StoredSkus(visitor);
        Assert.Equal([.. Enumerable.Range(0, 400).Select(i => $"chunked-{i}"), .. Enumerable.Range(0, 400).Select(i => $"gzip-{i}")], skus);

        // Exactly the batch limit (500 KB) of JSON passes the size check; one byte more is refused, with or without a length.
        var other = NewVisitor();
        var padded = JsonSerializer.SerializeToUtf8Bytes(new { batch = ViewsOf(other, 1, "limit") });
        byte[] Sized(int size) => [.. padded, .. Enumerable.Repeat((byte)' ', size - padded.Length)];
        foreach (var (size, expected) in new[] { (500 * 1024, HttpStatusCode.OK), (500 * 1024 + 1, HttpStatusCode.RequestEntityTooLarge) })
        {
            var plain = new ByteArrayContent(Sized(size));
            plain.Headers.ContentType = new("application/json");
            Assert.Equal(expected, (await _ingest.PostAsync("/v1/batch", plain)).StatusCode);
            var streamed = new StreamContent(new UnknownLength(Sized(size)));
            streamed.Headers.ContentType = new("application/json");
            Assert.Equal(expected, (await _ingest.PostAsync("/v1/batch", streamed)).StatusCode);
        }
        Assert.Equal(["limit-0"], await StoredSkus(other)); // the first accepted body stored it; the second was a retry of it
    }

    /// <summary>Gives half its bytes, then fails: a client that dies in the middle of sending its body.</summary>
    private sealed class DiesMidway(byte[] bytes) : Stream
    {
        private int _at;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _at; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_at >= bytes.Length / 2) throw new IOException("the client died");
            var n = Math.Min(count, bytes.Length / 2 - _at);
            Array.Copy(bytes, _at, buffer, offset, n);
            _at += n;
            return n;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public async Task Hostile_bodies_of_unknown_length_get_a_4xx_and_a_client_dying_mid_body_stores_nothing()
    {
        var visitor = NewVisitor();
        string[] hostile =
        [
            "{\"type\":\"track\",\"event\":\"Bad\\u0000Name\",\"messageId\":\"m-nul\"}",
            "{\"type\":\"track\",\"event\":\"Cart Viewed\",\"messageId\":\"m-sur\",\"properties\":{\"\\ud800\":1}}",
            "{\"type\":\"track\",\"event\":\"Cart Viewed\",\"messageId\":\"m-9999\",\"timestamp\":\"9999-12-31T23:59:59Z\"}",
            "{\"type\":\"track\",\"event\":\"Order Completed\",\"messageId\":\"m-1e28\",\"properties\":{\"order_id\":\"o-1\",\"total\":1e28}}",
            $"{{\"type\":\"track\",\"event\":\"Cart Viewed\",\"messageId\":\"{new string('m', 10 * 1024)}\"}}",
            "{\"type\":\"track\",\"event\":",
            "\u0000\u0000",
        ];
        foreach (var body in hostile)
        {
            var content = new StreamContent(new UnknownLength(System.Text.Encoding.UTF8.GetBytes(body)));
            content.Headers.ContentType = new("application/json");
            var response = await _ingest.PostAsync($"/v1/visitors/{visitor}/events", content);
            Assert.True((int)response.StatusCode is 200 or 400 or 413 or 422, $"{(int)response.StatusCode} for {body[..Math.Min(80, body.Length)]}: {await response.Content.ReadAsStringAsync()}");
        }
        Assert.Equal(HttpStatusCode.RequestUriTooLong, (await _ingest.PostAsync($"/v1/visitors/{new string('v', 10 * 1024)}/events",
            new StreamContent(new UnknownLength("{}"u8.ToArray())) { Headers = { ContentType = new("application/json") } })).StatusCode);

        // A client that dies halfway through its body: nothing of it is stored, and the next request is served as usual.
        var dying = NewVisitor();
        var json = JsonSerializer.SerializeToUtf8Bytes(new { batch = ViewsOf(dying, 50, "dying") });
        var halfway = new StreamContent(new DiesMidway(json));
        halfway.Headers.ContentType = new("application/json");
        await Assert.ThrowsAnyAsync<Exception>(() => _ingest.PostAsync("/v1/batch", halfway));
        Assert.Equal(0, (await Profile(dying)).GetProperty("version").GetInt64());
        Assert.Equal(HttpStatusCode.OK, (await _ingest.PostAsJsonAsync($"/v1/visitors/{dying}/events", ViewsOf(dying, 1, "after"))).StatusCode);
        Assert.Equal(["after-0"], await StoredSkus(dying));
    }

    [Fact]
    public async Task Many_bodies_at_once_each_store_their_own_content()
    {
        // Bodies of different sizes in pooled buffers at the same time: each is parsed from its own bytes only (a reused,
        // larger array still holds another request's bytes past this body's end).
        var visitors = Enumerable.Range(0, 64).Select(_ => NewVisitor()).ToList();
        var responses = await Task.WhenAll(visitors.Select((visitor, n) =>
            _ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events", ViewsOf(visitor, 1 + n % 7, visitor))));
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        for (var n = 0; n < visitors.Count; n++)
            Assert.Equal([.. Enumerable.Range(0, 1 + n % 7).Select(i => $"{visitors[n]}-{i}")], await StoredSkus(visitors[n]));
    }

    [Fact]
    public async Task An_ingest_key_reads_only_a_minimal_view_and_a_marketing_key_the_full_profile()
    {
        var visitor = NewVisitor();
        await _ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/identify", new { userId = $"u-{visitor}", traits = new { email = "ada@example.com" }, messageId = Guid.NewGuid().ToString() });
        var forIngest = await Profile(visitor, _ingest);
        foreach (var hidden in new[] { "profileId", "userId", "attributes", "orders", "cartSkus", "consents", "mergedFrom", "mergedInto" })
            Assert.False(forIngest.TryGetProperty(hidden, out _), $"{hidden} in {forIngest}");
        Assert.Equal(JsonValueKind.String, forIngest.GetProperty("stage").ValueKind);
        Assert.True(forIngest.TryGetProperty("segments", out _));
        Assert.True(forIngest.GetProperty("version").GetInt64() > 0);
        var forMarketing = await Profile(visitor, host.Client(HostFixture.MarketingKey));
        Assert.Equal("ada@example.com", forMarketing.GetProperty("attributes").GetProperty("email").GetString());
    }
}
