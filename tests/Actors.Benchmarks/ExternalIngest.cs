using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Actors.Storage.Postgres;
using Npgsql;

namespace Actors.Benchmarks;

/// <summary>
/// Ingest measured the way issue 14 measured it: load from separate processes written in C, so that neither side pays
/// for a .NET client in the host's process. `wrk` (Debian's package: <c>apt-get install wrk</c>) sends one Segment
/// track message per POST /v1/visitors/{id}/events over 32 connections, each with its own messageId (a repeated one
/// would be recognised as a retry and not stored); `pgbench` (PostgreSQL's own) runs single-row INSERTs of the same
/// kind of row, with the same JSON, over 32 connections into the same server, before and after, the mean of both.
/// Skipped, with a line saying why, when wrk is not installed.
/// </summary>
public static partial class ExternalIngest
{
    public static async Task<List<Scenario>> RunAsync(BenchHost host, BenchOptions o, CancellationToken ct)
    {
        var wrk = new[] { "/usr/bin/wrk", "/usr/local/bin/wrk" }.FirstOrDefault(File.Exists);
        if (wrk is null)
        {
            Progress.Line("ingest (wrk): skipped, wrk is not installed (apt-get install wrk)");
            return [];
        }
        var pgbench = PostgresBinaries.FindTool("pgbench");
        var c = o.HttpConcurrency;
        var seconds = (int)Math.Max(3, (o.Warmup + o.Window).TotalSeconds);
        var work = Directory.CreateTempSubdirectory("actors-bench-wrk-");
        try
        {
            // The same JSON for every request and row (the issue's "same JSON each time"), only the messageId differs.
            var template = Encoding.UTF8.GetString(Payloads.SegmentMessage(new Random(14)));
            var messageId = MessageIdPattern().Match(template).Groups[1].Value;
            var script = Path.Combine(work.FullName, "ingest.lua");
            await File.WriteAllTextAsync(script, LuaScript(template.Replace("%", "%%", StringComparison.Ordinal).Replace(messageId, "%s", StringComparison.Ordinal), o.IngestUsers, BenchHost.IngestKey), ct);
            var insert = Path.Combine(work.FullName, "insert.sql");
            await File.WriteAllTextAsync(insert, await PgbenchScriptAsync(host, ct), ct);

            var before = await PgbenchAsync(host, pgbench, insert, template, c, seconds, "pgbench single-row INSERTs (before)", ct);
            var returning = await WrkAsync(host, wrk, script, "returning", c, seconds, host.BaseAddress, "wrk: returning visitors", ct);
            var fresh = await WrkAsync(host, wrk, script, "new", c, seconds, host.BaseAddress, "wrk: new visitors", ct);
            var after = await PgbenchAsync(host, pgbench, insert, template, c, seconds, "pgbench single-row INSERTs (after)", ct);
            var raw = (before.PerSecond + after.PerSecond) / 2;
            var reference = $"reference: pgbench (-M extended, {c} clients, 2 threads), one durable single-row INSERT of the same JSON per transaction, " +
                $"mean of {before.PerSecond:N0}/s before and {after.PerSecond:N0}/s after (mean latency {before.MeanMs:N2} / {after.MeanMs:N2} ms, p99 {before.P99Ms:N2} / {after.P99Ms:N2} ms); " +
                $"per INSERT {before.Cpu} (before) and {after.Cpu} (after)";
            var rawP99 = (before.P99Ms + after.P99Ms) / 2;
            return
            [
                new("ingest-wrk", returning.PerSecond, "events/s", raw, returning.PerSecond / raw, "≥ 1.0× pgbench INSERT", returning.PerSecond / raw >= 1.0,
                    $"wrk (2 threads, {c} connections, {seconds} s, no warm-up of its own: the HTTP rows above warmed the path), one track message a request to " +
                    $"{o.IngestUsers:N0} returning visitors (active), p50 {returning.P50Ms:N2}, p99 {returning.P99Ms:N2} ms; non-2xx {returning.Errors}; per request {returning.Cpu}; host process: {returning.Gc}; {reference}"),
                new("ingest-new-visitors-wrk", fresh.PerSecond, "events/s", raw, fresh.PerSecond / raw, "≥ 0.5× pgbench INSERT", fresh.PerSecond / raw >= 0.5,
                    $"as `ingest-wrk`, every request a visitor never seen before, p50 {fresh.P50Ms:N2}, p99 {fresh.P99Ms:N2} ms; non-2xx {fresh.Errors}; per request {fresh.Cpu}; host process: {fresh.Gc}; {reference}"),
                new("ingest-wrk-p99-ms", returning.P99Ms, "ms", rawP99, returning.P99Ms / rawP99, "≤ 2× pgbench INSERT p99", returning.P99Ms <= 2 * rawP99,
                    $"p99 of `ingest-wrk` (wrk's latency distribution) against pgbench's p99 (its per-transaction log), mean of before and after"),
                new("ingest-new-visitors-wrk-p99-ms", fresh.P99Ms, "ms", rawP99, fresh.P99Ms / rawP99, "≤ 2× pgbench INSERT p99", fresh.P99Ms <= 2 * rawP99,
                    $"p99 of `ingest-new-visitors-wrk` against pgbench's p99"),
            ];
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <param name="Gc">The host's collections during the phase (it shares the process).</param>
    /// <param name="Cpu">CPU per request of the host process, PostgreSQL and wrk.</param>
    private sealed record WrkResult(double PerSecond, double P50Ms, double P99Ms, long Errors, GcWindow Gc, string Cpu);

    /// <param name="Cpu">CPU per INSERT of the (idle) host process, PostgreSQL and pgbench.</param>
    private sealed record PgbenchResult(double PerSecond, double MeanMs, double P99Ms, string Cpu);

    /// <summary>One Lua state per wrk thread: each numbers its own requests, so message and visitor ids never repeat.</summary>
    private static string LuaScript(string template, int users, string key) => $$"""
        local template = [==[{{template}}]==]
        local users = {{users}}
        local mode = "returning"
        local thread_id = 0
        local counter = 0
        local run = tostring(os.time())
        local threads = 0
        local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer {{key}}" }

        function setup(thread)
          threads = threads + 1
          thread:set("thread_id", threads)
        end

        function init(args)
          mode = args[1] or "returning"
          math.randomseed(os.time() + thread_id)
        end

        function request()
          counter = counter + 1
          local id = run .. "-" .. thread_id .. "-" .. counter
          local visitor
          if mode == "new" then visitor = "wrk-" .. id else visitor = "ing-" .. math.random(0, users - 1) end
          return wrk.format("POST", "/v1/visitors/" .. visitor .. "/events", headers, string.format(template, "wrk-" .. mode .. "-" .. id))
        end
        """;

    /// <summary>
    /// The INSERT of the Npgsql reference. The JSON and the stream's prefix are pgbench variables (<c>-D</c>), so they go
    /// as parameters, as Npgsql sends them; the version is random in a range where two never meet.
    /// </summary>
    private static async Task<string> PgbenchScriptAsync(BenchHost host, CancellationToken ct)
    {
        await IngestScenario.EnsureRawTableAsync(host, ct);
        return "\\set version random(1, 9000000000000000000)\n" +
            "INSERT INTO bench_raw_events (id, stream_id, version, type, data, timestamp) " +
            "VALUES (gen_random_uuid(), :stream::text || :client_id::text, :version::bigint, 'product_viewed', :json::jsonb, now());\n";
    }

    private static async Task<PgbenchResult> PgbenchAsync(BenchHost host, string pgbench, string script, string json, int clients, int seconds, string label, CancellationToken ct)
    {
        var csb = new NpgsqlConnectionStringBuilder(host.Host.Postgres!.ConnectionString()); // with its password, which the data source hides
        var start = new ProcessStartInfo(pgbench)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Every transaction's latency goes to a log per thread (-l), from which the p99 is taken.
        var logs = Directory.CreateTempSubdirectory("actors-bench-pgbench-");
        foreach (var a in new[] { "-n", "-M", "extended", "-c", clients.ToString(CultureInfo.InvariantCulture), "-j", "2",
                     "-l", "--log-prefix", Path.Combine(logs.FullName, "tx"),
                     "-T", seconds.ToString(CultureInfo.InvariantCulture), "-f", script,
                     "-D", "json=" + json, "-D", $"stream=anon:pgb-{Guid.NewGuid():N}-",
                     "-h", csb.Host!, "-p", csb.Port.ToString(CultureInfo.InvariantCulture), "-U", csb.Username!, csb.Database! })
            start.ArgumentList.Add(a);
        start.Environment["PGPASSWORD"] = csb.Password;
        var wal = WalCounters.Read();
        var (output, error, cpu, generator) = await RunAsync(host, start, label, seconds, ct);
        var tps = TpsPattern().Match(output);
        var latency = LatencyAveragePattern().Match(output);
        if (!tps.Success) throw new InvalidOperationException($"{label}: no tps in pgbench's output:\n{output}\n{error}");
        var result = new PgbenchResult(Parse(tps.Groups[1].Value), latency.Success ? Parse(latency.Groups[1].Value) : double.NaN, LoggedP99Ms(logs),
            cpu.WithLoadGenerator(generator, (long)(Parse(tps.Groups[1].Value) * seconds)));
        logs.Delete(recursive: true);
        Progress.Line($"{label}: {result.PerSecond:N0}/s, mean latency {result.MeanMs:N2} ms, p99 {result.P99Ms:N2} ms; per INSERT {result.Cpu}{WalCounters.Describe(wal, (long)(result.PerSecond * seconds))}");
        return result;
    }

    private static async Task<WrkResult> WrkAsync(BenchHost host, string wrk, string script, string mode, int connections, int seconds, Uri baseAddress, string label, CancellationToken ct)
    {
        var start = new ProcessStartInfo(wrk) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-t", "2", "-c", connections.ToString(CultureInfo.InvariantCulture), "-d", $"{seconds}s", "--latency", "-s", script,
                     baseAddress.ToString().TrimEnd('/'), "--", mode })
            start.ArgumentList.Add(a);
        var wal = WalCounters.Read();
        var gc = GcWindow.Start();
        var (output, error, cpu, generator) = await RunAsync(host, start, label, seconds, ct);
        var collections = gc.Since();
        var rate = RequestsPattern().Match(output);
        if (!rate.Success) throw new InvalidOperationException($"{label}: no rate in wrk's output:\n{output}\n{error}");
        var non2xx = Non2xxPattern().Match(output);
        var errors = non2xx.Success ? long.Parse(non2xx.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        var result = new WrkResult(Parse(rate.Groups[1].Value), Percentile(output, "50%"), Percentile(output, "99%"), errors, collections,
            cpu.WithLoadGenerator(generator, (long)(Parse(rate.Groups[1].Value) * seconds)));
        Progress.Line($"{label}: {result.PerSecond:N0}/s, p50 {result.P50Ms:N2} ms, p99 {result.P99Ms:N2} ms, non-2xx {errors}; per request {result.Cpu}; {result.Gc.AllocatedPer((long)(result.PerSecond * seconds))}; {result.Gc}{WalCounters.Describe(wal, (long)(result.PerSecond * seconds))}");
        if (errors > 0) Progress.Line($"  {label}: wrk's output:\n{output}");
        return result;
    }

    /// <summary>Runs the load generator to its end; with the CPU time it, the host process and PostgreSQL used meanwhile.</summary>
    private static async Task<(string Output, string Error, CpuTime Cpu, TimeSpan Generator)> RunAsync(BenchHost host, ProcessStartInfo start, string label, int seconds, CancellationToken ct)
    {
        Progress.Line($"  {label}: {seconds} s");
        var cpu = CpuTime.Now(host);
        var generator = CpuTime.EndedChildren();
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start");
        var output = process.StandardOutput.ReadToEndAsync(ct);
        var error = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        if (process.ExitCode != 0) throw new InvalidOperationException($"{label}: {start.FileName} exited with {process.ExitCode}:\n{await output}\n{await error}");
        // pgbench's backends end with it: a moment for the postmaster to collect them (their time counts once it has).
        await Task.Delay(TimeSpan.FromMilliseconds(300), ct);
        return (await output, await error, CpuTime.Now(host) - cpu, CpuTime.EndedChildren() - generator);
    }

    /// <summary>The p99 of the transactions pgbench logged ("client transaction latency_us script epoch us" per line).</summary>
    private static double LoggedP99Ms(DirectoryInfo logs)
    {
        var latencies = new List<long>();
        foreach (var file in logs.EnumerateFiles("tx*"))
            foreach (var line in File.ReadLines(file.FullName))
            {
                var fields = line.Split(' ');
                if (fields.Length >= 3 && long.TryParse(fields[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var us)) latencies.Add(us);
            }
        if (latencies.Count == 0) return double.NaN;
        latencies.Sort();
        return latencies[(int)Math.Min(latencies.Count - 1, Math.Ceiling(latencies.Count * 0.99) - 1)] / 1000.0;
    }

    /// <summary>wrk's latency distribution line ("99%   12.34ms"), in ms.</summary>
    private static double Percentile(string output, string percentile)
    {
        var match = Regex.Match(output, $@"^\s*{Regex.Escape(percentile)}\s+([\d.]+)(us|ms|s)\s*$", RegexOptions.Multiline);
        if (!match.Success) return double.NaN;
        var value = Parse(match.Groups[1].Value);
        return match.Groups[2].Value switch { "us" => value / 1000, "s" => value * 1000, _ => value };
    }

    private static double Parse(string text) => double.Parse(text, CultureInfo.InvariantCulture);

    [GeneratedRegex("\"messageId\":\"([^\"]+)\"")]
    private static partial Regex MessageIdPattern();

    [GeneratedRegex(@"^tps = ([\d.]+)", RegexOptions.Multiline)]
    private static partial Regex TpsPattern();

    [GeneratedRegex(@"^latency average = ([\d.]+) ms", RegexOptions.Multiline)]
    private static partial Regex LatencyAveragePattern();

    [GeneratedRegex(@"^Requests/sec:\s+([\d.]+)", RegexOptions.Multiline)]
    private static partial Regex RequestsPattern();

    [GeneratedRegex(@"Non-2xx or 3xx responses:\s+(\d+)")]
    private static partial Regex Non2xxPattern();
}
