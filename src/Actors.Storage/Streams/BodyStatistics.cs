using System.Diagnostics;
using Actors.Storage.Channels;
using Marten;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Actors.Storage.Streams;

/// <summary>
/// Keeps PostgreSQL from gathering planner statistics on the JSON bodies of the event log (<c>mt_events.data</c>), of
/// Marten's documents (<c>mt_doc_*.data</c>) and of the outbox's messages. No query of ours compares a whole body: those
/// that read into one go by an expression (<c>data ->> 'JourneyId'</c>) whose statistics come from its index, or by key.
/// Yet those bodies were most of what each ANALYZE of the tables cost: tens of thousands of jsonb values compared and
/// sorted, 0.5–0.7 s for the event log and 0.3–0.6 s for the reports' visitors after a 100,000-visitor journey, and
/// autovacuum runs them in the middle of the shop's traffic (every tenth of growth of the log) on one of its cores.
/// With the bodies' targets at 0 they took 0.29–0.45 s and 0.10–0.14 s. A column's target is kept by PostgreSQL, so
/// this runs once per node start, after Marten has created its tables, and only changes what is not 0 yet; the lock
/// it takes (SHARE UPDATE EXCLUSIVE) lets appends and reads go on. The same run asks autovacuum to analyze the tables
/// every event rewrites a row of (<see cref="TurnoverTables"/>) once per full turnover, not after a tenth.
/// </summary>
public sealed partial class BodyStatistics(IDocumentStore store, ILogger<BodyStatistics> logger) : Postgres.StartupStep
{
    private static readonly TimeSpan BuildPoll = TimeSpan.FromSeconds(5);

    /// <summary>What one run changed, and whether the event log's column was left for later (its index was being built).</summary>
    public sealed record Outcome(IReadOnlyList<string> Changed, bool EventLogDeferred);

    protected override async Task RunAsync(CancellationToken ct)
    {
        while ((await EnsureAsync(ct)).EventLogDeferred) await Task.Delay(BuildPoll, ct);
    }

    protected override void Failed(Exception e, TimeSpan retryAfter) => LogFailed(e, retryAfter);

    /// <summary>
    /// Sets the bodies' statistics targets to 0 where they are not yet. The event log's column waits while the journey
    /// figures' index is being built on it (<see cref="Journeys.JourneyFigureIndex"/>, on this node or another): CREATE
    /// INDEX CONCURRENTLY holds the lock an ALTER needs for the whole build and waits for the transactions older than
    /// its snapshots, the ALTER's among them, so the two would deadlock and PostgreSQL would abort one. The builder
    /// holds its advisory lock for the whole build; this only tries it, and never waits.
    /// </summary>
    public async Task<Outcome> EnsureAsync(CancellationToken ct)
    {
        var schema = store.Options.Events.DatabaseSchemaName;
        var dataSource = MartenSetup.DataSourceOf(store);
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var pending = new List<(string Table, string Column)>();
        // attstattarget is -1 for "the default" before PostgreSQL 17, and null from it.
        await using (var find = new NpgsqlCommand(
            "select c.relname, a.attname from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace " +
            "where n.nspname = @schema and c.relkind in ('r', 'p') and not a.attisdropped and coalesce(a.attstattarget, -1) <> 0 and (" +
            "(c.relname = 'mt_events' and a.attname = 'data') or (c.relname like 'mt\\_doc\\_%' and a.attname = 'data') " +
            "or (c.relname = @body and a.attname = 'message')) order by 1", connection))
        {
            find.Parameters.AddWithValue("schema", schema);
            find.Parameters.AddWithValue("body", OutboxStore.BodyTableName);
            await using var reader = await find.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) pending.Add((reader.GetString(0), reader.GetString(1)));
        }
        var watch = Stopwatch.StartNew();
        var changed = new List<string>();
        var deferred = false;
        foreach (var (table, column) in pending)
        {
            var eventLog = table == "mt_events";
            if (eventLog && !await Scalar<bool>(connection, $"select pg_try_advisory_lock({Journeys.JourneyFigureIndex.AdvisoryLock})", ct))
            {
                deferred = true;
                continue;
            }
            try
            {
                await using var alter = new NpgsqlCommand(
                    $"alter table {Quote(schema)}.{Quote(table)} alter column {Quote(column)} set statistics 0", connection);
                await alter.ExecuteNonQueryAsync(ct);
                changed.Add($"{table}.{column}");
            }
            finally
            {
                if (eventLog) await Scalar<bool>(connection, $"select pg_advisory_unlock({Journeys.JourneyFigureIndex.AdvisoryLock})", CancellationToken.None);
            }
        }
        if (changed.Count > 0) LogChanged(changed.Count, string.Join(", ", changed), watch.Elapsed.TotalMilliseconds);

        // The tables whose row each visitor's event rewrites (its stream's version, its report document): PostgreSQL's
        // default analyzes them after a tenth of their rows changed, every few seconds under traffic, and each ANALYZE
        // took 0.1-0.2 s of a core in the same second as the outbox's (docs/benchmarks-log.md, twenty-sixth session). They
        // are read by key, or by columns whose spread a turnover does not change: once per full turnover is enough.
        var turnover = new List<string>();
        await using (var find = new NpgsqlCommand(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = @schema and c.relname = any(@tables) " +
            $"and not coalesce(c.reloptions, '{{}}') @> array['{RarelyAnalyzed}'] order by 1", connection))
        {
            find.Parameters.AddWithValue("schema", schema);
            find.Parameters.AddWithValue("tables", TurnoverTables);
            await using var reader = await find.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) turnover.Add(reader.GetString(0));
        }
        foreach (var table in turnover)
        {
            // SHARE UPDATE EXCLUSIVE, as for the columns: appends and reads go on.
            await using var alter = new NpgsqlCommand($"alter table {Quote(schema)}.{Quote(table)} set ({RarelyAnalyzed})", connection);
            await alter.ExecuteNonQueryAsync(ct);
        }
        if (turnover.Count > 0) LogAnalyzedRarely(string.Join(", ", turnover));
        return new Outcome([.. changed, .. turnover], deferred);
    }

    /// <summary>The tables analyzed once per full turnover of their rows, and the storage parameter that says so.</summary>
    public static readonly string[] TurnoverTables = ["mt_streams", "mt_doc_reportvisitor"];

    public const string RarelyAnalyzed = "autovacuum_analyze_scale_factor=1";

    private static async Task<T> Scalar<T>(NpgsqlConnection connection, string sql, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync(ct))!;
    }

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    [LoggerMessage(Level = LogLevel.Information, Message = "Planner statistics off for {Count} JSON body columns ({Columns}) in {Ms:0} ms: no query compares a whole body, and gathering them was most of an ANALYZE")]
    private partial void LogChanged(int count, string columns, double ms);

    [LoggerMessage(Level = LogLevel.Information, Message = "Autovacuum analyzes {Tables} once per full turnover of their rows, not after a tenth")]
    private partial void LogAnalyzedRarely(string tables);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not turn off the statistics of the JSON body columns (ANALYZE stays slower); trying again in {RetryAfter}")]
    private partial void LogFailed(Exception e, TimeSpan retryAfter);
}
