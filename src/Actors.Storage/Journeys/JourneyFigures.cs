using Marten;
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
/// journey id. Exact at every moment, at the cost of a query per read (fine for a dashboard's refresh; a reporting
/// projection can take over when the event log is large).
/// </summary>
public sealed class JourneyFigureReader(IDocumentStore store)
{
    private volatile bool _indexExists;

    public async Task<JourneyFigures> ReadAsync(string journeyId, CancellationToken ct = default)
    {
        var events = $"{store.Options.Events.DatabaseSchemaName}.mt_events";
        // A lightweight session: query sessions are read-only, and the first read creates the index.
        await using var session = store.LightweightSession();
        var connection = (NpgsqlConnection)session.Connection!;
        if (connection.State != System.Data.ConnectionState.Open) await connection.OpenAsync(ct);
        if (!_indexExists)
        {
            // One journey's events among all visitors' events: without it each read scans the whole log.
            await using var index = new NpgsqlCommand(
                $"create index if not exists ix_mt_events_journey on {events} ((data ->> 'JourneyId'), type) where data ? 'JourneyId'", connection);
            await index.ExecuteNonQueryAsync(ct);
            _indexExists = true;
        }

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
