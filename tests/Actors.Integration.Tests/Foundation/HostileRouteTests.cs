using System.Net;
using System.Text;
using Actors.Integration.Tests.Support;

namespace Actors.Integration.Tests.Foundation;

/// <summary>
/// Every route with an id in its path or a body, tried with ids that cannot be stored or are absurdly long: a client's
/// input is a 4xx, never a 500.
/// </summary>
public class HostileRouteTests(HostFixture host) : IClassFixture<HostFixture>
{
    private static readonly string[] HostileIds = ["a%00b", "a%ED%A0%80b", "%F0", new string('x', 10_240), "a%0Ab", "..%2F..", "user:%00", new string('y', 300), "user:" + new string('z', 2_000), "anon:%F0%9F%98%80"];

    private static readonly string[] GetRoutes =
    [
        "/v1/visitors/{0}/profile", "/v1/users/{0}/events", "/v1/users/{0}/state", "/v1/users/{0}/diff?from=0&to=1", "/v1/users/{0}/journeys",
        "/v1/segments/{0}", "/v1/segments/{0}/members", "/v1/segments/{0}/count", "/v1/segments/{0}/history", "/v1/segments/{0}/backfill",
        "/v1/segments/{0}/deliveries", "/v1/journeys/{0}", "/v1/journeys/{0}/figures", "/v1/journeys/{0}/triggers/{0}",
        "/v1/visitors/{0}/decisions?placement=home",
    ];

    private static readonly string[] PostRoutes =
    [
        "/v1/visitors/{0}/events", "/v1/visitors/{0}/identify", "/v1/visitors/{0}/token", "/v1/segments/{0}/archive",
        "/v1/journeys/{0}/publish", "/v1/journeys/{0}/pause", "/v1/journeys/{0}/archive", "/v1/journeys/{0}/trigger",
        "/v1/visitors/{0}/decisions/{0}/dismiss",
    ];

    [Fact]
    public async Task Hostile_ids_in_routes_never_give_a_server_error()
    {
        var admin = host.Client(HostFixture.AdminKey);
        var failures = new List<string>();
        foreach (var id in HostileIds)
        {
            foreach (var route in GetRoutes)
            {
                var response = await admin.GetAsync(string.Format(route, id));
                if ((int)response.StatusCode >= 500) failures.Add($"GET {route} [{id[..Math.Min(12, id.Length)]}]: {(int)response.StatusCode}");
            }
            foreach (var route in PostRoutes)
            {
                var response = await admin.PostAsync(string.Format(route, id), new StringContent("""{"segment":"s","event":"x"}""", Encoding.UTF8, "application/json"));
                if ((int)response.StatusCode >= 500) failures.Add($"POST {route} [{id[..Math.Min(12, id.Length)]}]: {(int)response.StatusCode}");
            }
            var put = await admin.PutAsync(string.Format("/v1/journeys/{0}", id), new StringContent("{}", Encoding.UTF8, "application/json"));
            if ((int)put.StatusCode >= 500) failures.Add($"PUT /v1/journeys [{id[..Math.Min(12, id.Length)]}]: {(int)put.StatusCode}");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Theory]
    [InlineData("/v1/profiles/merge", """{"from":"user:LONG","into":"user:b","reason":"r"}""")]
    [InlineData("/v1/profiles/unmerge", """{"profile":"user:LONG","reason":"r"}""")]
    [InlineData("/v1/broadcasts", """{"broadcastId":"LONG","segment":"s","channel":"email","template":"t"}""")]
    [InlineData("/v1/broadcasts", """{"segment":"LONG","channel":"email","template":"t"}""")]
    [InlineData("/v1/broadcasts", """{"segment":"s","channel":"email","template":"a\u0000b"}""")]
    [InlineData("/v1/broadcasts", """{"segment":"s","channel":"email","template":"\ud800"}""")]
    [InlineData("/v1/journeys", """{"id":"LONG","journey":{"name":"n","trigger":{"manual":true},"start":"a","steps":[{"id":"a","exit":true}]}}""")]
    [InlineData("/v1/journeys/validate", """{"journey":{"name":"\u0000","trigger":{"manual":true},"start":"a","steps":[{"id":"a","wait":{"duration":"P99999Y"}}]}}""")]
    [InlineData("/v1/identify", """{"userId":"LONG","anonymousId":"d"}""")]
    [InlineData("/v1/alias", """{"previousId":"LONG","userId":"b"}""")]
    public async Task Hostile_bodies_are_client_errors(string route, string body)
    {
        var admin = host.Client(HostFixture.AdminKey);
        var response = await admin.PostAsync(route, new StringContent(body.Replace("LONG", new string('x', 10_240)), Encoding.UTF8, "application/json"));
        Assert.True((int)response.StatusCode is >= 400 and < 500, $"{route}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }
}
