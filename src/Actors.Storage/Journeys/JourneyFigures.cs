using System.Diagnostics;
using Marten;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Actors.Storage.Journeys;

/// <summary>A journey's figures: who entered, what was decided for them, how passages ended, and who is where now.</summary>
public sealed record JourneyFigures(
    string JourneyId,
    long Entered,
    long HeldOut,
    long MessagesSent,
    long MessagesDeferred,
    IReadOnlyDictionary<string, long> SuppressedByReason,
    long GoalsReached,
    long Converted,
    IReadOnlyDictionary<string, long> ExitedByReason,
    IReadOnlyDictionary<string, long> InStep,
    IReadOnlyDictionary<string, DeliveryFigures> DeliveryByStep);

/// <summary>What the channels reported for one step's messages: handed to the provider, given up, and the visitors' reactions.</summary>
public sealed record DeliveryFigures(long Sent, long Failed, long Delivered, long Bounced, long Opened, long Clicked);

/// <summary>
/// Figures read from the event log itself, so they always agree with the visitors' streams: the journey events are
/// decisions the grains stored (entries, message verdicts, goals, exits), counted by SQL over an expression index on the
/// journey id (<see cref="JourneyFigureIndex"/>). Exact at every moment, at the cost of a query per read (fine for a
/// dashboard's refresh; a reporting projection can take over when the event log is large).
/// </summary>
public sealed class JourneyFigureReader(IDocumentStore store)
{
    public async Task<JourneyFigures> ReadAsync(string journeyId, CancellationToken ct = default)
    {
        var events = $"{store.Options.Events.DatabaseSchemaName}.mt_events";
        await using var session = store.QuerySession();
        var connection = (NpgsqlConnection)session.Connection!;
        if (connection.State != System.Data.ConnectionState.Open) await connection.OpenAsync(ct);

        long entered = 0, heldOut = 0, sent = 0, deferred = 0, goals = 0, converted = 0;
        var suppressed = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var exited = new SortedDictionary<string, long>(StringComparer.Ordinal);
        await using (var counts = new NpgsqlCommand($"""
            select type,
                   case when type in ('message_decided', 'journey_exited') then data ->> 'Reason' end as reason,
                   data ->> 'Outcome' as outcome,
                   coalesce((data ->> 'HeldOut')::boolean, false) as held_out,
                   coalesce((data ->> 'WithinAttribution')::boolean, false) as within,
                   count(*)
              from {events}
             where data ? 'JourneyId' and data ->> 'JourneyId' = @journey
               and type in ('journey_entered', 'message_decided', 'journey_goal_reached', 'journey_exited')
             group by 1, 2, 3, 4, 5
            """, connection))
        {
            counts.Parameters.AddWithValue("journey", journeyId);
            await using var reader = await counts.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var (type, reason, outcome, held, within, n) =
                    (reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                     reader.GetBoolean(3), reader.GetBoolean(4), reader.GetInt64(5));
                switch (type)
                {
                    case "journey_entered":
                        entered += n;
                        if (held) heldOut += n;
                        break;
                    case "message_decided" when outcome == "Sent":
                        sent += n;
                        break;
                    case "message_decided" when outcome == "Deferred":
                        deferred += n;
                        break;
                    case "message_decided":
                        suppressed[reason ?? "unknown"] = suppressed.GetValueOrDefault(reason ?? "unknown") + n;
                        break;
                    case "journey_goal_reached":
                        goals += n;
                        if (within) converted += n;
                        break;
                    case "journey_exited":
                        exited[reason ?? "unknown"] = exited.GetValueOrDefault(reason ?? "unknown") + n;
                        break;
                }
            }
        }

        // Where visitors are now: each visitor's latest entry (which names the first step), step, goal or exit in this journey; a step still open counts.
        var inStep = new SortedDictionary<string, long>(StringComparer.Ordinal);
        await using (var steps = new NpgsqlCommand($"""
            select step, count(*) from (
                select distinct on (stream_id) type, data ->> 'StepId' as step
                  from {events}
                 where data ? 'JourneyId' and data ->> 'JourneyId' = @journey
                   and type in ('journey_entered', 'journey_step_taken', 'journey_goal_reached', 'journey_exited')
                 order by stream_id, seq_id desc) latest
             where type in ('journey_entered', 'journey_step_taken') and step is not null
             group by step
            """, connection))
        {
            steps.Parameters.AddWithValue("journey", journeyId);
            await using var reader = await steps.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) inStep[reader.GetString(0)] = reader.GetInt64(1);
        }

        // What the channels reported back, by step: outcome events carry the journey and step of their message.
        var delivery = new SortedDictionary<string, DeliveryFigures>(StringComparer.Ordinal);
        await using (var outcomes = new NpgsqlCommand($"""
            select coalesce(data ->> 'StepId', ''), type, count(distinct data ->> 'MessageKey')
              from {events}
             where data ? 'JourneyId' and data ->> 'JourneyId' = @journey
               and type in ('message_sent', 'message_failed', 'message_delivered', 'message_bounced', 'message_opened', 'message_clicked')
             group by 1, 2
            """, connection))
        {
            outcomes.Parameters.AddWithValue("journey", journeyId);
            await using var reader = await outcomes.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var (step, type, n) = (reader.GetString(0), reader.GetString(1), reader.GetInt64(2));
                var f = delivery.GetValueOrDefault(step) ?? new DeliveryFigures(0, 0, 0, 0, 0, 0);
                delivery[step] = type switch
                {
                    "message_sent" => f with { Sent = f.Sent + n },
                    "message_failed" => f with { Failed = f.Failed + n },
                    "message_delivered" => f with { Delivered = f.Delivered + n },
                    "message_bounced" => f with { Bounced = f.Bounced + n },
                    "message_opened" => f with { Opened = f.Opened + n },
                    _ => f with { Clicked = f.Clicked + n },
                };
            }
        }

        return new JourneyFigures(journeyId, entered, heldOut, sent, deferred, suppressed, goals, converted, exited, inStep, delivery);
    }
}

/// <summary>
/// The index the figures read one journey's events by. Built when the node starts, in the background, and concurrently:
/// the figures' first read used to build it with a plain CREATE INDEX, whose lock on the event log stops every append
/// for as long as the build takes (minutes on a large log), and which every node's first read took again, if briefly.
/// CREATE INDEX CONCURRENTLY lets appends go on; an advisory lock keeps two nodes from building it at once, and a build
/// left invalid (a node stopped in the middle) is dropped and built again. Until it is valid the figures are still
/// right, only slower (a scan).
/// </summary>
public sealed partial class JourneyFigureIndex(IDocumentStore store, ILogger<JourneyFigureIndex> logger) : Postgres.StartupStep
{
    public const string Name = "ix_mt_events_journey";
    public const long AdvisoryLock = 0x4163746f72734a49; // "ActorsJI": one builder at a time across the cluster (held for the whole build)

    protected override Task RunAsync(CancellationToken ct) => EnsureAsync(ct);

    protected override void Failed(Exception e, TimeSpan retryAfter) => LogFailed(e, retryAfter);

    /// <summary>Makes sure the index exists and is valid; true when this call built it.</summary>
    public async Task<bool> EnsureAsync(CancellationToken ct)
    {
        var schema = store.Options.Events.DatabaseSchemaName;
        var dataSource = Streams.MartenSetup.DataSourceOf(store);
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        async Task<bool?> ValidAsync()
        {
            await using var command = new NpgsqlCommand(
                "select i.indisvalid from pg_index i join pg_class c on c.oid = i.indexrelid join pg_namespace n on n.oid = c.relnamespace " +
                "where c.relname = @name and n.nspname = @schema", connection);
            command.Parameters.AddWithValue("name", Name);
            command.Parameters.AddWithValue("schema", schema);
            return await command.ExecuteScalarAsync(ct) is bool valid ? valid : null;
        }
        async Task Execute(string sql, CancellationToken token)
        {
            await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 }; // a build takes as long as the log is large
            await command.ExecuteNonQueryAsync(token);
        }

        if (await ValidAsync() == true) return false;
        await Execute($"select pg_advisory_lock({AdvisoryLock})", ct);
        try
        {
            var valid = await ValidAsync(); // another node may have built it meanwhile
            if (valid == true) return false;
            if (valid == false)
            {
                LogDroppingInvalid(Name);
                await Execute($"drop index concurrently if exists {schema}.{Name}", ct);
            }
            LogBuilding(Name);
            var watch = Stopwatch.StartNew();
            await Execute($"create index concurrently if not exists {Name} on {schema}.mt_events ((data ->> 'JourneyId'), type) where data ? 'JourneyId'", ct);
            LogBuilt(Name, watch.Elapsed.TotalSeconds);
            return true;
        }
        finally
        {
            // Even when stopping: the pooled connection's reset would release it too, but not before it is reused.
            await Execute($"select pg_advisory_unlock({AdvisoryLock})", CancellationToken.None);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Building index {Index} on the event log for journey figures, concurrently (appends go on)")]
    private partial void LogBuilding(string index);

    [LoggerMessage(Level = LogLevel.Information, Message = "Index {Index} built in {Seconds:0.0} s")]
    private partial void LogBuilt(string index, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Index {Index} was left invalid by an interrupted build: dropping it to build it again")]
    private partial void LogDroppingInvalid(string index);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not build the journey figures index (figures stay right, only slower); trying again in {RetryAfter}")]
    private partial void LogFailed(Exception e, TimeSpan retryAfter);
}
