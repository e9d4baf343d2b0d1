using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using HdrHistogram;

namespace Actors.Benchmarks;

/// <summary>
/// The soak of issue 16 (not in CI): the host with 100 active segments and 20 published journeys, its maximum ingest
/// rate measured briefly, then an open loop at half of it for N minutes; per minute: rate, p50/p99/max latency, errors,
/// process memory (RSS and GC heap) and the database's size, so growth shows.
///   dotnet run -c Release --project tests/Actors.Benchmarks -- soak [--minutes 10] [--users 10000] [--probe-seconds 20]
/// The host, its PostgreSQL and this load generator share the machine (and the RSS: one process for host and client).
/// </summary>
public static class SoakCommand
{
    private sealed record Minute(int Number, LoadResult Load, double RssMb, double HeapMb, double DatabaseMb);

    public static async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        var minutes = Option(args, "--minutes", 10);
        var users = Option(args, "--users", 10_000);
        var probe = TimeSpan.FromSeconds(Option(args, "--probe-seconds", 20));
        const int Concurrency = 32;

        Progress.Line($"soak: {minutes} min at half the maximum ingest rate, {users:N0} visitors, 100 segments, 20 journeys");
        await using var host = await BenchHost.StartAsync();
        using var marketing = host.Client(8, BenchHost.MarketingKey);
        using var client = host.Client(Concurrency * 2);

        var rules = SegmentsScenario.Rules();
        await SegmentsScenario.CreateAsync(marketing, rules, host, ct);
        var journeys = JourneysScenario.CostTriggers().ToList();
        foreach (var (id, trigger) in journeys)
            await JourneysScenario.CreateAndPublishAsync(marketing, id,
                $$$"""{"name":"{{{id}}}","trigger":{{{trigger}}},"start":"wait","steps":[{"id":"wait","wait":{"duration":"P1D"},"next":"send"},{"id":"send","send":{"channel":"email","template":"{{{id}}}"}}]}""", ct);
        Progress.Line($"soak: {rules.Count} segments and {journeys.Count} journeys active");

        var json = new MediaTypeHeaderValue("application/json");
        async Task<bool> Ingest()
        {
            using var content = new ByteArrayContent(Payloads.SegmentMessage(Random.Shared));
            content.Headers.ContentType = json;
            using var response = await client.PostAsync($"/v1/visitors/soak-{Random.Shared.Next(users)}/events", content, ct);
            return response.IsSuccessStatusCode;
        }

        var max = await Load.ClosedAsync("soak: maximum ingest rate", Concurrency, TimeSpan.FromSeconds(5), probe, (_, _) => Ingest(), ct);
        var rate = max.PerSecond / 2;
        var start = Sample();
        var startDb = await DatabaseMbAsync(host, ct);
        Progress.Line($"soak: maximum {max.PerSecond:N0} events/s (p99 {max.Ms(99):N1} ms); running at {rate:N0}/s; RSS {start.Rss:N0} MB, GC heap {start.Heap:N0} MB, database {startDb:N0} MB");

        var rows = new List<Minute>();
        for (var m = 1; m <= minutes && !ct.IsCancellationRequested; m++)
        {
            var r = await Load.OpenAsync($"soak: minute {m}", rate, Concurrency * 2, TimeSpan.FromMinutes(1), _ => Ingest(), ct);
            var (rss, heap) = Sample();
            rows.Add(new Minute(m, r, rss, heap, await DatabaseMbAsync(host, ct)));
        }

        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Soak {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores: 100 segments, 20 journeys, {users:N0} visitors; maximum {max.PerSecond:N0} events/s, run at {rate:N0}/s for {rows.Count} min");
        text.AppendLine();
        text.AppendLine("| minute | events/s | p50 ms | p99 ms | max ms | errors | RSS MB | GC heap MB | database MB |");
        text.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        text.AppendLine(CultureInfo.InvariantCulture, $"| 0 | – | – | – | – | – | {start.Rss:N0} | {start.Heap:N0} | {startDb:N0} |");
        foreach (var row in rows)
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {row.Number} | {row.Load.PerSecond:N0} | {row.Load.Ms(50):N1} | {row.Load.Ms(99):N1} | {row.Load.Latency.GetMaxValue() / 1000.0:N0} | {row.Load.Errors} | {row.RssMb:N0} | {row.HeapMb:N0} | {row.DatabaseMb:N0} |");
        if (rows.Count > 0)
        {
            var last = rows[^1];
            var events = rows.Sum(r => r.Load.Ops);
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture,
                $"Growth over {rows.Count} min: RSS {last.RssMb - start.Rss:+0;-0} MB, GC heap {last.HeapMb - start.Heap:+0;-0} MB, database {last.DatabaseMb - startDb:+0;-0} MB " +
                $"({(last.DatabaseMb - startDb) * 1024 * 1024 / Math.Max(1, events):N0} bytes per event, {events:N0} events); worst minute p99 {rows.Max(r => r.Load.Ms(99)):N1} ms");
        }
        Console.Out.Write(text.ToString());
        return rows.Count == minutes && rows.All(r => r.Load.Errors == 0) ? 0 : 1;
    }

    private static (double Rss, double Heap) Sample()
    {
        // A full collection first: the heap figure is what is alive, so growth from minute to minute means retained memory.
        var heap = GC.GetTotalMemory(forceFullCollection: true);
        using var self = Process.GetCurrentProcess();
        return (self.WorkingSet64 / 1048576.0, heap / 1048576.0);
    }

    private static async Task<double> DatabaseMbAsync(BenchHost host, CancellationToken ct)
    {
        await using var command = host.Database.CreateCommand("select pg_database_size(current_database())");
        return (long)(await command.ExecuteScalarAsync(ct))! / 1048576.0;
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var v) && v > 0 ? v : fallback;
    }
}
