using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Actors.Api.Access;
using Actors.Integration.Tests.Support;
using Actors.Storage.Access;
using CsCheck;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Actors.Integration.Tests.Foundation;

/// <summary>
/// Issue 16, "Bad input": every route of the running host (read from its EndpointDataSource, so a new route is fuzzed
/// without anyone remembering to) gets hostile ids, query values and bodies with a key of its scope. Never a 500, and
/// every client error is problem+json naming the problem. Seeded: the same cases every run unless ACTORS_FUZZ_SEED says
/// otherwise; ACTORS_FUZZ_ITER multiplies the number of cases.
/// </summary>
public class FuzzTests(HostFixture host, ITestOutputHelper output) : IClassFixture<HostFixture>
{
    /// <summary>A valid body of each route (JSON, or raw text for imports and forms), the query parameters it reads.</summary>
    private sealed record Shape(string? Body, string[] Query, string ContentType = "application/json");

    private const string Message = """{"type":"track","anonymousId":"fz-visitor","messageId":"m-1","event":"Product Viewed","properties":{"product_id":"p1","price":10,"category":"shoes"},"context":{"page":{"url":"https://shop.example/p1"}},"timestamp":"2026-01-01T00:00:00Z"}""";
    private const string Rule = """{"all":[{"count":{"event":"product_viewed","category":"shoes","atLeast":2,"withinHours":24}},{"attribute":"tier","equals":"gold"}]}""";
    private const string Journey = """{"name":"Fuzz","trigger":{"manual":true},"start":"wait","steps":[{"id":"wait","wait":{"duration":"PT1H"},"next":"mark"},{"id":"mark","setAttribute":{"name":"promo","value":"x"}}]}""";
    private const string Template = """{"channel":"email","subject":"Hi {{ visitor.first_name }}","html":"<p>{{ visitor.email }}</p>","text":"Hi"}""";

    /// <summary>
    /// Every route the host maps, by "METHOD pattern". A route missing here fails <see cref="Every_route_has_a_fuzz_shape"/>:
    /// give it its body and query parameters, and it is fuzzed.
    /// </summary>
    private static readonly Dictionary<string, Shape> Shapes = new(StringComparer.Ordinal)
    {
        ["POST /v1/batch"] = new($$$"""{"batch":[{{{Message}}},{"type":"identify","userId":"u1","traits":{"email":"a@b.c"}}],"sentAt":"2026-01-01T00:00:01Z"}""", []),
        ["POST /v1/b"] = new($$$"""{"batch":[{{{Message}}}]}""", []),
        ["POST /beacon/v1/batch"] = new($$$"""{"batch":[{{{Message}}}]}""", ["writeKey"], "text/plain"),
        ["POST /v1/track"] = new(Message, []),
        ["POST /v1/t"] = new(Message, [], "text/plain"),
        ["POST /v1/identify"] = new("""{"userId":"u1","anonymousId":"fz-a","traits":{"email":"a@b.c","firstName":"A"}}""", []),
        ["POST /v1/i"] = new("""{"userId":"u1","traits":{"email":"a@b.c"}}""", []),
        ["POST /v1/page"] = new("""{"anonymousId":"fz-a","name":"Home","properties":{"url":"https://shop.example/"}}""", []),
        ["POST /v1/p"] = new("""{"anonymousId":"fz-a","name":"Home"}""", []),
        ["POST /v1/screen"] = new("""{"anonymousId":"fz-a","name":"Home"}""", []),
        ["POST /v1/s"] = new("""{"anonymousId":"fz-a","name":"Home"}""", []),
        ["POST /v1/alias"] = new("""{"previousId":"fz-a","userId":"u1"}""", []),
        ["POST /v1/a"] = new("""{"previousId":"fz-a","userId":"u1"}""", []),
        ["POST /v1/group"] = new("""{"anonymousId":"fz-a","groupId":"g1","traits":{"plan":"pro"}}""", []),
        ["POST /v1/g"] = new("""{"anonymousId":"fz-a","groupId":"g1"}""", []),
        ["GET /v1/projects/{writeKey}/settings"] = new(null, []),
        ["GET /sourceConfig"] = new(null, ["writeKey"]),
        ["POST /v1/visitors/{visitorId}/events"] = new($$$"""[{{{Message}}},{"event":"Order Completed","properties":{"order_id":"o1","total":20,"products":[{"product_id":"p1","price":10,"quantity":2}]}}]""", []),
        ["POST /v1/visitors/{visitorId}/identify"] = new("""{"userId":"u1","traits":{"email":"a@b.c"}}""", []),
        ["GET /v1/visitors/{visitorId}/profile"] = new(null, []),
        ["POST /v1/visitors/{visitorId}/token"] = new("""{"ttlSeconds":3600}""", []),
        ["GET /v1/visitors/{visitorId}/decisions"] = new(null, ["placement", "limit"]),
        ["POST /v1/visitors/{visitorId}/decisions/{messageKey}/dismiss"] = new(null, []),
        ["GET /v1/push/vapid-public-key"] = new(null, []),
        ["POST /v1/visitors/{visitorId}/push-subscriptions"] = new("""{"endpoint":"https://push.example/abc","expirationTime":null,"keys":{"p256dh":"BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM","auth":"tBHItJI5svbpez7KI4CCXg"}}""", []),
        ["DELETE /v1/visitors/{visitorId}/push-subscriptions"] = new("""{"endpoint":"https://push.example/abc"}""", []),
        ["POST /v1/profiles/merge"] = new("""{"from":"user:a","into":"user:b","reason":"duplicate"}""", []),
        ["POST /v1/profiles/unmerge"] = new("""{"profile":"user:a","reason":"mistake"}""", []),
        ["GET /v1/users/{id}/events"] = new(null, ["from", "limit", "type", "since", "until"]),
        ["GET /v1/users/{id}/state"] = new(null, ["version", "at"]),
        ["GET /v1/users/{id}/diff"] = new(null, ["from", "to"]),
        ["GET /v1/users/{id}/journeys"] = new(null, []),
        ["POST /v1/imports/orders"] = new("""{"userId":"u1","orderId":"o1","total":20,"orderedAt":"2026-01-10T10:00:00Z","lines":[{"sku":"a","price":10,"quantity":2}]}""", [], "application/x-ndjson"),
        ["POST /v1/imports/attributes"] = new("""{"userId":"u1","tier":"gold"}""", [], "application/x-ndjson"),
        ["GET /v1/imports/{id}"] = new(null, []),
        ["GET /v1/segments"] = new(null, []),
        ["GET /v1/segments/templates"] = new(null, []),
        ["POST /v1/segments/validate"] = new($$$"""{"rule":{{{Rule}}}}""", []),
        ["POST /v1/segments/preview"] = new($$$"""{"rule":{{{Rule}}}}""", []),
        ["POST /v1/segments"] = new($$$"""{"id":"fz-seg","name":"Fuzz","rule":{{{Rule}}}}""", []),
        ["GET /v1/segments/{id}"] = new(null, []),
        ["PUT /v1/segments/{id}"] = new($$$"""{"name":"Fuzz","rule":{{{Rule}}},"revision":1}""", []),
        ["POST /v1/segments/{id}/archive"] = new(null, []),
        ["GET /v1/segments/{id}/members"] = new(null, ["after", "limit"]),
        ["GET /v1/segments/{id}/count"] = new(null, []),
        ["GET /v1/segments/{id}/history"] = new(null, []),
        ["PUT /v1/segments/{id}/webhook"] = new("""{"url":"https://hooks.example/in","secret":"0123456789abcdef0123"}""", []),
        ["DELETE /v1/segments/{id}/webhook"] = new(null, []),
        ["GET /v1/segments/{id}/deliveries"] = new(null, ["limit"]),
        ["GET /v1/segments/{id}/backfill"] = new(null, []),
        ["GET /v1/journeys"] = new(null, []),
        ["GET /v1/journeys/templates"] = new(null, []),
        ["POST /v1/journeys/validate"] = new($$$"""{"journey":{{{Journey}}}}""", []),
        ["POST /v1/journeys"] = new($$$"""{"id":"fz-journey","journey":{{{Journey}}}}""", []),
        ["GET /v1/journeys/{id}/figures"] = new(null, []),
        ["GET /v1/journeys/{id}"] = new(null, []),
        ["PUT /v1/journeys/{id}"] = new($$$"""{"journey":{{{Journey}}},"revision":1}""", []),
        ["POST /v1/journeys/{id}/publish"] = new(null, ["moveInside"]),
        ["POST /v1/journeys/{id}/pause"] = new(null, []),
        ["POST /v1/journeys/{id}/archive"] = new(null, []),
        ["POST /v1/journeys/{id}/trigger"] = new("""{"profiles":["user:a","anon-b"],"triggerId":"t-1"}""", []),
        ["GET /v1/journeys/{id}/triggers/{triggerId}"] = new(null, []),
        ["POST /v1/broadcasts"] = new("""{"broadcastId":"b-1","name":"Sale","segment":"fz-seg","channel":"email","template":"fz-t","topic":"sale","contentType":"promo","kind":"marketing"}""", []),
        ["GET /v1/templates"] = new(null, []),
        ["POST /v1/templates/validate"] = new(Template, []),
        ["POST /v1/templates/preview"] = new($$$"""{"profileId":"user:a","template":{{{Template}}}}""", []),
        ["GET /v1/templates/{id}"] = new(null, []),
        ["PUT /v1/templates/{id}"] = new(Template, []),
        ["DELETE /v1/templates/{id}"] = new(null, []),
        ["POST /v1/templates/{id}/preview"] = new("""{"profileId":"user:a"}""", []),
        ["GET /v1/templates/starters"] = new(null, []),
        ["POST /v1/templates/starters"] = new("""{"ids":["welcome"]}""", []),
        ["POST /v1/channels/receipts"] = new("""{"receipts":[{"messageKey":"k1","status":"bounced","reason":"550","permanent":true}]}""", []),
        ["GET /m/o/{token}"] = new(null, []),
        ["GET /m/c/{token}"] = new(null, ["u"]),
        ["GET /m/p/{token}"] = new(null, []),
        ["POST /m/p/{token}"] = new("nonce=abc&action=save&frequency=weekly&pause=&newsletter=on&topics=shoes", [], "application/x-www-form-urlencoded"),
        ["GET /m/u/{token}"] = new(null, []),
        ["POST /m/u/{token}"] = new("List-Unsubscribe=One-Click&choice=all&nonce=abc", [], "application/x-www-form-urlencoded"),
        ["GET /v1/keys/me"] = new(null, []),
        ["GET /v1/audit"] = new(null, ["from", "to", "profile", "after", "limit"]),
        ["GET /dashboard/{**file}"] = new(null, []),
        ["GET /v1/users/{id}/export"] = new(null, []),
        ["DELETE /v1/users/{id}"] = new(null, []),
        ["GET /v1/reports/funnel"] = new(null, ["from", "to"]),
        ["GET /v1/reports/funnel/visitors"] = new(null, ["stage", "after", "limit"]),
        ["GET /v1/reports/anonymous"] = new(null, ["from", "to"]),
        ["GET /v1/reports/anonymous/visitors"] = new(null, ["source", "medium", "campaign", "category", "after", "limit"]),
        ["GET /v1/reports/segments"] = new(null, ["from", "to"]),
        ["GET /v1/reports/segments/{id}/flows"] = new(null, ["from", "to"]),
        ["GET /v1/reports/rfm"] = new(null, []),
        ["GET /v1/reports/rfm/visitors"] = new(null, ["recency", "frequency", "asOf", "after", "limit"]),
        ["GET /v1/reports/messages"] = new(null, ["from", "to", "channel", "journey"]),
        ["GET /v1/reports/newsletter"] = new(null, ["from", "to"]),
        ["GET /v1/reports/newsletter/unsubscribers"] = new(null, ["weekday", "hour", "from", "to", "after", "limit"]),
        ["GET /v1/reports/products/popular"] = new(null, ["category", "limit"]),
        ["GET /v1/reports/status"] = new(null, []),
        ["POST /v1/reports/rebuild"] = new(null, []),
    };

    /// <summary>Routes that are not the API's: health, the OpenAPI document and its browsable page, the Orleans dashboard.</summary>
    private static bool Outside(string pattern) =>
        pattern.StartsWith("/health", StringComparison.Ordinal) || pattern.StartsWith("/openapi", StringComparison.Ordinal)
        || pattern.StartsWith("/docs", StringComparison.Ordinal) || pattern.StartsWith("/scalar", StringComparison.Ordinal)
        // The Orleans dashboard: a library's own pages and data, for admin keys only (Operations/DashboardAndLogTests).
        || pattern.StartsWith("/orleans", StringComparison.Ordinal);

    private sealed record Route(string Method, string Pattern, string[] Parameters, ApiScope? Scope, Shape Shape)
    {
        public override string ToString() => $"{Method} {Pattern}";
    }

    private List<(string Key, string Method, string Pattern, string[] Parameters, ApiScope? Scope)> Endpoints()
    {
        var sources = host.Host.App.Services.GetRequiredService<EndpointDataSource>();
        return [.. sources.Endpoints.OfType<RouteEndpoint>()
            .Where(e => !Outside("/" + (e.RoutePattern.RawText ?? "").TrimStart('/')))
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(method =>
            {
                var pattern = "/" + (e.RoutePattern.RawText ?? "").Trim('/');
                var scopes = e.Metadata.GetOrderedMetadata<ApiKeyAuth.RequiredScope>();
                return ($"{method} {pattern}", method, pattern, e.RoutePattern.Parameters.Select(p => p.Name).ToArray(),
                    scopes.Count > 0 ? scopes.Max(s => s.Scope) : (ApiScope?)null);
            }))
            .Where(e => e.method != "OPTIONS")
            .DistinctBy(e => e.Item1)];
    }

    [Fact]
    public void Every_route_has_a_fuzz_shape()
    {
        var endpoints = Endpoints();
        var missing = endpoints.Where(e => !Shapes.ContainsKey(e.Key)).Select(e => e.Key).ToList();
        Assert.True(missing.Count == 0, "Routes with no fuzz shape (add them to FuzzTests.Shapes): " + string.Join(", ", missing));
        var stale = Shapes.Keys.Except(endpoints.Select(e => e.Key)).ToList();
        Assert.True(stale.Count == 0, "Fuzz shapes of routes that no longer exist: " + string.Join(", ", stale));
        Assert.True(endpoints.Count > 60, $"Only {endpoints.Count} routes found: the endpoint data source is not the host's.");
    }

    private sealed record Case(Route Route, string Path, byte[]? Body, string? ContentType)
    {
        public override string ToString()
        {
            var body = Body is null ? "" : Encoding.UTF8.GetString(Body);
            return $"{Route.Method} {Cut(Path, 300)} [{ContentType}] {Cut(body, 600)}";
        }

        private static string Cut(string s, int n) => s.Length <= n ? s : s[..n] + $"…({s.Length} chars)";
    }

    private static Gen<string> PathOf(Route route) =>
        Gen.Select(HostileInput.Id.Array[route.Parameters.Length], Gen.Select(Gen.Bool, HostileInput.QueryValue).Array[route.Shape.Query.Length], (ids, query) =>
        {
            var path = route.Pattern;
            for (var i = 0; i < route.Parameters.Length; i++) path = path.Replace("{" + route.Parameters[i] + "}", ids[i], StringComparison.Ordinal);
            var pairs = route.Shape.Query.Zip(query).Where(q => q.Second.Item1).Select(q => $"{q.First}={q.Second.Item2}").ToList();
            return pairs.Count == 0 ? path : path + "?" + string.Join("&", pairs);
        });

    private static Gen<(byte[]? Body, string? ContentType)> BodyOf(Route route)
    {
        var shape = route.Shape;
        Gen<string?> contentType = Gen.Frequency((8, Gen.Const<string?>(shape.ContentType)),
            (1, Gen.OneOf<string?>(null, "application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1")));
        if (shape.Body is null)
            return Gen.Frequency(
                (3, Gen.Const<(byte[]?, string?)>((null, null))),
                (1, Gen.Select(HostileInput.Value, contentType, (v, t) => ((byte[]?)Encoding.UTF8.GetBytes(v), t))));
        if (shape.ContentType == "application/x-www-form-urlencoded")
            return Gen.Select(HostileInput.Id.Array[1, 6], contentType, (values, t) =>
                ((byte[]?)Encoding.UTF8.GetBytes(shape.Body + string.Concat(values.Select((v, i) => $"&{(i % 2 == 0 ? "topics" : v)}={v}"))), t));
        var mutated = Gen.Select(Gen.Int[0, 4], Gen.Int[0, 10_000], HostileInput.Value, (kind, pick, value) => HostileInput.Mutate(shape.Body, kind, pick, value));
        var json = Gen.Frequency(
            (10, mutated.Select(Encoding.UTF8.GetBytes)),
            (2, HostileInput.Malformed),
            (1, Gen.Const(Encoding.UTF8.GetBytes(shape.Body))));
        return Gen.Select(json, contentType, (b, t) => ((byte[]?)(shape.ContentType == "application/x-ndjson" ? NdJson(b, shape.Body) : b), t));
    }

    /// <summary>Imports take lines: the hostile one among valid ones.</summary>
    private static byte[] NdJson(byte[] hostile, string valid) =>
        [.. Encoding.UTF8.GetBytes(valid + "\n"), .. hostile, .. Encoding.UTF8.GetBytes("\n" + valid + "\n")];

    private HttpClient ClientFor(ApiScope? scope) => host.Client(scope switch
    {
        ApiScope.Admin => HostFixture.AdminKey,
        ApiScope.Marketing => HostFixture.MarketingKey,
        ApiScope.Ingest => HostFixture.IngestKey,
        _ => null,
    });

    /// <summary>What is wrong with an answer, or null: no 5xx, and a client error is problem+json naming the problem.</summary>
    private static async Task<string?> Verdict(Case c, HttpResponseMessage response)
    {
        var status = (int)response.StatusCode;
        var text = await response.Content.ReadAsStringAsync();
        if (status >= 500) return $"{status}: {text[..Math.Min(400, text.Length)]}";
        if (status < 400) return null;
        var type = response.Content.Headers.ContentType?.MediaType;
        // Kestrel refuses a request line over 8 KB (414) and a decoded NUL or line break in the path (400) before any
        // application code runs: a bare status, nothing reached the API.
        if (type is null && text.Length == 0 && (status == 414 || (status == 400 && KestrelRefuses(c.Path)))) return null;
        // The check routes answer a rule or journey they cannot accept with the check itself: every error with its path.
        if (type == "application/json" && status == 400 && (c.Route.Pattern.EndsWith("/validate", StringComparison.Ordinal) || c.Route.Pattern == "/v1/segments/preview"))
            return JsonDocument.Parse(text).RootElement.TryGetProperty("errors", out var found) && found.GetArrayLength() > 0 ? null : $"400 check without errors: {text}";
        // The visitors' pages (message links) answer people, in HTML, by design.
        if (c.Route.Pattern.StartsWith("/m/", StringComparison.Ordinal) && type == "text/html") return text.Length > 0 ? null : $"{status} with an empty page";
        if (type != "application/problem+json") return $"{status} as {type ?? "no content type"}: {text[..Math.Min(200, text.Length)]}";
        using var problem = JsonDocument.Parse(text);
        var root = problem.RootElement;
        var named = (root.TryGetProperty("detail", out var detail) && detail.ValueKind == JsonValueKind.String && detail.GetString()!.Length > 0)
            || (root.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object && errors.EnumerateObject().Any());
        // 404/405 of the router say it in their title; a 400/413/415/422 must say what was wrong.
        if (!named && status is not (404 or 405)) return $"{status} problem names nothing: {text[..Math.Min(300, text.Length)]}";
        return null;
    }

    private static bool KestrelRefuses(string path) =>
        path.Contains("%00", StringComparison.Ordinal) || path.Contains("%0A", StringComparison.OrdinalIgnoreCase) || path.Contains("%0D", StringComparison.OrdinalIgnoreCase);

    [Fact]
    public async Task Every_route_answers_hostile_input_with_a_client_error_never_a_server_error()
    {
        var routes = Endpoints().Where(e => Shapes.ContainsKey(e.Key))
            .Select(e => new Route(e.Method, e.Pattern, e.Parameters, e.Scope, Shapes[e.Key])).ToList();
        var failures = new List<string>();
        var started = DateTime.UtcNow;
        var requests = 0;
        foreach (var route in routes)
        {
            var client = ClientFor(route.Scope);
            var perRoute = HostileInput.Iterations(route.Shape.Body is null && route.Parameters.Length == 0 && route.Shape.Query.Length == 0 ? 6 : 40);
            var gen = Gen.Select(PathOf(route), BodyOf(route), (path, body) => new Case(route, path, body.Body, body.ContentType));
            var seed = HostileInput.Reproduce;
            var seen = new HashSet<string>();
            var routeStarted = DateTime.UtcNow;
            foreach (var c in HostileInput.Cases(gen, route.ToString(), perRoute))
            {
                var verdict = await SendAsync(client, c);
                Interlocked.Increment(ref requests);
                if (verdict is not null && seen.Add(verdict.Length > 60 ? verdict[..60] : verdict))
                    lock (failures) failures.Add($"{route} ({seed}): {verdict}\n    request: {c}");
            }
            output.WriteLine($"{route}: {(DateTime.UtcNow - routeStarted).TotalSeconds:F1} s");
        }
        output.WriteLine($"{requests} requests over {routes.Count} routes in {(DateTime.UtcNow - started).TotalSeconds:F1} s");
        Assert.True(failures.Count == 0, $"{failures.Count} failures:\n" + string.Join("\n", failures.Take(200)));
    }

    // ---- never a partial write ----

    /// <summary>A track message without its visitor: the fuzzer mutates everything but the id, which the test sets.</summary>
    private const string Viewed = """{"type":"track","messageId":"m","event":"Product Viewed","properties":{"product_id":"p1","price":10,"category":"shoes"},"context":{"page":{"title":"P"}},"timestamp":"2026-01-01T00:00:00Z"}""";

    private static readonly Gen<string> MaybeHostileMessage = Gen.Frequency(
        (1, Gen.Const(Viewed)),
        (1, Gen.Select(Gen.Int[0, 3], Gen.Int[0, 10_000], HostileInput.Value, (kind, pick, value) => HostileInput.Mutate(Viewed, kind, pick, value))));

    /// <summary>The message for this visitor: the id goes first, so a mutated message is still about the visitor it was made for.</summary>
    private static string For(string visitor, string message, int index) =>
        message.StartsWith('{') && message.Length > 2
            ? $$"""{"anonymousId":"{{visitor}}",{{message[1..].Replace("\"messageId\":\"m\"", $"\"messageId\":\"{visitor}-{index}\"", StringComparison.Ordinal)}}"""
            : message;

    private async Task<int> StoredEvents(HttpClient admin, string visitor)
    {
        var page = await admin.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/events?limit=1000");
        return page.GetProperty("items").GetArrayLength();
    }

    [Fact]
    public async Task A_batch_with_hostile_messages_stores_exactly_the_accepted_ones()
    {
        var ingest = host.Client();
        var admin = host.Client(HostFixture.AdminKey);
        var seed = HostileInput.Reproduce;
        int accepted = 0, refusedCount = 0;
        foreach (var messages in HostileInput.Cases(MaybeHostileMessage.Array[2, 5], "partial-batch", HostileInput.Iterations(12)))
        {
            var visitors = messages.Select(_ => $"pw-{Guid.NewGuid():N}").ToArray();
            var body = "{\"batch\":[" + string.Join(",", messages.Select((m, i) => For(visitors[i], m, i))) + "]}";
            var response = await ingest.PostAsync("/v1/batch", new StringContent(body, Encoding.UTF8, "application/json"));
            var status = (int)response.StatusCode;
            Assert.True(status is 200 or 400 or 413, $"{seed}: {status} for {body}");
            var refused = new HashSet<int>();
            if (status == 200)
            {
                var outcome = await response.Content.ReadFromJsonAsync<JsonElement>();
                foreach (var r in outcome.GetProperty("refused").EnumerateArray()) refused.Add(r.GetProperty("index").GetInt32());
                Assert.Equal(messages.Length, outcome.GetProperty("accepted").GetInt32() + outcome.GetProperty("duplicates").GetInt32() + refused.Count);
            }
            else refused.UnionWith(Enumerable.Range(0, messages.Length)); // refused whole: nothing may be stored
            Interlocked.Add(ref refusedCount, refused.Count);
            Interlocked.Add(ref accepted, messages.Length - refused.Count);
            for (var i = 0; i < messages.Length; i++)
            {
                var stored = await StoredEvents(admin, visitors[i]);
                Assert.True(refused.Contains(i) ? stored == 0 : stored > 0,
                    $"{seed}: message {i} {(refused.Contains(i) ? "refused" : "accepted")} but {stored} events stored: {messages[i][..Math.Min(300, messages[i].Length)]}");
            }
        }
        output.WriteLine($"{accepted} messages accepted, {refusedCount} refused");
        Assert.True(accepted > 0 && refusedCount > 0, "the cases must hold both accepted and refused messages");
    }

    [Fact]
    public async Task Hostile_events_for_one_visitor_store_one_event_per_accepted_message_and_none_for_the_refused()
    {
        var ingest = host.Client();
        var admin = host.Client(HostFixture.AdminKey);
        var seed = HostileInput.Reproduce;
        foreach (var messages in HostileInput.Cases(MaybeHostileMessage.Array[1, 5], "partial-visitor", HostileInput.Iterations(12)))
        {
            var visitor = $"pv-{Guid.NewGuid():N}";
            var body = "[" + string.Join(",", messages.Select((m, i) => m.Replace("\"messageId\":\"m\"", $"\"messageId\":\"{visitor}-{i}\"", StringComparison.Ordinal))) + "]";
            var response = await ingest.PostAsync($"/v1/visitors/{visitor}/events", new StringContent(body, Encoding.UTF8, "application/json"));
            var status = (int)response.StatusCode;
            Assert.True(status is 200 or 400 or 413, $"{seed}: {status} for {body}");
            var accepted = status == 200 ? (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accepted").GetInt32() : 0;
            Assert.Equal(accepted, await StoredEvents(admin, visitor));
        }
    }

    [Theory]
    [InlineData("segments", $$$"""{"name":"Fuzz","rule":{{{Rule}}}}""")]
    [InlineData("journeys", $$$"""{"journey":{{{Journey}}}}""")]
    public async Task A_refused_change_of_a_definition_leaves_it_as_it_was(string kind, string change)
    {
        var marketing = host.Client(HostFixture.MarketingKey);
        var id = $"fz-{kind[0]}-{Guid.NewGuid():N}"[..20];
        var create = kind == "segments"
            ? $$$"""{"id":"{{{id}}}","name":"Fuzz","rule":{{{Rule}}}}"""
            : $$$"""{"id":"{{{id}}}","journey":{{{Journey}}}}""";
        var created = await marketing.PostAsync($"/v1/{kind}", new StringContent(create, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        // What a change would alter: the stored definition and its version (not counts or backfill progress).
        async Task<string> Definition()
        {
            var view = await marketing.GetFromJsonAsync<JsonElement>($"/v1/{kind}/{id}");
            return string.Join("|", new[] { "name", "version", "revision", "rule", "journey" }
                .Select(p => view.TryGetProperty(p, out var v) ? v.GetRawText() : "-"));
        }
        var before = await Definition();
        var seed = HostileInput.Reproduce;
        var refusedCount = 0;
        var changes = Gen.Select(Gen.Int[0, 3], Gen.Int[0, 10_000], HostileInput.Value, (k, pick, value) => HostileInput.Mutate(change, k, pick, value));
        foreach (var body in HostileInput.Cases(changes, "definition-" + kind, HostileInput.Iterations(20)).Where(body => body != change))
        {
            {
                var response = await marketing.PutAsync($"/v1/{kind}/{id}", new StringContent(body, Encoding.UTF8, "application/json"));
                var status = (int)response.StatusCode;
                Assert.True(status < 500, $"{seed}: {status} for {body}");
                if (status < 400)
                {
                    before = await Definition(); // a change that was valid after all
                    continue;
                }
                Interlocked.Increment(ref refusedCount);
                Assert.Equal(before, await Definition());
            }
        }
        Assert.True(refusedCount > 0, "no change was refused: the cases test nothing");
    }

    private static async Task<string?> SendAsync(HttpClient client, Case c)
    {
        using var request = new HttpRequestMessage(new HttpMethod(c.Route.Method), c.Path);
        if (c.Body is not null)
        {
            request.Content = new ByteArrayContent(c.Body);
            if (c.ContentType is not null) request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(c.ContentType);
        }
        try
        {
            using var response = await client.SendAsync(request);
            return await Verdict(c, response);
        }
        catch (HttpRequestException) when (c.Path.Length > 8_000 || KestrelRefuses(c.Path))
        {
            // Kestrel answered (414, 400) and closed before the client finished sending the body.
            return null;
        }
        catch (HttpRequestException e)
        {
            return $"no answer: {e.Message}";
        }
    }
}
