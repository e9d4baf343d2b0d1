using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Actors.Integration.Tests.Support;
using Actors.Silo.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Actors.Integration.Tests.Foundation;

/// <summary>
/// The host's own PostgreSQL is killed (SIGKILL of the postmaster, as the OOM killer does): the host brings it back by
/// itself, requests meanwhile answer 503 with Retry-After within a bounded time, and nothing acknowledged is lost.
/// </summary>
public class PostgresSupervisionTests(ITestOutputHelper output)
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

    /// <summary>Requests can succeed a moment before the supervisor writes its "back" line.</summary>
    private static async Task<CapturingLoggerProvider.Entry> BackLineAsync(CapturingLoggerProvider logs)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (logs.Of<EmbeddedPostgresSupervisor>(2).Count == 0 && DateTime.UtcNow < deadline) await Task.Delay(50);
        return Assert.Single(logs.Of<EmbeddedPostgresSupervisor>(2));
    }

    private static int PostmasterPid(string folder) =>
        int.Parse(File.ReadLines(Path.Combine(folder, "postgres", "postmaster.pid")).First());

    private static object Event(string messageId) =>
        new { @event = "Product Viewed", messageId, properties = new { sku = messageId, price = 10 } };

    private static object Batch(string anonymousId, string messageId) =>
        new { batch = new[] { new { type = "track", anonymousId, @event = "Product Viewed", messageId, properties = new { sku = messageId } } } };

    private static async Task<List<string?>> StoredIdsAsync(HttpClient client, string visitor)
    {
        var ids = new List<string?>();
        for (long? from = null; ; )
        {
            var page = await client.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/events?limit=1000{(from is null ? "" : $"&from={from}")}");
            ids.AddRange(page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("messageId").GetString()));
            if (!page.TryGetProperty("next", out var next) || next.ValueKind != JsonValueKind.Number) return ids;
            from = next.GetInt64();
        }
    }

    /// <summary>One client sending events to its own visitor, as fast as answers come, until told to stop.</summary>
    private sealed class Sender(HttpClient client, string visitor, bool batch)
    {
        public List<string> Acknowledged { get; } = [];
        public List<string> Refused { get; } = [];
        public List<string> Wrong { get; } = [];
        public TimeSpan Slowest { get; private set; }
        private long _firstRefusal, _lastAcknowledgement; // ticks, read by the test while the sender runs

        /// <summary>Refused once, and acknowledged again since.</summary>
        public bool CameBack => Volatile.Read(ref _firstRefusal) is > 0 and var refused && Volatile.Read(ref _lastAcknowledgement) > refused;

        public Task<HttpResponseMessage> SendAsync(string messageId) => batch
            ? client.PostAsJsonAsync("/v1/batch", Batch(visitor, messageId))
            : client.PostAsJsonAsync($"/v1/visitors/{visitor}/events", Event(messageId));

        public async Task RunAsync(CancellationToken stop)
        {
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                var messageId = $"{visitor}-{n}";
                var sent = Stopwatch.StartNew();
                using var response = await SendAsync(messageId);
                if (sent.Elapsed > Slowest) Slowest = sent.Elapsed;
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    Acknowledged.Add(messageId);
                    Volatile.Write(ref _lastAcknowledgement, DateTime.UtcNow.Ticks);
                }
                else if (response.StatusCode == HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter?.Delta > TimeSpan.Zero)
                {
                    Refused.Add(messageId);
                    Interlocked.CompareExchange(ref _firstRefusal, DateTime.UtcNow.Ticks, 0);
                    await Task.Delay(100, CancellationToken.None);
                }
                else
                {
                    Wrong.Add($"{messageId}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(CancellationToken.None)}");
                }
            }
        }
    }

    [Fact]
    public async Task A_killed_embedded_server_is_restarted_by_the_host_and_requests_meanwhile_get_503_within_a_bound()
    {
        var folder = TestPostgres.NewDataFolder();
        try
        {
            var (host, client, logs) = await StartAsync(folder);
            Sender[] senders = [.. Enumerable.Range(0, 4).Select(k => new Sender(client, $"supervised-{k}", batch: k % 2 == 1))];
            using var stop = new CancellationTokenSource();
            var load = senders.Select(s => Task.Run(() => s.RunAsync(stop.Token))).ToArray();
            await Task.Delay(TimeSpan.FromSeconds(1)); // under load

            var pid = PostmasterPid(folder);
            var killedAt = DateTime.UtcNow;
            using (var postmaster = Process.GetProcessById(pid)) postmaster.Kill(); // SIGKILL: no shutdown, the WAL must be replayed

            // Nobody restarts anything here: the host must. Until it is back, answers are 503 with Retry-After (or 200 for
            // what slipped in before the server's processes died), never a 500, each within the bound.
            while (!senders.All(s => s.CameBack))
            {
                if (DateTime.UtcNow - killedAt > TimeSpan.FromSeconds(30) || load.Any(t => t.IsCompleted)) break;
                await Task.Delay(100);
            }
            var backAfter = DateTime.UtcNow - killedAt;
            await Task.Delay(TimeSpan.FromSeconds(1)); // and on under load once it is back
            await stop.CancelAsync();
            await Task.WhenAll(load);

            Assert.Empty(senders.SelectMany(s => s.Wrong));
            Assert.All(senders, s => Assert.True(s.Slowest < AnswerBound, $"an answer took {s.Slowest.TotalSeconds:0.0} s"));
            Assert.All(senders, s => Assert.NotEmpty(s.Refused));
            Assert.True(backAfter < TimeSpan.FromSeconds(30), $"ingest was not answering 200 again 30 s after the kill");
            output.WriteLine($"back {backAfter.TotalSeconds:0.0} s after the kill; {senders.Sum(s => s.Acknowledged.Count)} acknowledged, " +
                $"{senders.Sum(s => s.Refused.Count)} refused with 503; slowest answer {senders.Max(s => s.Slowest).TotalMilliseconds:0} ms");

            // The clients retry what was refused, as they were told to; each is stored now.
            foreach (var sender in senders)
            {
                foreach (var messageId in sender.Refused)
                    Assert.Equal(HttpStatusCode.OK, (await sender.SendAsync(messageId)).StatusCode);
                sender.Acknowledged.AddRange(sender.Refused);
            }
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);

            // Every acknowledged event is in its stream exactly once (crash recovery kept what was committed).
            for (var k = 0; k < senders.Length; k++)
            {
                var stored = await StoredIdsAsync(client, $"supervised-{k}");
                Assert.Equal(senders[k].Acknowledged.Order(), stored.Order()!);
            }

            // One line when the server was found dead, one when it was back; one restart counted.
            Assert.Single(logs.Of<EmbeddedPostgresSupervisor>(1));
            var backLine = await BackLineAsync(logs);
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
    public async Task Failed_restarts_are_retried_with_growing_delays_until_the_server_starts()
    {
        var folder = TestPostgres.NewDataFolder();
        try
        {
            var (host, client, logs) = await StartAsync(folder);
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/v1/visitors/backoff-visitor/events", Event("backoff-1"))).StatusCode);
            var port = host.Postgres!.Port;

            using (var postmaster = Process.GetProcessById(PostmasterPid(folder))) postmaster.Kill();
            // Someone takes the server's port before the supervisor notices (it looks once a second): starts fail.
            TcpListener? squatter = null;
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (squatter is null)
            {
                try
                {
                    squatter = new TcpListener(IPAddress.Loopback, port);
                    squatter.Start();
                }
                catch (SocketException) when (DateTime.UtcNow < deadline)
                {
                    squatter?.Dispose();
                    squatter = null;
                    await Task.Delay(20);
                }
            }

            // A request meanwhile: the port accepts connections that never answer, as a hung server's would.
            var sent = Stopwatch.StartNew();
            var during = client.PostAsJsonAsync("/v1/visitors/backoff-visitor/events", Event("backoff-2"));
            using (squatter)
            {
                while (logs.Of<EmbeddedPostgresSupervisor>(3).Count < 3)
                {
                    Assert.True(sent.Elapsed < TimeSpan.FromSeconds(20), "the supervisor did not retry its failed starts");
                    await Task.Delay(20);
                }
                squatter.Stop();
            }
            var response = await during;
            Assert.True(sent.Elapsed < AnswerBound, $"an answer took {sent.Elapsed.TotalSeconds:0.0} s");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.True(response.Headers.RetryAfter?.Delta > TimeSpan.Zero);
            output.WriteLine($"a request during the outage answered {(int)response.StatusCode} in {sent.Elapsed.TotalSeconds:0.0} s");

            // Attempts 1, 2, 3 failed, waiting 1, 2 and then 4 s: the delays double.
            var failures = logs.Of<EmbeddedPostgresSupervisor>(3);
            Assert.Contains("next attempt in 1 s", failures[0].Message);
            Assert.Contains("next attempt in 2 s", failures[1].Message);
            Assert.Contains("next attempt in 4 s", failures[2].Message);

            var back = Stopwatch.StartNew();
            HttpResponseMessage retry;
            do
            {
                Assert.True(back.Elapsed < TimeSpan.FromSeconds(30), "the server did not come back once its port was free");
                await Task.Delay(200);
                retry = await client.PostAsJsonAsync("/v1/visitors/backoff-visitor/events", Event("backoff-2"));
            }
            while (retry.StatusCode == HttpStatusCode.ServiceUnavailable);
            Assert.Equal(HttpStatusCode.OK, retry.StatusCode);

            Assert.Single(logs.Of<EmbeddedPostgresSupervisor>(1));
            Assert.Contains("(start attempts: 4)", (await BackLineAsync(logs)).Message);
            Assert.Equal(["backoff-1", "backoff-2"], (await StoredIdsAsync(client, "backoff-visitor")).Order());

            await host.App.StopAsync(CancellationToken.None);
            await host.DisposeAsync();
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Supervision_settings_bind_from_Actors_Postgres_and_refuse_a_delay_that_cannot_grow()
    {
        static IConfiguration Config(params (string Key, string Value)[] values) => new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => KeyValuePair.Create<string, string?>(v.Key, v.Value))).Build();

        var defaults = PostgresSupervisorSettings.From(Config(("Actors:Postgres:Port", "5433")));
        Assert.Equal(new PostgresSupervisorSettings(), defaults);
        var bound = PostgresSupervisorSettings.From(Config(
            ("Actors:Postgres:Supervise", "false"), ("Actors:Postgres:CheckEvery", "00:00:02"), ("Actors:Postgres:MaxRestartDelay", "00:01:00")));
        Assert.False(bound.Supervise);
        Assert.Equal(TimeSpan.FromSeconds(2), bound.CheckEvery);
        Assert.Equal(TimeSpan.FromMinutes(1), bound.MaxRestartDelay);
        Assert.Throws<InvalidOperationException>(() => PostgresSupervisorSettings.From(Config(("Actors:Postgres:CheckEvery", "00:00:00"))));
        Assert.Throws<InvalidOperationException>(() => PostgresSupervisorSettings.From(Config(
            ("Actors:Postgres:FirstRestartDelay", "00:00:10"), ("Actors:Postgres:MaxRestartDelay", "00:00:05"))));
    }

    [Fact]
    public async Task The_hosts_own_server_runs_with_its_write_settings_and_once_stopped_on_purpose_is_not_restarted()
    {
        var folder = TestPostgres.NewDataFolder();
        try
        {
            var (host, client, logs) = await StartAsync(folder);
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/v1/visitors/stop-visitor/events", Event("stop-1"))).StatusCode);
            var postgres = host.Postgres!;
            Assert.True(postgres.IsRunning);

            // Its write settings: checkpoints spaced by 8 GB of WAL or 15 min (1 GB forced one every 15-25 s under load,
            // each followed by a burst of whole-page writes), page images compressed, dead outbox rows looked at every 10 s.
            await using (var connection = new Npgsql.NpgsqlConnection(postgres.ConnectionString()))
            {
                await connection.OpenAsync();
                async Task<string> Show(string name)
                {
                    await using var show = new Npgsql.NpgsqlCommand($"show {name}", connection);
                    return (string)(await show.ExecuteScalarAsync())!;
                }
                Assert.Equal("8GB", await Show("max_wal_size"));
                Assert.Equal("15min", await Show("checkpoint_timeout"));
                Assert.Equal("lz4", await Show("wal_compression"));
                Assert.Equal("10s", await Show("autovacuum_naptime"));
            }

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
