using System.Net.Http.Headers;
using System.Text;

namespace Actors.Benchmarks;

/// <summary>
/// 2. Decisions: GET /v1/visitors/{id}/profile for warm users (grains active) over HTTP, against the constant endpoint
/// of the same host (GET /health/live: a fixed answer with no dependency), both at their maximum rate; then the
/// profile read's latency in an open loop at half of its maximum rate, with the constant endpoint at the same rate.
/// On-site decisions (GET /v1/visitors/{id}/decisions) of the same warm users are measured the same way in the same run,
/// and compared with the profile read: both are answered by the active grain from memory.
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

        // Measured once the popularity snapshot holds the warm users' products, so each answer carries recommendations.
        var withRecommendations = false;
        for (var wait = 0; wait < 40 && !withRecommendations; wait++)
        {
            withRecommendations = (await client.GetStringAsync("/v1/visitors/d-0/decisions?placement=home", ct)).Contains("\"recommendations\"", StringComparison.Ordinal);
            if (!withRecommendations) await Task.Delay(250, ct);
        }
        Task<bool> OnSite() => Get(client, $"/v1/visitors/d-{Random.Shared.Next(users)}/decisions?placement=home", ct);
        var onSite = await Load.ClosedAsync("on-site decisions (warm)", c, o.Warmup, o.Window, (_, _) => OnSite(), ct);
        var onSiteAtHalf = await Load.OpenAsync("on-site decisions at the profile read's half max", half, workers, o.Window, _ => OnSite(), ct);

        var ratio = profile.PerSecond / constant.PerSecond;
        var p99 = profileAtHalf.Ms(99);
        return
        [
            new("decisions", profile.PerSecond, "reads/s", constant.PerSecond, ratio, "≥ 0.5× constant endpoint", ratio >= 0.5,
                $"HTTP, {c} in flight, {users:N0} warm users; reference: GET /health/live of the same host; errors {profile.Errors}/{constant.Errors}"),
            new("decisions-p99-ms", p99, "ms", constantAtHalf.Ms(99), p99 / constantAtHalf.Ms(99), "≤ 2 ms at half of max rate", p99 <= 2.0,
                $"open loop at {half:N0}/s (half of max): p50 {profileAtHalf.Ms(50):N2}, p99 {p99:N2}, p99.9 {profileAtHalf.Ms(99.9):N2} ms; " +
                $"reference: constant endpoint p99 at the same rate (p50 {constantAtHalf.Ms(50):N2}, p99.9 {constantAtHalf.Ms(99.9):N2} ms); errors {profileAtHalf.Errors}"),
            new("onsite-decisions", onSite.PerSecond, "reads/s", profile.PerSecond, onSite.PerSecond / profile.PerSecond, "≥ 0.8× profile read", onSite.PerSecond >= 0.8 * profile.PerSecond,
                $"HTTP, {c} in flight, same warm users, answers {(withRecommendations ? "with" : "WITHOUT")} recommendations; reference: GET /v1/visitors/{{id}}/profile of the same run; errors {onSite.Errors}"),
            new("onsite-decisions-p99-ms", onSiteAtHalf.Ms(99), "ms", p99, onSiteAtHalf.Ms(99) / p99, "≤ 1.5× profile read p99", onSiteAtHalf.Ms(99) <= 1.5 * p99,
                $"open loop at {half:N0}/s (the profile read's half max): p50 {onSiteAtHalf.Ms(50):N2}, p99 {onSiteAtHalf.Ms(99):N2}, p99.9 {onSiteAtHalf.Ms(99.9):N2} ms; " +
                $"reference: profile read p99 at the same rate (p50 {profileAtHalf.Ms(50):N2} ms); errors {onSiteAtHalf.Errors}"),
        ];
    }

    private static async Task<bool> Get(HttpClient client, string path, CancellationToken ct)
    {
        using var response = await client.GetAsync(path, ct);
        return response.IsSuccessStatusCode;
    }
}
