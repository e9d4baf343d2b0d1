using System.Net.Http.Headers;
using System.Text.Json;
using Actors.Api.Tracking;
using Actors.Domain.Tracking;
using Actors.Grains.Visitors;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Concurrency;
using Npgsql;
using NpgsqlTypes;

namespace Actors.Benchmarks;

/// <summary>
/// 1. Ingest: one tracked event per HTTP request to POST /v1/visitors/{id}/events (a 200 means durable), against the raw
/// ceiling: one single-row durable INSERT per operation of the same kind of row into the same PostgreSQL, with Npgsql,
/// at the same concurrency; the same for new visitors (every request a visitor never seen before). 6. Scale: the same
/// ingest with 1,000 / 100,000 / 1,000,000 distinct profiles. The diagnostics count what a new visitor's first event costs.
/// </summary>
public static class IngestScenario
{
    public static async Task<List<Scenario>> RunAsync(BenchHost host, BenchOptions o, List<DiagnosticsSection> diagnostics, CancellationToken ct)
    {
        var c = o.HttpConcurrency;
        using var client = host.Client(c);
        // Returning users: each has a short history and active grains before the measured run (first touches are the
        // scale curve's subject), so the figure and the in-process diagnostics below see the same state.
        var users = o.IngestUsers;
        await Load.ForEachAsync("ingest: users with history", users, 16,
            i => Writer.WriteAsync(host, $"anon:ing-{i}", Payloads.History(new Random(i), 5, TimeSpan.FromDays(10))), ct);
        await Load.ForEachAsync("ingest: activating users", users, c, async i =>
        {
            using var get = await client.GetAsync($"/v1/visitors/ing-{i}/profile", ct);
            get.EnsureSuccessStatusCode();
        }, ct);

        await SettleAsync(host, "ingest", ct);
        // The reference is measured before and after the two HTTP phases and averaged, so drift of a shared machine
        // during the phases weighs on both sides alike.
        var rawBefore = await RawInsertsAsync(host, o, "raw INSERT ceiling (before)", ct);
        var ours = await HttpIngestAsync(client, $"ingest ({o.IngestUsers:N0} users)", c, o.Warmup, o.Window, _ => $"ing-{Random.Shared.Next(o.IngestUsers)}", ct);
        // Every request a visitor never seen before: the sequence number is unique across warm-up and window.
        var run = Guid.NewGuid().ToString("N")[..8];
        var fresh = await HttpIngestAsync(client, "ingest new visitors", c, o.Warmup, o.Window, sequence => $"new-{run}-{sequence}", ct);
        var rawAfter = await RawInsertsAsync(host, o, "raw INSERT ceiling (after)", ct);
        var raw = (rawBefore.PerSecond + rawAfter.PerSecond) / 2;
        var rawP99 = (rawBefore.Ms(99) + rawAfter.Ms(99)) / 2;
        var reference = $"reference: Npgsql single-row INSERT (synchronous_commit on), {c} in flight, mean of {rawBefore.PerSecond:N0}/s before and {rawAfter.PerSecond:N0}/s after";

        var results = new List<Scenario>
        {
            new("ingest", ours.PerSecond, "events/s", raw, ours.PerSecond / raw, "≥ 1.0× raw INSERT", ours.PerSecond / raw >= 1.0,
                $"HTTP, 1 event a request, {c} in flight, {o.IngestUsers:N0} returning users (active), p99 {ours.Ms(99):N1} ms; " +
                $"{reference}, p99 {rawP99:N1} ms; errors {ours.Errors}/{rawBefore.Errors + rawAfter.Errors}"),
            new("ingest-p99-ms", ours.Ms(99), "ms", rawP99, ours.Ms(99) / rawP99, "≤ 2× raw INSERT p99", ours.Ms(99) <= 2 * rawP99,
                $"p99 of the `ingest` row against the INSERT reference's p99 (closed loops, {c} in flight each)"),
            new("ingest-new-visitors", fresh.PerSecond, "events/s", raw, fresh.PerSecond / raw, "≥ 0.5× raw INSERT", fresh.PerSecond / raw >= 0.5,
                $"HTTP as `ingest`, but every request a visitor never seen before (its first event: activation, stream start), p99 {fresh.Ms(99):N1} ms; " +
                $"{reference}; errors {fresh.Errors}"),
            new("ingest-new-visitors-p99-ms", fresh.Ms(99), "ms", rawP99, fresh.Ms(99) / rawP99, "≤ 2× raw INSERT p99", fresh.Ms(99) <= 2 * rawP99,
                $"p99 of the `ingest-new-visitors` row against the INSERT reference's p99"),
        };
        // The same two loads from separate processes (wrk, pgbench), as issue 14 measured them.
        await SettleAsync(host, "ingest (wrk)", ct);
        results.AddRange(await ExternalIngest.RunAsync(host, o, ct));
        // Counted, not timed: where a new visitor's first event goes (statements, round trips, activations).
        diagnostics.Add(await IngestDiagnostics.NewVisitorsAsync(host, client, o.Quick ? 2_000 : 5_000, c, ct));
        diagnostics.Add(await IngestDiagnostics.ReturningVisitorsAsync(host, client, o.Quick ? 2_000 : 5_000, c, _ => $"ing-{Random.Shared.Next(o.IngestUsers)}", ct));

        // Where the gap to the ceiling goes: the same gateway call without HTTP, and the grain call alone.
        var gateway = host.Host.App.Services.GetRequiredService<TrackingGateway>();
        var direct = await Load.ClosedAsync("ingest gateway in-process (no HTTP)", c, o.Warmup, o.Window, async (_, _) =>
        {
            using var message = JsonDocument.Parse(Payloads.SegmentMessage(Random.Shared));
            var outcome = await gateway.IngestAsync([message.RootElement], null, "", $"ing-{Random.Shared.Next(o.IngestUsers)}", "track");
            return outcome.Accepted == 1;
        }, ct);
        var grain = await Load.ClosedAsync("ingest grain call in-process (no HTTP, no gateway)", c, o.Warmup, o.Window, async (_, _) =>
        {
            IReadOnlyList<VisitorEvent> events = [Payloads.DomainEvent(Random.Shared, DateTimeOffset.UtcNow)];
            var result = await host.Grains.GetGrain<IVisitorGrain>($"anon:ing-{Random.Shared.Next(o.IngestUsers)}").Track(events.AsImmutable());
            return result.Events.Count == 1;
        }, ct);
        results.Add(new("ingest-gateway-in-process", direct.PerSecond, "events/s", raw, direct.PerSecond / raw, null, null,
            $"diagnostic: TrackingGateway.IngestAsync called in-process, same users and payloads; p99 {direct.Ms(99):N1} ms; errors {direct.Errors}"));
        results.Add(new("ingest-grain-in-process", grain.PerSecond, "events/s", raw, grain.PerSecond / raw, null, null,
            $"diagnostic: IVisitorGrain.Track called in-process, same users; p99 {grain.Ms(99):N1} ms; errors {grain.Errors}"));

        double? first = null;
        foreach (var profiles in o.ScaleProfiles)
        {
            var label = profiles >= 1_000_000 ? $"{profiles / 1_000_000}m" : $"{profiles / 1_000}k";
            var r = await HttpIngestAsync(client, $"ingest scale ({profiles:N0} profiles)", c, o.Warmup, o.ScaleWindow, _ => $"s{label}-{Random.Shared.Next(profiles)}", ct);
            first ??= r.PerSecond;
            results.Add(new($"ingest-{label}-profiles", r.PerSecond, "events/s", first, r.PerSecond / first, null, null,
                $"scale curve: ingest drawn from {profiles:N0} distinct profiles (new ones are cold: activation + stream start); reference: 1,000 profiles; p99 {r.Ms(99):N1} ms; errors {r.Errors}"));
        }
        return results;
    }

    /// <param name="visitor">The visitor id of a request, from its sequence number.</param>
    private static async Task<LoadResult> HttpIngestAsync(HttpClient client, string label, int concurrency,
        TimeSpan warmup, TimeSpan window, Func<long, string> visitor, CancellationToken ct)
    {
        var json = new MediaTypeHeaderValue("application/json");
        return await Load.ClosedAsync(label, concurrency, warmup, window, async (_, sequence) =>
        {
            using var content = new ByteArrayContent(Payloads.SegmentMessage(Random.Shared));
            content.Headers.ContentType = json;
            using var response = await client.PostAsync($"/v1/visitors/{visitor(sequence)}/events", content, ct);
            return response.IsSuccessStatusCode;
        }, ct);
    }

    /// <summary>The INSERT references' table: rows shaped like a stored event (id, stream id, version, type, jsonb data, time).</summary>
    internal static async Task EnsureRawTableAsync(BenchHost host, CancellationToken ct)
    {
        await using var create = host.Database.CreateCommand(
            "CREATE TABLE IF NOT EXISTS bench_raw_events (seq_id bigserial PRIMARY KEY, id uuid NOT NULL, stream_id text NOT NULL, " +
            "version bigint NOT NULL, type text NOT NULL, data jsonb NOT NULL, timestamp timestamptz NOT NULL DEFAULT now(), UNIQUE (stream_id, version))");
        await create.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Rows shaped like a stored event, one durable INSERT each.</summary>
    private static async Task<LoadResult> RawInsertsAsync(BenchHost host, BenchOptions o, string label, CancellationToken ct)
    {
        await EnsureRawTableAsync(host, ct);

        var users = o.IngestUsers;
        var versions = new long[users];
        var run = Guid.NewGuid().ToString("N")[..8]; // streams of their own per call, so versions start at 1 again
        return await Load.ClosedAsync(label, o.HttpConcurrency, o.Warmup, o.Window, async (_, _) =>
        {
            var user = Random.Shared.Next(users);
            var e = Payloads.DomainEvent(Random.Shared, DateTimeOffset.UtcNow);
            await using var insert = host.Database.CreateCommand(
                "INSERT INTO bench_raw_events (id, stream_id, version, type, data, timestamp) VALUES ($1, $2, $3, $4, $5, $6)");
            insert.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = Guid.NewGuid() });
            insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = $"anon:raw-{run}-{user}" });
            insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = Interlocked.Increment(ref versions[user]) });
            insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = EventNames.Of(e) });
            insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Payloads.EventJson(e), NpgsqlDbType = NpgsqlDbType.Jsonb });
            insert.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = e.ReceivedTime });
            await insert.ExecuteNonQueryAsync(ct);
            return true;
        }, ct);
    }

    /// <summary>
    /// Waits until the host has done what earlier phases left it (emails to deliver and report, events for the reporting
    /// daemon), then prints the CPU the host process and PostgreSQL use for 2 s with no load: in a whole run the journeys
    /// group leaves both behind, and ingest measured meanwhile would pay for them (in one run the host spent 0.45 ms per
    /// wrk request against 0.20 in the group alone, and 0.10 ms per pgbench INSERT with no request of its own).
    /// </summary>
    internal static async Task<string> SettleAsync(BenchHost host, string group, CancellationToken ct, double quietSeconds = 2)
    {
        var schema = host.Host.App.Services.GetRequiredService<Marten.IDocumentStore>().Options.Events.DatabaseSchemaName;
        await DeliveryScenario.WaitForIdleOutboxAsync(host, schema, ct, $"{group}: waiting for {{0:N0}} emails of earlier phases to leave the outbox");
        await JourneysScenario.WaitForReportsAsync(host, schema, ct, group);
        var before = CpuTime.Now(host);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(double.TryParse(Environment.GetEnvironmentVariable("ACTORS_BENCH_IDLE_SECONDS"), System.Globalization.CultureInfo.InvariantCulture, out var idleSeconds) && idleSeconds > 0 ? idleSeconds : quietSeconds), ct);
        var idle = CpuTime.Now(host) - before;
        var seconds = watch.Elapsed.TotalSeconds;
        var quiet = string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"with no load, the host process uses {idle.Process.TotalSeconds / seconds * 100:N0}% of a core and PostgreSQL {idle.Postgres.TotalSeconds / seconds * 100:N0}%");
        Progress.Line($"  {group}: {quiet}");
        return quiet;
    }
}
