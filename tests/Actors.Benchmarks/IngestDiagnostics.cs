using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Npgsql;

namespace Actors.Benchmarks;

/// <summary>
/// Where an event goes, counted rather than timed (counts do not drift with a shared machine's load): new visitors
/// each send one event over HTTP (or active returning visitors send events), as many in flight as in the ingest
/// figures, and the section lists PostgreSQL's statements (pg_stat_statements: calls and rows), commits, Npgsql round
/// trips, Orleans activations by grain type and grain-storage reads, all divided by the number of requests.
/// </summary>
public static partial class IngestDiagnostics
{
    public static Task<DiagnosticsSection> NewVisitorsAsync(BenchHost host, HttpClient client, int visitors, int concurrency, CancellationToken ct)
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        return CountAsync(host, client, $"Diagnostics: a new visitor's first event (per visitor, {visitors:N0} new visitors, {concurrency} in flight)",
            visitors, concurrency, i => $"diag-{run}-{i}", ct);
    }

    /// <summary>The same counts for events of returning visitors whose grains are active (<paramref name="visitor"/> picks one per event).</summary>
    public static Task<DiagnosticsSection> ReturningVisitorsAsync(BenchHost host, HttpClient client, int events, int concurrency, Func<int, string> visitor, CancellationToken ct) =>
        CountAsync(host, client, $"Diagnostics: a returning visitor's event (per event, {events:N0} events of active visitors, {concurrency} in flight)",
            events, concurrency, visitor, ct);

    private static async Task<DiagnosticsSection> CountAsync(BenchHost host, HttpClient client, string title, int requests, int concurrency,
        Func<int, string> visitor, CancellationToken ct)
    {
        try
        {
            await Execute(host, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements", ct);
        }
        catch (PostgresException e)
        {
            return new DiagnosticsSection(title, ["figure", "per request"], [], $"pg_stat_statements is not available ({e.MessageText}); start the server with shared_preload_libraries=pg_stat_statements.");
        }

        var management = host.Grains.GetGrain<IManagementGrain>(0);
        var activationsBefore = await ActivationsByTypeAsync(management);
        var commitsBefore = await CommitsAsync(host, ct);
        await Execute(host, "SELECT pg_stat_statements_reset()", ct);

        var json = new MediaTypeHeaderValue("application/json");
        long failed = 0;
        using (var counters = new Counters())
        {
            await Load.ForEachAsync("diagnostics: requests", requests, concurrency, async i =>
            {
                using var content = new ByteArrayContent(Payloads.SegmentMessage(Random.Shared));
                content.Headers.ContentType = json;
                using var response = await client.PostAsync($"/v1/visitors/{visitor(i)}/events", content, ct);
                if (!response.IsSuccessStatusCode) Interlocked.Increment(ref failed);
            }, ct);
            counters.Stop();

            var statements = await StatementsAsync(host, ct);
            var commits = await CommitsAsync(host, ct) - commitsBefore;
            var activationsAfter = await ActivationsByTypeAsync(management);
            double Per(double count) => count / requests;

            var rows = new List<IReadOnlyList<string>>
            {
                Row("Npgsql round trips (commands and batches executed by the host)", Per(counters.RoundTrips)),
                Row("transactions committed (pg_stat_database, whole server database)", Per(commits)),
                Row("Orleans activations created", Per(counters.Activations)),
            };
            foreach (var (type, count) in activationsAfter.OrderBy(a => a.Key, StringComparer.Ordinal))
            {
                var delta = count - activationsBefore.GetValueOrDefault(type);
                if (delta > 0) rows.Add(Row($"  of which {type} (active after − before)", Per(delta)));
            }
            rows.Add(Row("Orleans grain-storage reads", Per(counters.StorageReads)));
            rows.Add(Row("Orleans grain-storage writes", Per(counters.StorageWrites)));
            var listed = 0L;
            foreach (var s in statements.Where(s => Per(s.Calls) >= 0.01))
            {
                rows.Add(Row($"SQL calls: `{s.Query}` (rows/request {Per(s.Rows).ToString("0.00", CultureInfo.InvariantCulture)})", Per(s.Calls)));
                listed += s.Calls;
            }
            var rest = statements.Sum(s => s.Calls) - listed;
            rows.Add(Row("SQL calls of all other statements (each < 0.01 per request: pollers, catalogues)", Per(rest)));
            rows.Add(Row("SQL calls in all", Per(statements.Sum(s => s.Calls))));
            var note = $"failed requests {failed}; SQL counted by pg_stat_statements in the host's database (statements of a Marten batch count one each; " +
                       "a round trip may carry several); round trips, activations and storage reads by the host's meters (Npgsql, Microsoft.Orleans).";
            return new DiagnosticsSection(title, ["figure", "per request"], rows, note);
        }

        static IReadOnlyList<string> Row(string figure, double perRequest) => [figure, perRequest.ToString("0.00", CultureInfo.InvariantCulture)];
    }

    private sealed record Statement(long Calls, long Rows, string Query);

    private static async Task<List<Statement>> StatementsAsync(BenchHost host, CancellationToken ct)
    {
        await using var command = host.Database.CreateCommand(
            "SELECT calls, rows, query FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) " +
            "AND query NOT LIKE '%pg_stat_statements%' ORDER BY calls DESC, query");
        await using var reader = await command.ExecuteReaderAsync(ct);
        var all = new List<Statement>();
        while (await reader.ReadAsync(ct)) all.Add(new Statement(reader.GetInt64(0), reader.GetInt64(1), Shorten(reader.GetString(2))));
        return all;
    }

    /// <summary>One line, at most 110 characters: enough to tell Marten's, Orleans' and our statements apart.</summary>
    internal static string Shorten(string query)
    {
        var line = Whitespace().Replace(query, " ").Trim().Replace("`", "'", StringComparison.Ordinal);
        return line.Length <= 110 ? line : line[..107] + "...";
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    private static async Task<long> CommitsAsync(BenchHost host, CancellationToken ct)
    {
        // The statistics of a transaction are published when it ends; a snapshot taken inside one would hide the rest.
        await using var command = host.Database.CreateCommand("SELECT pg_stat_clear_snapshot(); SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()");
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.NextResultAsync(ct);
        await reader.ReadAsync(ct);
        return reader.GetInt64(0);
    }

    internal static async Task Execute(BenchHost host, string sql, CancellationToken ct)
    {
        await using var command = host.Database.CreateCommand(sql);
        await command.ExecuteNonQueryAsync(ct);
    }

    private static async Task<Dictionary<string, long>> ActivationsByTypeAsync(IManagementGrain management)
    {
        var stats = await management.GetSimpleGrainStatistics();
        return stats.GroupBy(s => s.GrainType.Split(',')[0].Split('.')[^1])
            .ToDictionary(g => g.Key, g => (long)g.Sum(s => s.ActivationCount), StringComparer.Ordinal);
    }

    /// <summary>Listens to the host's meters while the requests are sent: round trips, activations, storage reads and writes.</summary>
    private sealed class Counters : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _roundTrips, _activations, _storageReads, _storageWrites;
        private bool _stopped;

        public Counters()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (Kind(instrument) is not null) listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<double>((i, v, _, _) => Add(i, v));
            _listener.SetMeasurementEventCallback<float>((i, v, _, _) => Add(i, v));
            _listener.SetMeasurementEventCallback<long>((i, v, _, _) => Add(i, v));
            _listener.SetMeasurementEventCallback<int>((i, v, _, _) => Add(i, v));
            _listener.Start();
        }

        public long RoundTrips => Interlocked.Read(ref _roundTrips);
        public long Activations => Interlocked.Read(ref _activations);
        public long StorageReads => Interlocked.Read(ref _storageReads);
        public long StorageWrites => Interlocked.Read(ref _storageWrites);

        /// <summary>Stops counting (the queries that read the database's statistics must not count).</summary>
        public void Stop()
        {
            Volatile.Write(ref _stopped, true);
            _listener.Dispose();
        }

        public void Dispose() => Stop();

        private static string? Kind(Instrument instrument) => (instrument.Meter.Name, instrument.Name) switch
        {
            ("Npgsql", "db.client.operation.duration") => "round-trip",
            ("Microsoft.Orleans", "orleans-catalog-activation-created") => "activation",
            ("Microsoft.Orleans", "orleans-storage-read-latency") => "storage-read",
            ("Microsoft.Orleans", "orleans-storage-write-latency") => "storage-write",
            _ => null,
        };

        private void Add(Instrument instrument, double value)
        {
            if (Volatile.Read(ref _stopped)) return;
            switch (Kind(instrument))
            {
                // Histograms: one measurement per operation. The activation counter adds its increments.
                case "round-trip": Interlocked.Increment(ref _roundTrips); break;
                case "activation": Interlocked.Add(ref _activations, (long)value); break;
                case "storage-read": Interlocked.Increment(ref _storageReads); break;
                case "storage-write": Interlocked.Increment(ref _storageWrites); break;
            }
        }
    }
}
