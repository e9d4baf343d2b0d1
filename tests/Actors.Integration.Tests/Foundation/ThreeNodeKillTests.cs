using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Actors.Grains.Hosting;
using Actors.Integration.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Runtime;
using Xunit.Abstractions;

namespace Actors.Integration.Tests.Foundation;

/// <summary>
/// The fault drill of issue 16: three host processes on loopback (ADO.NET membership and reminders on one PostgreSQL),
/// HTTP load on all three, one killed with SIGKILL mid-load, load kept on the two survivors. Then: every acknowledged
/// event is in its stream exactly once (and a client's retry of the unacknowledged ones stores none twice), the killed
/// node's grains answer again from the survivors, and the segment window exits, journey waits and lifecycle changes
/// of visitors whose grains lived on the killed node still happen, on time.
/// The same test with larger figures is the drill script (scripts/kill-drill.sh, ACTORS_DRILL_* variables).
/// </summary>
public class ThreeNodeKillTests(ITestOutputHelper output)
{
    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), CultureInfo.InvariantCulture, out var v) && v > 0 ? v : fallback;

    private static readonly int LoadVisitors = Setting("ACTORS_DRILL_VISITORS", 60);
    private static readonly int TimedVisitors = Setting("ACTORS_DRILL_TIMED_VISITORS", 30);
    private static readonly int WorkersPerNode = Setting("ACTORS_DRILL_WORKERS", 3);
    private static readonly TimeSpan LoadBeforeKill = TimeSpan.FromSeconds(Setting("ACTORS_DRILL_SECONDS_BEFORE", 6));
    private static readonly TimeSpan LoadAfterKill = TimeSpan.FromSeconds(Setting("ACTORS_DRILL_SECONDS_AFTER", 10));

    /// <summary>From the timed visitors' first events to their window exit, journey wait end and at-risk change.</summary>
    private static readonly TimeSpan TimerDelay = TimeSpan.FromSeconds(Setting("ACTORS_DRILL_TIMER_SECONDS", 40));

    private sealed record Ack(string Visitor, string MessageId);

    [Fact]
    public async Task Killing_one_of_three_loaded_nodes_loses_and_doubles_no_acknowledged_event_and_its_timers_still_fire()
    {
        var database = await TestPostgres.CreateDatabaseAsync(nameof(ThreeNodeKillTests));
        var cluster = $"k{Guid.NewGuid():N}"[..12];
        var siloPorts = new[] { FreePorts.Next(), FreePorts.Next(), FreePorts.Next() };
        string[] Arguments(int node) =>
        [
            $"--ConnectionStrings:Postgres={database}",
            "--Actors:Silo:Clustering=AdoNet", $"--Actors:Silo:ClusterId={cluster}", $"--Actors:Silo:ServiceId={cluster}",
            $"--Actors:Silo:SiloPort={siloPorts[node]}", // after SiloProcess's own: the last one wins
            "--Actors:Silo:MinimumReminderPeriod=00:00:01", "--Actors:Silo:ReminderRefreshPeriod=00:00:02",
            $"--Actors:Lifecycle:AtRiskAfter={TimerDelay}", "--Actors:Lifecycle:LapsedAfter=01:00:00",
            "--Actors:WakeUpPeriod=00:00:05",
            "--Actors:Segments:RefreshEvery=00:00:01",
            .. SiloProcess.KeyArguments(),
            "--Logging:LogLevel:Default=Warning",
        ];
        var nodes = await Task.WhenAll(Enumerable.Range(0, 3).Select(n => SiloProcess.StartAsync(Arguments(n))));
        var report = new StringBuilder();
        try
        {
            await using var probe = await ClusterProbe.ConnectAsync(database, cluster);
            // On a busy machine a node can join a few seconds late; grains placed before that would all avoid it.
            await probe.WaitForActiveSilosAsync(3, TimeSpan.FromMinutes(1));
            var marketing = nodes[0].Client(HostFixture.MarketingKey);
            var run = Guid.NewGuid().ToString("N")[..8];

            // A segment whose members leave when a view leaves its 1-hour window, and a journey that waits.
            var segment = $"drill-{run}";
            var created = await marketing.PostAsJsonAsync("/v1/segments", new
            {
                id = segment, name = segment,
                rule = new { count = new { @event = "product_viewed", category = $"drill-{run}", atLeast = 1, withinHours = 1 } },
            });
            Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
            var journey = $"drill-{run}";
            created = await marketing.PostAsJsonAsync("/v1/journeys", new
            {
                id = journey,
                journey = new
                {
                    name = "Drill wait",
                    trigger = new { @event = "newsletter_subscribed" },
                    start = "wait",
                    steps = new object[]
                    {
                        new { id = "wait", wait = new { duration = $"PT{(int)TimerDelay.TotalSeconds}S" }, next = "mark" },
                        new { id = "mark", setAttribute = new { name = "drill", value = run } },
                    },
                },
            });
            Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
            Assert.True((await marketing.PostAsync($"/v1/journeys/{journey}/publish", null)).IsSuccessStatusCode);
            await WaitAsync(async () => (await marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/{segment}/backfill")).GetProperty("state").GetString() != "running",
                TimeSpan.FromMinutes(1), "the segment's backfill did not finish");
            await Task.Delay(TimeSpan.FromSeconds(3)); // both definitions reach the other nodes (RefreshEvery 1 s)

            // Timed visitors: subscribed now (a lead: at risk after TimerDelay; the journey's wait ends then) and a view
            // dated so that it leaves the segment's window TimerDelay from now. Each through a different node.
            var timed = Enumerable.Range(0, TimedVisitors).Select(i => $"t-{run}-{i}").ToList();
            var setupAt = DateTimeOffset.UtcNow;
            await Parallel.ForEachAsync(timed.Select((v, i) => (v, i)), async (x, _) =>
            {
                var ingest = nodes[x.i % 3].Client(HostFixture.IngestKey);
                var now = DateTimeOffset.UtcNow;
                var r = await ingest.PostAsJsonAsync($"/v1/visitors/{x.v}/events",
                    new { @event = "Newsletter Subscribed", messageId = $"{x.v}-sub", timestamp = now, properties = new { source = "drill" } });
                Assert.True(r.IsSuccessStatusCode, await r.Content.ReadAsStringAsync());
                r = await ingest.PostAsJsonAsync($"/v1/visitors/{x.v}/events", new
                {
                    @event = "Product Viewed", messageId = $"{x.v}-view", timestamp = now.AddHours(-1) + TimerDelay,
                    properties = new { product_id = "sku-d", category = $"drill-{run}" },
                });
                Assert.True(r.IsSuccessStatusCode, await r.Content.ReadAsStringAsync());
            });
            foreach (var v in timed)
            {
                var profile = await marketing.GetFromJsonAsync<JsonElement>($"/v1/visitors/{v}/profile");
                Assert.Contains(segment, profile.GetProperty("segments").EnumerateArray().Select(s => s.GetString()));
                Assert.Equal("lead", profile.GetProperty("stage").GetString());
            }
            var timersDue = setupAt + TimerDelay;

            // Load: several clients per node, each posting views with unique message ids to many visitors.
            var loadVisitors = Enumerable.Range(0, LoadVisitors).Select(i => $"l-{run}-{i}").ToList();
            var acked = new ConcurrentBag<Ack>();
            var unacked = new ConcurrentBag<Ack>();
            var sequence = 0;
            // The node to kill: of the two that do not take the marketing calls, the one holding more timed visitors'
            // grains (placement weighs the nodes' load, so on a busy machine one of them may hold few or none).
            var onNode = new Dictionary<int, int>();
            foreach (var n in new[] { 1, 2 }) onNode[n] = (await probe.VisitorsOnAsync(siloPorts[n])).Count(timed.Contains);
            var victim = onNode[2] >= onNode[1] ? 2 : 1;
            var killed = nodes[victim];
            var killedAt = DateTimeOffset.MaxValue;
            using var stopLoad = new CancellationTokenSource();
            var latencies = new ConcurrentBag<double>();
            var survivorsRefused = new ConcurrentDictionary<int, int>(); // status → how many, from the nodes that live
            async Task Worker(SiloProcess node, int seed)
            {
                using var client = node.Client(HostFixture.IngestKey);
                client.Timeout = TimeSpan.FromSeconds(20);
                var random = new Random(seed);
                while (!stopLoad.IsCancellationRequested)
                {
                    if (node == killed && DateTimeOffset.UtcNow >= killedAt) return; // its clients move on: the load balancer drops it
                    var visitor = loadVisitors[random.Next(loadVisitors.Count)];
                    var id = $"{visitor}-m{Interlocked.Increment(ref sequence)}";
                    var started = Stopwatch.GetTimestamp();
                    try
                    {
                        var r = await client.PostAsJsonAsync($"/v1/visitors/{visitor}/events",
                            new { @event = "Product Viewed", messageId = id, properties = new { product_id = $"sku-{random.Next(50)}" } });
                        if (r.IsSuccessStatusCode) { acked.Add(new Ack(visitor, id)); latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds); }
                        else
                        {
                            unacked.Add(new Ack(visitor, id));
                            if (node != killed) survivorsRefused.AddOrUpdate((int)r.StatusCode, 1, (_, n) => n + 1);
                        }
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                    {
                        unacked.Add(new Ack(visitor, id));
                    }
                }
            }
            var workers = nodes.SelectMany((n, i) => Enumerable.Range(0, WorkersPerNode).Select(w => Task.Run(() => Worker(n, i * 100 + w)))).ToList();

            // Which timed and load visitors' grains live on the node about to die (asked of Orleans itself).
            await Task.Delay(LoadBeforeKill);
            var onKilled = await probe.VisitorsOnAsync(siloPorts[victim]);
            var timedOnKilled = timed.Where(v => onKilled.Contains(v)).ToList();
            var loadOnKilled = loadVisitors.Where(v => onKilled.Contains(v)).ToList();
            Assert.True(timedOnKilled.Count > 0, "no timed visitor's grain was placed on the node to kill");

            killedAt = DateTimeOffset.UtcNow;
            killed.Kill();
            var ackedBeforeKill = acked.Count;
            output.WriteLine($"killed node {victim + 1} after {ackedBeforeKill} acknowledged events; it held {timedOnKilled.Count} timed and {loadOnKilled.Count} load visitors' grains");
            Assert.True(DateTimeOffset.UtcNow < timersDue, "the setup took longer than the timers: raise ACTORS_DRILL_TIMER_SECONDS");

            // Reactivation: the first answer from a survivor for each grain that lived on the killed node.
            var survivor = nodes[0].Client(HostFixture.MarketingKey);
            survivor.Timeout = TimeSpan.FromSeconds(30);
            var reactivated = new ConcurrentDictionary<string, TimeSpan>();
            var reactivation = Parallel.ForEachAsync(timedOnKilled.Concat(loadOnKilled), async (v, _) =>
            {
                var deadline = DateTime.UtcNow.AddMinutes(2);
                while (DateTime.UtcNow < deadline)
                {
                    try
                    {
                        if ((await survivor.GetAsync($"/v1/visitors/{v}/profile")).IsSuccessStatusCode)
                        {
                            reactivated[v] = DateTimeOffset.UtcNow - killedAt;
                            return;
                        }
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
                    await Task.Delay(100);
                }
            });

            await Task.Delay(LoadAfterKill);
            // Calls to the dead node's grains wait until the membership declares it dead, longer on a loaded machine:
            // the load goes on until the survivors acknowledge again (a minute at most), so the figures below count.
            var longest = DateTime.UtcNow.AddSeconds(60);
            while (acked.Count == ackedBeforeKill && DateTime.UtcNow < longest) await Task.Delay(200);
            await stopLoad.CancelAsync();
            await Task.WhenAll(workers);
            await reactivation;
            var ackedAfterKill = acked.Count - ackedBeforeKill;
            Assert.True(ackedAfterKill > 0, "the survivors acknowledged nothing after the kill");
            // A call that met the dead node is 503 with Retry-After (retried as it is), never a 500.
            Assert.True(survivorsRefused.Keys.All(status => status == 503),
                "the survivors answered " + string.Join(", ", survivorsRefused.Select(kv => $"{kv.Value} × {kv.Key}")));
            output.WriteLine($"the survivors refused {survivorsRefused.GetValueOrDefault(503)} requests with 503 during the failover");
            Assert.Equal(timedOnKilled.Count + loadOnKilled.Count, reactivated.Count);

            // The client's side of at-least-once: every unacknowledged event is sent again, to a survivor.
            var otherSurvivor = nodes[3 - victim]; // 1 or 2, whichever lives
            var retry = otherSurvivor.Client(HostFixture.IngestKey);
            foreach (var u in unacked)
            {
                var r = await retry.PostAsJsonAsync($"/v1/visitors/{u.Visitor}/events",
                    new { @event = "Product Viewed", messageId = u.MessageId, properties = new { product_id = "sku-retry" } });
                Assert.True(r.IsSuccessStatusCode, await r.Content.ReadAsStringAsync());
            }

            // Every acknowledged (and retried) event stored exactly once.
            var admin = otherSurvivor.Client(HostFixture.AdminKey);
            var stored = new Dictionary<string, int>();
            foreach (var v in loadVisitors)
                foreach (var id in await StoredIdsAsync(admin, v))
                    stored[id] = stored.GetValueOrDefault(id) + 1;
            var sent = acked.Concat(unacked).Select(a => a.MessageId).ToHashSet();
            var lost = sent.Where(id => !stored.ContainsKey(id)).ToList();
            var duplicates = stored.Where(p => p.Value > 1).Select(p => p.Key).ToList();
            var strangers = stored.Keys.Where(id => !sent.Contains(id)).ToList();

            // The timers of the killed node's visitors fire on the survivors: window exit, journey wait, at-risk.
            var fired = new ConcurrentDictionary<string, DateTimeOffset>();
            await WaitAsync(async () =>
            {
                foreach (var v in timed.Where(v => !fired.ContainsKey(v)))
                {
                    var profile = await survivor.GetFromJsonAsync<JsonElement>($"/v1/visitors/{v}/profile");
                    var left = !profile.GetProperty("segments").EnumerateArray().Any(s => s.GetString() == segment);
                    var waited = profile.TryGetProperty("attributes", out var a) && a.ValueKind == JsonValueKind.Object
                        && a.TryGetProperty("drill", out var d) && d.GetString() == run;
                    var atRisk = profile.GetProperty("stage").GetString() == "at_risk";
                    if (left && waited && atRisk) fired[v] = DateTimeOffset.UtcNow;
                }
                return fired.Count == timed.Count;
            }, TimeSpan.FromMinutes(2), () => $"{timed.Count - fired.Count} timed visitors are still waiting: {string.Join(", ", timed.Where(v => !fired.ContainsKey(v)).Take(5))}");

            // When each fired, from the stream: the exit at the window's close; wait and at-risk not before they were due.
            var lateness = new List<double>();
            foreach (var v in timedOnKilled)
            {
                var events = await EventsAsync(admin, v);
                var leftAt = Assert.Single(events, e => e.GetProperty("type").GetString() == "segment_left").GetProperty("eventTime").GetDateTimeOffset();
                var stageAt = events.Last(e => e.GetProperty("type").GetString() == "stage_changed").GetProperty("eventTime").GetDateTimeOffset();
                Assert.True(leftAt >= timersDue.AddSeconds(-2), $"{v} left at {leftAt:O}, before its window closed ({timersDue:O})");
                Assert.True(stageAt >= timersDue.AddSeconds(-2), $"{v} went at risk at {stageAt:O}, before it was due ({timersDue:O})");
                var firstJourneyStepAfterWait = events.Where(e => e.GetProperty("type").GetString() == "attributes_updated").Select(e => e.GetProperty("receivedTime").GetDateTimeOffset()).DefaultIfEmpty(fired[v]).Min();
                lateness.Add((new[] { leftAt, stageAt, firstJourneyStepAfterWait }.Max() - timersDue).TotalSeconds);
            }

            var sortedLatency = latencies.Order().ToList();
            report.AppendLine(CultureInfo.InvariantCulture, $"nodes: 3, killed: 1 (SIGKILL after {LoadBeforeKill.TotalSeconds:0} s of load), load kept {LoadAfterKill.TotalSeconds:0} s on the survivors");
            report.AppendLine(CultureInfo.InvariantCulture, $"acknowledged: {acked.Count} ({ackedBeforeKill} before the kill, {ackedAfterKill} after); unacknowledged and retried: {unacked.Count}");
            report.AppendLine(CultureInfo.InvariantCulture, $"stored: {stored.Values.Sum()} events for {sent.Count} message ids; duplicates: {duplicates.Count}; lost: {lost.Count}; unknown: {strangers.Count}");
            report.AppendLine(CultureInfo.InvariantCulture, $"ingest latency of acknowledged events: p50 {Percentile(sortedLatency, 0.50):0} ms, p99 {Percentile(sortedLatency, 0.99):0} ms, max {sortedLatency.LastOrDefault():0} ms");
            report.AppendLine(CultureInfo.InvariantCulture, $"grains on the killed node: {timedOnKilled.Count} timed + {loadOnKilled.Count} load visitors; answering again from a survivor after: min {reactivated.Values.Min().TotalSeconds:0.0} s, max {reactivated.Values.Max().TotalSeconds:0.0} s");
            report.AppendLine(CultureInfo.InvariantCulture, $"timers of the killed node's visitors (window exit + journey wait + at-risk, {TimerDelay.TotalSeconds:0} s after setup, {(timersDue - killedAt).TotalSeconds:0.0} s after the kill): fired {timedOnKilled.Count(fired.ContainsKey)}/{timedOnKilled.Count}, all three done at most {lateness.DefaultIfEmpty(0).Max():0.0} s after due");
            report.AppendLine(CultureInfo.InvariantCulture, $"timers of all timed visitors: fired {fired.Count}/{timed.Count}");
            output.WriteLine(report.ToString());
            if (Environment.GetEnvironmentVariable("ACTORS_DRILL_REPORT") is { Length: > 0 } reportFile) await File.WriteAllTextAsync(reportFile, report.ToString());

            Assert.True(lost.Count == 0, $"lost acknowledged or retried events: {string.Join(", ", lost.Take(10))}");
            Assert.True(duplicates.Count == 0, $"events stored twice: {string.Join(", ", duplicates.Take(10))}");
            Assert.Empty(strangers);
            Assert.Equal(sent.Count, stored.Values.Sum());
        }
        catch
        {
            foreach (var n in nodes.Skip(0).Take(2)) output.WriteLine(n.Output.Length > 4000 ? n.Output[^4000..] : n.Output);
            throw;
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
            await TestPostgres.DropDatabaseAsync(database);
        }
    }

    private static double Percentile(List<double> sorted, double p) => sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];

    private static async Task WaitAsync(Func<Task<bool>> done, TimeSpan limit, string because) => await WaitAsync(done, limit, () => because);

    private static async Task WaitAsync(Func<Task<bool>> done, TimeSpan limit, Func<string> because)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!await done())
        {
            Assert.True(DateTime.UtcNow < deadline, because());
            await Task.Delay(250);
        }
    }

    private static async Task<List<JsonElement>> EventsAsync(HttpClient admin, string visitor) =>
        [.. (await admin.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/events?limit=1000")).GetProperty("items").EnumerateArray()];

    private static async Task<List<string>> StoredIdsAsync(HttpClient admin, string visitor)
    {
        var ids = new List<string>();
        for (long? from = null; ;)
        {
            var page = await admin.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/events?type=product_viewed&limit=1000{(from is null ? "" : $"&from={from}")}");
            ids.AddRange(page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("messageId").GetString()!));
            if (!page.TryGetProperty("next", out var next) || next.ValueKind != JsonValueKind.Number) return ids;
            from = next.GetInt64();
        }
    }

    /// <summary>An Orleans client of the cluster, to ask which silo holds which visitor's activation.</summary>
    private sealed class ClusterProbe(IHost host) : IAsyncDisposable
    {
        public static async Task<ClusterProbe> ConnectAsync(string database, string cluster)
        {
            var builder = Host.CreateApplicationBuilder();
            builder.Logging.ClearProviders();
            builder.UseOrleansClient(client =>
            {
                client.UseAdoNetClustering(o =>
                {
                    o.Invariant = ActorsSilo.AdoNetInvariant;
                    o.ConnectionString = database;
                });
                client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (cluster, cluster));
            });
            var host = builder.Build();
            await host.StartAsync();
            return new ClusterProbe(host);
        }

        public async Task WaitForActiveSilosAsync(int count, TimeSpan timeout)
        {
            var management = host.Services.GetRequiredService<IClusterClient>().GetGrain<IManagementGrain>(0);
            var deadline = DateTime.UtcNow + timeout;
            while ((await management.GetHosts(onlyActive: true)).Count < count)
            {
                Assert.True(DateTime.UtcNow < deadline, $"fewer than {count} silos became active within {timeout}");
                await Task.Delay(TimeSpan.FromMilliseconds(250));
            }
        }

        /// <summary>The keys of the visitor grains active on the silo listening on <paramref name="siloPort"/>.</summary>
        public async Task<HashSet<string>> VisitorsOnAsync(int siloPort)
        {
            var management = host.Services.GetRequiredService<IClusterClient>().GetGrain<IManagementGrain>(0);
            var silos = await management.GetHosts(onlyActive: true);
            var silo = Assert.Single(silos.Keys, s => s.Endpoint.Port == siloPort);
            var statistics = await management.GetDetailedGrainStatistics(hostsIds: [silo]);
            return [.. statistics
                .Where(s => s.GrainType.Contains("VisitorGrain", StringComparison.Ordinal))
                .Select(s => s.GrainId.Key.ToString()!)
                .Select(k => k.StartsWith("anon:", StringComparison.Ordinal) ? k["anon:".Length..] : k)];
        }

        public async ValueTask DisposeAsync()
        {
            try { await host.StopAsync(TimeSpan.FromSeconds(5)); } catch (OperationCanceledException) { }
            host.Dispose();
        }
    }
}
