using System.Net.Http.Headers;
using System.Text;

namespace Actors.Benchmarks;

/// <summary>
/// 2. Decisions: GET /v1/visitors/{id}/profile for warm users (grains active) over HTTP, against the constant endpoint
/// of the same host (GET /health/live: a fixed answer with no dependency), both at their maximum rate; then the
/// profile read's latency in an open loop at half of its maximum rate, with the constant endpoint at the same rate.
/// </summary>
public static class DecisionsScenario
{
    public static async Task<List<Scenario>> RunAsync(BenchHost host, BenchOptions o, CancellationToken ct)
    {
        var c = o.HttpConcurrency;
        var users = o.WarmUsers;
        using var client = host.Client(c * 2);

        // Warm users: a short history each through the real API, then one read, so identity and visitor grains are active.
        var json = new MediaTypeHeaderValue("application/json");
        await Load.ForEachAsync("decisions: users with history", users, c, async i =>
        {
            var random = new Random(i);
            var batch = "[" + string.Join(",", Enumerable.Range(0, 8).Select(_ => Encoding.UTF8.GetString(Payloads.SegmentMessage(random)))) + "]";
            using var content = new StringContent(batch);
            content.Headers.ContentType = json;
            using var post = await client.PostAsync($"/v1/visitors/d-{i}/events", content, ct);
            post.EnsureSuccessStatusCode();
            using var get = await client.GetAsync($"/v1/visitors/d-{i}/profile", ct);
            get.EnsureSuccessStatusCode();
        }, ct);

        Task<bool> Constant() => Get(client, "/health/live", ct);
        Task<bool> Profile() => Get(client, $"/v1/visitors/d-{Random.Shared.Next(users)}/profile", ct);

        var constant = await Load.ClosedAsync("constant endpoint (/health/live)", c, o.Warmup, o.Window, (_, _) => Constant(), ct);
        var profile = await Load.ClosedAsync("profile reads (warm)", c, o.Warmup, o.Window, (_, _) => Profile(), ct);

        var half = profile.PerSecond / 2;
        var workers = c * 2;
        var profileAtHalf = await Load.OpenAsync("profile reads at half max", half, workers, o.Window, _ => Profile(), ct);
        var constantAtHalf = await Load.OpenAsync("constant endpoint at the same rate", half, workers, o.Window, _ => Constant(), ct);

        var ratio = profile.PerSecond / constant.PerSecond;
        var p99 = profileAtHalf.Ms(99);
        return
        [
            new("decisions", profile.PerSecond, "reads/s", constant.PerSecond, ratio, "≥ 0.5× constant endpoint", ratio >= 0.5,
                $"HTTP, {c} in flight, {users:N0} warm users; reference: GET /health/live of the same host; errors {profile.Errors}/{constant.Errors}"),
            new("decisions-p99-ms", p99, "ms", constantAtHalf.Ms(99), p99 / constantAtHalf.Ms(99), "≤ 2 ms at half of max rate", p99 <= 2.0,
                $"open loop at {half:N0}/s (half of max): p50 {profileAtHalf.Ms(50):N2}, p99 {p99:N2}, p99.9 {profileAtHalf.Ms(99.9):N2} ms; " +
                $"reference: constant endpoint p99 at the same rate (p50 {constantAtHalf.Ms(50):N2}, p99.9 {constantAtHalf.Ms(99.9):N2} ms); errors {profileAtHalf.Errors}"),
        ];
    }

    private static async Task<bool> Get(HttpClient client, string path, CancellationToken ct)
    {
        using var response = await client.GetAsync(path, ct);
        return response.IsSuccessStatusCode;
    }
}
