using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Integration.Tests.Support;
using Actors.Silo.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Actors.Integration.Tests.Foundation;

/// <summary>
/// The host's own PostgreSQL is killed (SIGKILL of the postmaster, as the OOM killer does): the host brings it back by
/// itself, requests meanwhile answer 503 with Retry-After within a bounded time, and nothing acknowledged is lost.
/// </summary>
public class PostgresSupervisionTests
{
    private const string Key = "supervise-admin-key-0123456789";

    /// <summary>No request may hang longer than this while the database is away.</summary>
    private static readonly TimeSpan AnswerBound = TimeSpan.FromSeconds(10);

    private static async Task<(ActorsHost Host, HttpClient Client, CapturingLoggerProvider Logs)> StartAsync(string folder)
    {
        var logs = new CapturingLoggerProvider();
        var (host, client) = await OwnServerHost.StartAsync(folder, Key, builder =>
        {
            builder.Logging.AddProvider(logs);
            // The host logs at Warning in tests; the supervisor's "back" line is Information.
            builder.Logging.AddFilter<CapturingLoggerProvider>(typeof(EmbeddedPostgresSupervisor).FullName, LogLevel.Information);
        });
        client.Timeout = AnswerBound + TimeSpan.FromSeconds(20); // so a hang shows as a failed bound, not as a timeout here
        return (host, client, logs);
    }

    private static int PostmasterPid(string folder) =>
        int.Parse(File.ReadLines(Path.Combine(folder, "postgres", "postmaster.pid")).First());

    private static object Event(string messageId) =>
        new { @event = "Product Viewed", messageId, properties = new { sku = messageId, price = 10 } };

    private static object Batch(string anonymousId, string messageId) =>
        new { batch = new[] { new { type = "track", anonymousId, @event = "Product Viewed", messageId, properties = new { sku = messageId } } } };

    private static async Task<List<string?>> StoredIdsAsync(HttpClient client, string visitor)
    {
        var events = await client.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/events?limit=1000");
        return [.. events.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("messageId").GetString())];
    }

    [Fact]
    public async Task A_killed_embedded_server_is_restarted_by_the_host_and_requests_meanwhile_get_503_within_a_bound()
    {
        var folder = TestPostgres.NewDataFolder();
        try
        {
            var (host, client, logs) = await StartAsync(folder);
            const string visitor = "supervised-visitor";
            const string batchVisitor = "supervised-batch-visitor";
            var acknowledged = new List<string>();
            var acknowledgedInBatch = new List<string>();
            for (var i = 0; i < 5; i++)
            {
                Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync($"/v1/visitors/{visitor}/events", Event($"before-{i}"))).StatusCode);
                acknowledged.Add($"before-{i}");
            }
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/v1/batch", Batch(batchVisitor, "before-batch"))).StatusCode);
            acknowledgedInBatch.Add("before-batch");

            var pid = PostmasterPid(folder);
            var killed = Stopwatch.StartNew();
            using (var postmaster = Process.GetProcessById(pid)) postmaster.Kill(); // SIGKILL: no shutdown, the WAL must be replayed

            // Nobody restarts anything here: the host must. Every answer comes within the bound, and is 503 with
            // Retry-After or, once the server is back, 200 — never a 500.
            var refused = new List<(string Route, string MessageId)>();
            var slowest = TimeSpan.Zero;
            var n = 0;
            var back = false;
            while (!back)
            {
                Assert.True(killed.Elapsed < TimeSpan.FromSeconds(30), $"the server was not back 30 s after it was killed; refused {refused.Count}");
                var messageId = $"during-{n++}";
                var batch = n % 2 == 0;
                var sent = Stopwatch.StartNew();
                var response = batch
                    ? await client.PostAsJsonAsync("/v1/batch", Batch(batchVisitor, messageId))
                    : await client.PostAsJsonAsync($"/v1/visitors/{visitor}/events", Event(messageId));
                slowest = sent.Elapsed > slowest ? sent.Elapsed : slowest;
                Assert.True(sent.Elapsed < AnswerBound, $"{messageId} took {sent.Elapsed.TotalSeconds:0.0} s to answer {(int)response.StatusCode}");
                var body = await response.Content.ReadAsStringAsync();
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    (batch ? acknowledgedInBatch : acknowledged).Add(messageId);
                    back = refused.Count > 0; // a request that slipped in before the backends died is fine; back means after a 503
                    continue;
                }
                Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{messageId}: {(int)response.StatusCode} {body}");
                Assert.True(response.Headers.RetryAfter?.Delta > TimeSpan.Zero, $"{messageId}: 503 without Retry-After");
                refused.Add((batch ? "batch" : "visitor", messageId));
                await Task.Delay(200);
            }
            Assert.NotEmpty(refused);

            // The clients retry what was refused, as they were told to; each is stored now.
            foreach (var (route, messageId) in refused)
            {
                var retry = route == "batch"
                    ? await client.PostAsJsonAsync("/v1/batch", Batch(batchVisitor, messageId))
                    : await client.PostAsJsonAsync($"/v1/visitors/{visitor}/events", Event(messageId));
                Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
                (route == "batch" ? acknowledgedInBatch : acknowledged).Add(messageId);
            }
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);

            // Every acknowledged event is in its stream exactly once (crash recovery kept what was committed).
            foreach (var (id, expected) in new[] { (visitor, acknowledged), (batchVisitor, acknowledgedInBatch) })
            {
                var stored = (await StoredIdsAsync(client, id)).Where(m => m is not null && (m.StartsWith("before-") || m.StartsWith("during-"))).ToList();
                Assert.Equal(expected.Order(), stored.Order()!);
            }

            // One line when the server was found dead, one when it was back; one restart counted.
            Assert.Single(logs.Of<EmbeddedPostgresSupervisor>(1));
            var backLine = Assert.Single(logs.Of<EmbeddedPostgresSupervisor>(2));
            Assert.Contains("back after", backLine.Message);
            Assert.Equal(1, host.App.Services.GetRequiredService<EmbeddedPostgresSupervisor>().Restarts);
            Assert.NotEqual(pid, PostmasterPid(folder));

            await host.App.StopAsync(CancellationToken.None);
            await host.DisposeAsync();
            Assert.False(File.Exists(Path.Combine(folder, "postgres", "postmaster.pid")));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_server_the_host_stops_on_purpose_is_not_restarted()
    {
        var folder = TestPostgres.NewDataFolder();
        try
        {
            var (host, client, logs) = await StartAsync(folder);
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/v1/visitors/stop-visitor/events", Event("stop-1"))).StatusCode);
            var postgres = host.Postgres!;
            Assert.True(postgres.IsRunning);

            // The database stopped through the host (as its shutdown does) while the supervisor still runs.
            await postgres.StopAsync();
            await Task.Delay(TimeSpan.FromSeconds(4)); // several of the supervisor's checks
            Assert.False(postgres.IsRunning);
            Assert.False(File.Exists(Path.Combine(folder, "postgres", "postmaster.pid")));
            Assert.Equal(0, host.App.Services.GetRequiredService<EmbeddedPostgresSupervisor>().Restarts);

            // And the host's own shutdown.
            await host.App.StopAsync(CancellationToken.None);
            await host.DisposeAsync();
            await Task.Delay(TimeSpan.FromSeconds(2));
            Assert.False(File.Exists(Path.Combine(folder, "postgres", "postmaster.pid")));
            Assert.Empty(logs.Of<EmbeddedPostgresSupervisor>(1));
            Assert.Empty(logs.Of<EmbeddedPostgresSupervisor>(2));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
