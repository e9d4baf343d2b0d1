using System.Text.Json;
using System.Text.Json.Nodes;
using Actors.Domain.Tracking;
using Actors.Storage.Channels;
using Actors.Storage.Streams;
using Npgsql;

namespace Actors.Storage.Privacy;

/// <summary>A message the outbox holds for a person, as their export shows it.</summary>
public sealed record HeldMessage(string MessageKey, string Channel, string Status, int Attempts, DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt, JsonElement Message);

/// <summary>The outbox rows an erasure masked, and the keys of the emails among them (their files go too).</summary>
public sealed record ErasedRows(int OutboxRowsMasked, IReadOnlyList<string> EmailKeys);

/// <summary>
/// The person's data in the tables beside their streams: masking their events in place (right to erasure) and the
/// outbox rows a person's export lists. Every step is an idempotent UPDATE keyed by the profile ids, so an erasure that
/// crashed midway is repeated whole.
/// </summary>
public sealed class PersonalDataStore(NpgsqlDataSource dataSource, EventStoreSettings settings)
{
    private string Schema => settings.Schema;

    /// <summary>Event types whose bodies carry what the person said or typed, and the fields that carry it.</summary>
    private static readonly Dictionary<string, (string Field, JsonNode? Masked)[]> Rules = new(StringComparer.Ordinal)
    {
        [EventNames.Identified] = [("traits", null)],
        [EventNames.AttributesUpdated] = [("attributes", null)],
        [EventNames.BehaviourTracked] = [("properties", null)],
        [EventNames.PageViewed] = [("name", null), ("url", null), ("referrer", null)],
        [EventNames.ProductsSearched] = [("query", "")],
        [EventNames.MessageClicked] = [("url", "")],
        [EventNames.PushSubscribed] = [("endpoint", ""), ("p256dh", ""), ("auth", "")],
        [EventNames.PushUnsubscribed] = [("endpoint", "")],
        [EventNames.NewsletterUnsubscribed] = [("reason", null)],
        [EventNames.ProfilesMerged] = [("reason", null)],
        [EventNames.MergedInto] = [("reason", null)],
        [EventNames.ProfilesUnmerged] = [("reason", "")],
        [EventNames.MergeUndone] = [("reason", "")],
    };

    /// <summary>Keys never rewritten by the catch-all pass: what Marten and the fold need to read an event back.</summary>
    private static readonly HashSet<string> Structural = new(StringComparer.OrdinalIgnoreCase)
    {
        "$type", "messageId", "eventTime", "receivedTime", "clientTime", "userId", "sourceProfileId", "targetProfileId",
        "alias", "previousProfileId", "nextProfileId", "messageKey", "journeyId", "segmentId", "stepId", "channel",
        "currency", "outcome", "kind", "from", "to", "actor", "leadKind", "stage", "template", "sku", "orderId",
    };

    /// <summary>
    /// Rewrites the bodies of the streams' events before their last <see cref="ProfileErased"/> in place (what came after
    /// belongs to the fresh profile): the fields above are emptied, and any other text that
    /// holds one of the person's own values (their traits and attributes, gathered first) is emptied too. Types,
    /// versions, times, order ids and amounts stay, so counts and revenue read the same. Keys match case-insensitively
    /// (Marten's serializer decides the casing). Repeating it changes nothing more.
    /// </summary>
    public async Task<int> MaskEventsAsync(IReadOnlyCollection<string> streamIds, CancellationToken ct = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var rows = new List<(long Seq, string Type, JsonObject Data)>();
        await using (var read = new NpgsqlCommand($"""
            select e.seq_id, e.type, e.data::text from {Schema}.mt_events e
             where e.stream_id = any(@ids)
               and e.version < (select coalesce(max(m.version), 0) from {Schema}.mt_events m where m.stream_id = e.stream_id and m.type = '{EventNames.ProfileErased}')
             for update
            """, connection, transaction))
        {
            read.Parameters.AddWithValue("ids", streamIds.ToArray());
            await using var reader = await read.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                if (JsonNode.Parse(reader.GetString(2)) is JsonObject data) rows.Add((reader.GetInt64(0), reader.GetString(1), data));
            }
        }

        // The person's own values, wherever else they were copied (a segment's reason, a generic event's name).
        var personal = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (_, type, data) in rows)
        {
            if (type is not (EventNames.Identified or EventNames.AttributesUpdated or EventNames.BehaviourTracked)) continue;
            foreach (var (key, value) in data)
            {
                if (key.Equals("$type", StringComparison.Ordinal) || value is not JsonObject bag) continue;
                foreach (var (_, v) in bag)
                {
                    if (v is JsonValue jv && jv.TryGetValue<string>(out var s) && LooksPersonal(s.Trim())) personal.Add(s.Trim());
                }
            }
        }

        var masked = 0;
        foreach (var (seq, type, data) in rows)
        {
            var before = data.ToJsonString();
            if (Rules.TryGetValue(type, out var rules))
            {
                foreach (var (field, replacement) in rules)
                {
                    var key = data.Select(p => p.Key).FirstOrDefault(k => k.Equals(field, StringComparison.OrdinalIgnoreCase));
                    if (key is null) continue;
                    data[key] = replacement?.DeepClone() ?? (data[key] is JsonObject ? new JsonObject() : null);
                }
            }
            if (personal.Count > 0) Scrub(data, personal);
            var after = data.ToJsonString();
            if (after == before) continue;
            await using var write = new NpgsqlCommand($"update {Schema}.mt_events set data = @data::jsonb where seq_id = @seq", connection, transaction);
            write.Parameters.AddWithValue("data", after);
            write.Parameters.AddWithValue("seq", seq);
            await write.ExecuteNonQueryAsync(ct);
            masked++;
        }
        await transaction.CommitAsync(ct);
        return masked;
    }

    private static void Scrub(JsonNode node, HashSet<string> personal)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var key in o.Select(p => p.Key).ToList())
                {
                    if (Structural.Contains(key) || o[key] is not { } child) continue;
                    if (child is JsonValue v && v.TryGetValue<string>(out var s)) { if (Holds(s, personal)) o[key] = ""; }
                    else Scrub(child, personal);
                }
                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    if (a[i] is JsonValue v && v.TryGetValue<string>(out var s)) { if (Holds(s, personal)) a[i] = ""; }
                    else if (a[i] is { } child) Scrub(child, personal);
                }
                break;
        }
    }

    /// <summary>
    /// Never a time or a number (a date or an amount of the event must stay readable), and never an enum's value (those
    /// keys are structural): a text leaf holding one of the person's values is emptied.
    /// </summary>
    private static bool Holds(string text, HashSet<string> personal) =>
        !DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out _)
        && !decimal.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _)
        && personal.Any(p => text.Contains(p, StringComparison.OrdinalIgnoreCase));

    /// <summary>A value worth looking for elsewhere: a name, an address, a phone number; not "gold", "true" or "12".</summary>
    private static bool LooksPersonal(string value) =>
        value.Length >= 5 && (value.Any(char.IsLetter) || value.Count(char.IsAsciiDigit) >= 7);

    /// <summary>
    /// The outbox rows of the profiles: the recipient (addresses, attributes, cart) is replaced by the profile id and
    /// provider errors (which may quote the address) go. Rows not sent yet are closed as failed ("erased") and marked
    /// reported, so nothing goes out and no outcome is written back. The rows stay: journey figures count them.
    /// Returns the keys of the email rows (their .eml files, if any, go too).
    /// </summary>
    public async Task<ErasedRows> MaskOutboxAsync(IReadOnlyCollection<string> profileIds, CancellationToken ct = default)
    {
        // The message is in the body table (a row stored before the split has it in its own column, where the body has none).
        await using var command = dataSource.CreateCommand($"""
            with masked as (
                update {Schema}.{OutboxStore.TableName}
                   set message = case when message ? 'recipient' then jsonb_set(message, @path, jsonb_build_object('profileId', profile_id, 'erased', true)) else message end,
                       last_error = case when status in ('pending', 'sending') then 'erased' else null end,
                       reported = case when status in ('pending', 'sending') then true else reported end,
                       finished_at = case when status in ('pending', 'sending') then now() else finished_at end,
                       status = case when status in ('pending', 'sending') then 'failed' else status end
                 where profile_id = any(@ids)
                   -- decided before the erasure: what the profile decided since is the fresh profile's
                   and created_at <= (select max(m.timestamp) from {Schema}.mt_events m where m.stream_id = profile_id and m.type = '{EventNames.ProfileErased}')
                returning message_key, channel, profile_id),
            bodies as (
                update {Schema}.{OutboxStore.BodyTableName} b
                   set message = jsonb_set(b.message, @path, jsonb_build_object('profileId', m.profile_id, 'erased', true))
                  from masked m where b.message_key = m.message_key)
            select message_key, channel from masked
            """);
        command.Parameters.AddWithValue("ids", profileIds.ToArray());
        command.Parameters.AddWithValue("path", new[] { "recipient" });
        var rows = 0;
        var emails = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            rows++;
            if (reader.GetString(1) == "email") emails.Add(reader.GetString(0));
        }
        return new ErasedRows(rows, emails);
    }

    /// <summary>
    /// The reports' copy of the address (the drill-down lists show it). The daemon clears it as well when it reaches the
    /// erasure marker; this removes it now rather than when the daemon catches up. Returns the documents changed.
    /// </summary>
    public async Task<int> ForgetInReportsAsync(IReadOnlyCollection<string> profileIds, CancellationToken ct = default)
    {
        await using var command = dataSource.CreateCommand($"""
            update {Schema}.{ReportVisitorTable}
               set data = data - 'Email' - 'email'
             where id = any(@ids) and (data ? 'Email' or data ? 'email')
            """);
        command.Parameters.AddWithValue("ids", profileIds.ToArray());
        try
        {
            return await command.ExecuteNonQueryAsync(ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return 0; // no report was ever projected on this database
        }
    }

    /// <summary>Marten's table of <see cref="Reporting.ReportVisitor"/> documents.</summary>
    private const string ReportVisitorTable = "mt_doc_reportvisitor";

    /// <summary>
    /// Closes the profiles' messages not yet claimed by a sender (failed, "erased", reported), so nothing new goes to the
    /// person while the erasure runs. A message already being sent may still arrive. Returns how many were closed.
    /// </summary>
    public async Task<int> CancelPendingAsync(IReadOnlyCollection<string> profileIds, CancellationToken ct = default)
    {
        await using var command = dataSource.CreateCommand($"""
            update {Schema}.{OutboxStore.TableName}
               set status = 'failed', last_error = 'erased', reported = true, finished_at = now()
             where profile_id = any(@ids) and status = 'pending'
            """);
        command.Parameters.AddWithValue("ids", profileIds.ToArray());
        return await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The outbox rows of the profiles, newest first (a person's export).</summary>
    public async Task<IReadOnlyList<HeldMessage>> MessagesAsync(IReadOnlyCollection<string> profileIds, CancellationToken ct = default)
    {
        await using var command = dataSource.CreateCommand($"""
            select o.message_key, o.channel, o.status, o.attempts, o.created_at, o.finished_at, {OutboxStore.MessageOf("o", "b")}::text
              from {Schema}.{OutboxStore.TableName} o left join {Schema}.{OutboxStore.BodyTableName} b on b.message_key = o.message_key
             where o.profile_id = any(@ids) order by o.created_at desc
            """);
        command.Parameters.AddWithValue("ids", profileIds.ToArray());
        var found = new List<HeldMessage>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            using var message = JsonDocument.Parse(reader.GetString(6));
            found.Add(new HeldMessage(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3),
                reader.GetFieldValue<DateTimeOffset>(4), reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5), message.RootElement.Clone()));
        }
        return found;
    }
}
