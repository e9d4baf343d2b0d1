using System.Text.Json;
using System.Threading.Channels;
using Actors.Domain.Channels;
using Actors.Domain.Tracking;
using Actors.Storage.Streams;
using Marten;
using Npgsql;
using NpgsqlTypes;
using Weasel.Postgresql;
using Weasel.Postgresql.Tables;

namespace Actors.Storage.Channels;

/// <summary>One outbox entry as the dispatcher sees it.</summary>
/// <param name="WasInFlight">The entry was claimed before and its lease ran out: a node died while sending it, so the
/// provider may already have it (the one window no dispatcher can close; see README "Delivery guarantee").</param>
public sealed record OutboxEntry(OutboundMessage Message, int Attempts, bool WasInFlight);

/// <summary>One outbox row's identity and state.</summary>
public sealed record OutboxRow(string MessageKey, string ProfileId, string Channel, string Status, string? JourneyId, string? StepId);

/// <summary>A finished entry whose outcome the visitor's stream has not been told yet.</summary>
/// <param name="Status">sent, failed or bounced.</param>
public sealed record UnreportedOutcome(string MessageKey, string ProfileId, string Channel, string Status, string? ProviderId, string? Error, int Attempts, string? JourneyId, string? StepId);

/// <summary>
/// The messages decided to be sent, in PostgreSQL. A row is inserted in the same transaction as the visitor's
/// <c>message_decided</c> event (see <see cref="Stage"/>), so a decision without its row (or a row without its decision)
/// cannot exist; the message key is the primary key, so a decision replayed or retried is one row.
/// States: pending → sending (claimed with a lease) → sent | failed | bounced, or back to pending with a later due time.
/// A row belongs to one of 1024 buckets (a stable hash of its key); the shard that serves it is bucket mod shards,
/// so the number of shards can change without moving rows.
/// The message itself (about 1 KB of JSON: the recipient, their cart, recommendations) is written once, to
/// <see cref="BodyTableName"/>, in the same statement as its row: the row is updated three times (claimed, finished,
/// reported) and PostgreSQL writes the whole row again each time, so with the message inside, each update put it in the
/// WAL once more. The row's own <c>message</c> column holds <c>{}</c> for them; rows stored before the split keep their
/// message there, and every reader takes the body's message, else the row's.
/// </summary>
public sealed class OutboxStore(NpgsqlDataSource dataSource, string schema) : IAsyncDisposable
{
    public const string TableName = "message_outbox";

    /// <summary>The messages, one row per key, inserted with their outbox row and never updated (but by an erasure).</summary>
    public const string BodyTableName = "message_outbox_body";

    /// <summary>Most finished rows marked in one statement.</summary>
    public const int MaxFinishBatch = 256;

    private sealed record Finish(string MessageKey, string Status, string? ProviderId, string? Error, DateTimeOffset At, TaskCompletionSource<bool> Done);

    private readonly Channel<Finish> _finishes = Channel.CreateUnbounded<Finish>(new UnboundedChannelOptions { SingleReader = true });
    private Task? _finisher;
    private readonly Lock _finisherGate = new();
    public const int Buckets = 1024;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private string Table => $"{schema}.{TableName}";
    private string Body => $"{schema}.{BodyTableName}";

    /// <summary>SQL for a row's message, given the outbox row's alias and the body's (joined with LEFT JOIN on the key).</summary>
    public static string MessageOf(string row, string body) => $"coalesce({body}.message, {row}.message)";

    /// <summary>The messages' table, created and updated with the outbox.</summary>
    public static Table BodyDefinition(string schema)
    {
        var table = new Table(new PostgresqlObjectName(schema, BodyTableName, SchemaUtils.IdentifierUsage.General));
        table.AddColumn<string>("message_key").AsPrimaryKey();
        table.AddColumn("message", "jsonb").NotNull();
        // Read only by key: planner statistics are never needed, and autovacuum's ANALYZE of it (a sample of 30,000
        // bodies, every tenth of growth) took a core for half a second beside the shop's traffic, every few seconds
        // while messages are sent (docs/benchmarks-log.md, twenty-sixth session). Vacuums still run.
        table.WithAutovacuum(analyzeThreshold: int.MaxValue);
        return table;
    }

    /// <summary>
    /// The table, created and updated with Marten's other schema objects; its claim index is built for
    /// <paramref name="shards"/> (a claim by another count is still right, only without that index).
    /// </summary>
    public static Table Definition(string schema, int shards)
    {
        var table = new Table(new PostgresqlObjectName(schema, TableName, SchemaUtils.IdentifierUsage.General));
        table.AddColumn<string>("message_key").AsPrimaryKey();
        table.AddColumn<string>("channel").NotNull();
        table.AddColumn<int>("bucket").NotNull();
        table.AddColumn<string>("profile_id").NotNull();
        table.AddColumn("message", "jsonb").NotNull();
        table.AddColumn<string>("status").NotNull();
        table.AddColumn<int>("attempts").NotNull().DefaultValue(0);
        table.AddColumn("due_at", "timestamp with time zone").NotNull();
        table.AddColumn("created_at", "timestamp with time zone").NotNull();
        table.AddColumn("finished_at", "timestamp with time zone");
        table.AddColumn<string>("provider_id");
        table.AddColumn<string>("last_error");
        table.AddColumn<bool>("reported").NotNull().DefaultValueByExpression("false");
        // Which of a shard's due rows it claims first (PriorityOf): rows stored before the column count as marketing.
        table.AddColumn("priority", "smallint").NotNull().DefaultValueByExpression(MarketingPriority.ToString(System.Globalization.CultureInfo.InvariantCulture));
        // What a shard claims: open rows of its channel and shard by due time. Finished rows leave the index. With the
        // shard in the key, a claim reads its own rows only: on (channel, due_at) alone each of 8 shards read and
        // filtered out the other shards' rows from the heap (460 rows for a claim of 64 with 10,000 waiting). Priority
        // before due time: the order a claim takes them in.
        table.Indexes.Add(new IndexDefinition($"ix_{TableName}_due")
        {
            Columns = ["channel", ShardOf(shards), "priority", "due_at"], Predicate = OpenRows,
        });
        // Outcomes not yet written into the visitors' streams, per channel in the order the sweep reads them: every row
        // passes through this index for a moment (finished, then reported), so it is mostly dead entries between two
        // vacuums. An ordered index scan skips those it has found dead before; the bitmap scan the planner took on
        // (finished_at) alone visited every one's heap page on every sweep (10 ms for 12,000 after a 10,000-visitor trigger).
        table.Indexes.Add(new IndexDefinition($"ix_{TableName}_unreported_by_channel") { Columns = ["channel", "finished_at"], Predicate = UnreportedRows });
        // A queue table: each row is updated three times within a second of its insert (claimed, finished, reported), so
        // it makes dead rows at three times the send rate. Vacuumed after 1,000 of them, not after a fifth of the table,
        // so the claim and the sweep keep finding their rows through short indexes. Analyzed once per turnover of its
        // messages only (four changes each: the insert and three updates): the claim and the sweep go by their partial
        // indexes whatever the statistics say (OutboxFinishTests), and an ANALYZE every 10 s under traffic cost 0.05-0.19 s
        // of a core each time and made every backend plan the outbox's statements again; the requests of its second were
        // the slow ones (docs/benchmarks-log.md, twenty-sixth session).
        table.WithAutovacuum(vacuumThreshold: 1_000, vacuumScaleFactor: 0.02, analyzeThreshold: 1_000, analyzeScaleFactor: 4);
        return table;
    }

    // The indexes' predicates written as PostgreSQL prints them back (pg_get_indexdef, a fixed point): Weasel compares
    // its DDL with that text, and "status in ('pending', 'sending')" read as different, so every start of a node
    // dropped and rebuilt both indexes.
    private const string OpenRows = "(status)::text = ANY (ARRAY[('pending'::character varying)::text, ('sending'::character varying)::text])";
    private const string UnreportedRows = "(reported = false) AND ((status)::text = ANY (ARRAY[('sent'::character varying)::text, " +
        "('failed'::character varying)::text, ('bounced'::character varying)::text]))";

    /// <summary>
    /// A row's shard among <paramref name="shards"/> as SQL, written the same way in the index and in the claim so that
    /// the planner matches the two: a literal, not a parameter (a prepared statement's generic plan would not match).
    /// </summary>
    private static string ShardOf(int shards) => $"(bucket % {Math.Max(1, shards).ToString(System.Globalization.CultureInfo.InvariantCulture)})";

    public const short TransactionalPriority = 0;
    public const short MarketingPriority = 1;
    public const short BulkPriority = 2;

    /// <summary>
    /// The order in which a shard claims its due rows, before their due times: transactional messages (an order's
    /// confirmation, a password reset) first, then the marketing messages a visitor's own behaviour brought (a cart
    /// reminder, a welcome), then bulk ones (<see cref="OutboundMessage.Bulk"/>: a marketer's trigger or broadcast). A
    /// trigger for a segment of 100,000 queues 100,000 emails at once; behind them, at a provider's rate limit of a few
    /// dozen a second, a confirmation or a cart reminder decided a moment later would wait for hours.
    /// </summary>
    public static short PriorityOf(OutboundMessage message) =>
        message.Kind == nameof(Actors.Domain.Journeys.MessageKind.Transactional) ? TransactionalPriority
        : message.Bulk ? BulkPriority
        : MarketingPriority;

    /// <summary>FNV-1a over the key's UTF-16 code units: stable across processes and versions (string.GetHashCode is not).</summary>
    public static int BucketOf(string messageKey)
    {
        var hash = 2166136261u;
        foreach (var c in messageKey) hash = (hash ^ c) * 16777619u;
        return (int)(hash % Buckets);
    }

    /// <summary>
    /// Adds the rows to the unit of work that appends their decisions (same transaction), as one statement however
    /// many there are: a trigger's batch of appends carries hundreds, and a statement each cost more than the rows.
    /// </summary>
    public static void Stage(IDocumentSession session, string schema, IReadOnlyList<OutboundMessage> messages) =>
        Statement(schema, messages)?.QueueIn(session);

    /// <summary>The rows' INSERT as one statement (null for none), for the batch that appends their decisions.</summary>
    public static BatchStatement? Statement(string schema, IReadOnlyList<OutboundMessage> messages)
    {
        if (messages.Count == 0) return null;
        var keys = new string[messages.Count];
        var channels = new string[messages.Count];
        var buckets = new int[messages.Count];
        var profiles = new string[messages.Count];
        var bodies = new string[messages.Count];
        var decided = new DateTimeOffset[messages.Count];
        var priorities = new short[messages.Count];
        for (var i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            keys[i] = m.MessageKey;
            channels[i] = m.Channel;
            buckets[i] = BucketOf(m.MessageKey);
            profiles[i] = m.ProfileId;
            bodies[i] = JsonSerializer.Serialize(m, Json);
            decided[i] = m.DecidedAt;
            priorities[i] = PriorityOf(m);
        }
        // A key twice in one statement is skipped like one already stored (DO NOTHING, unlike DO UPDATE, allows it); the
        // body goes in only for the rows this statement inserted, so a retried decision keeps the message first stored.
        return new BatchStatement(BatchStatement.Text.For("outbox-insert", schema, static schema =>
            "with u as (select * from unnest(?::varchar[], ?::varchar[], ?::int[], ?::varchar[], ?::text[], ?::timestamptz[], ?::smallint[]) " +
            "as u(key, channel, bucket, profile, body, decided, priority)), " +
            $"inserted as (insert into {schema}.{TableName} (message_key, channel, bucket, profile_id, message, status, due_at, created_at, priority) " +
            "select u.key, u.channel, u.bucket, u.profile, '{}'::jsonb, 'pending', u.decided, u.decided, u.priority from u " +
            "order by u.key on conflict (message_key) do nothing returning message_key) " +
            $"insert into {schema}.{BodyTableName} (message_key, message) " +
            "select distinct on (u.key) u.key, u.body::jsonb from u join inserted i on i.message_key = u.key " +
            "order by u.key on conflict (message_key) do nothing"),
            [keys, channels, buckets, profiles, bodies, decided, priorities]);
    }

    /// <summary>
    /// Marks reported, in the transaction that appends them, the rows whose outcome these events put into the visitor's
    /// stream (null when none do): the report and its mark commit together, in the append's round trip, instead of an
    /// UPDATE of its own after it. A row is marked only if its status is the one the event records, so a bounce a
    /// provider reports later (through the visitor's events) never marks a row whose "sent" is not in the stream yet.
    /// </summary>
    public static BatchStatement? ReportedStatement(string schema, IEnumerable<VisitorEvent> events)
    {
        List<string>? keys = null, statuses = null;
        foreach (var e in events)
        {
            var (key, status) = e switch
            {
                MessageSent m => (m.MessageKey, "sent"),
                MessageFailed m => (m.MessageKey, "failed"),
                MessageBounced m => (m.MessageKey, "bounced"),
                _ => (null, null),
            };
            if (key is null) continue;
            (keys ??= []).Add(key);
            (statuses ??= []).Add(status!);
        }
        if (keys is null) return null;
        return new BatchStatement(BatchStatement.Text.For("outbox-reported", schema, static schema =>
            $"update {schema}.{TableName} o set reported = true from unnest(?::varchar[], ?::varchar[]) as r(key, status) " +
            "where o.message_key = r.key and o.status = r.status and not o.reported"),
            [keys.ToArray(), statuses!.ToArray()]);
    }

    /// <summary>
    /// Claims due rows of one shard, tier by tier (<see cref="PriorityOf"/>), then by due time: each is marked
    /// sending, with a lease until <paramref name="leaseUntil"/>; rows whose lease ran out (their node died mid-send) are
    /// due again. SKIP LOCKED keeps two claimers off the same rows.
    /// The update finds the claimed rows by their keys as one array (a primary key lookup each): joined to the claim alone,
    /// the planner hashed it against a scan of the whole outbox, sent rows included (5 of a claim's 10 ms at 10,000 rows).
    /// Only tiers up to <paramref name="lowestTier"/> are claimed (<see cref="MarketingPriority"/> leaves bulk rows
    /// waiting); the claim index's range stops there, so the rows left behind are not read.
    /// </summary>
    public async Task<IReadOnlyList<OutboxEntry>> ClaimAsync(string channel, int shard, int shards, DateTimeOffset now, DateTimeOffset leaseUntil, int limit,
        CancellationToken ct = default, short lowestTier = BulkPriority)
    {
        await using var command = dataSource.CreateCommand($"""
            with due as (
                select message_key, status as was from {Table}
                 where channel = @channel and status in ('pending', 'sending') and {ShardOf(shards)} = @shard and priority <= @tier and due_at <= @now
                 order by priority, due_at
                 limit @limit
                   for update skip locked),
            claimed as (
                update {Table} o set status = 'sending', attempts = o.attempts + 1, due_at = @lease
                  from due where o.message_key = due.message_key and o.message_key = any(array(select message_key from due))
                returning o.message_key, o.message, o.attempts, due.was)
            select {MessageOf("c", "b")}::text, c.attempts, c.was
              from claimed c left join {Body} b on b.message_key = c.message_key
            """);
        command.Parameters.AddWithValue("channel", channel);
        command.Parameters.AddWithValue("now", now);
        command.Parameters.AddWithValue("shard", shard);
        command.Parameters.AddWithValue("limit", limit);
        command.Parameters.AddWithValue("lease", leaseUntil);
        command.Parameters.AddWithValue("tier", lowestTier);
        var claimed = new List<OutboxEntry>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            // The text's UTF-8 bytes as they came (the row is buffered): read as a string, each body was first widened to
            // UTF-16 only for the parser to narrow it back.
            OutboundMessage message;
            await using (var body = reader.GetStream(0)) message = JsonSerializer.Deserialize<OutboundMessage>(body, Json)!;
            claimed.Add(new OutboxEntry(message, reader.GetInt32(1), reader.GetString(2) == "sending"));
        }
        return claimed;
    }

    /// <summary>The provider took it. Only a row still in flight is finished (a row another claimer finished stays as it is).</summary>
    public Task<bool> MarkSentAsync(string messageKey, string? providerId, DateTimeOffset at, CancellationToken ct = default) =>
        FinishAsync(messageKey, "sent", providerId, null, at, ct);

    public Task<bool> MarkFailedAsync(string messageKey, string error, DateTimeOffset at, CancellationToken ct = default) =>
        FinishAsync(messageKey, "failed", null, error, at, ct);

    /// <summary>The address does not exist: failed, and told apart so the visitor's stream records a bounce.</summary>
    public Task<bool> MarkBouncedAsync(string messageKey, string error, DateTimeOffset at, CancellationToken ct = default) =>
        FinishAsync(messageKey, "bounced", null, error, at, ct);

    /// <summary>
    /// Group commit for finished rows: every row marked while the previous statement ran goes in the next one (one
    /// transaction for all), so the dispatchers' sends in flight cost a round trip and a commit together instead of
    /// one each. A caller still returns only once its row is marked durably; nothing waits for a batch to fill, so the
    /// window between the provider's acceptance and the mark (README, "the delivery guarantee") stays one statement wide.
    /// </summary>
    private Task<bool> FinishAsync(string messageKey, string status, string? providerId, string? error, DateTimeOffset at, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var finish = new Finish(messageKey, status, providerId, Truncate(error), at, new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_finishes.Writer.TryWrite(finish)) throw new ObjectDisposedException(nameof(OutboxStore));
        if (_finisher is null) lock (_finisherGate) _finisher ??= Task.Run(FinishLoopAsync);
        return finish.Done.Task;
    }

    private async Task FinishLoopAsync()
    {
        var batch = new List<Finish>(MaxFinishBatch);
        while (await _finishes.Reader.WaitToReadAsync())
        {
            while (batch.Count < MaxFinishBatch && _finishes.Reader.TryRead(out var next)) batch.Add(next);
            try
            {
                var marked = await MarkFinishedAsync(batch);
                // A key twice in one batch (two claimers of a row whose lease ran out): only its first finish counts,
                // as when they came one after the other.
                var answered = new HashSet<string>(StringComparer.Ordinal);
                foreach (var f in batch) f.Done.TrySetResult(answered.Add(f.MessageKey) && marked.Contains(f.MessageKey));
            }
            catch (Exception e)
            {
                foreach (var f in batch) f.Done.TrySetException(e);
            }
            batch.Clear();
        }
    }

    private async Task<HashSet<string>> MarkFinishedAsync(List<Finish> batch)
    {
        // "is not distinct from", not "=": the same test for a column that is never null, but one from which the planner
        // cannot prove the claim index's predicate (status in ('pending', 'sending')). With "=", statistics taken while
        // few rows were in flight made it walk that whole index, every pending row of every channel, and compare keys
        // (0.36 ms a statement while 10,000 rows waited); now it can only look each key up by the primary key.
        await using var command = dataSource.CreateCommand($"""
            update {Table} o set status = f.status, finished_at = f.at, provider_id = f.provider, last_error = f.error
              from unnest(@keys, @statuses, @ats, @providers, @errors) as f(key, status, at, provider, error)
             where o.message_key = f.key and o.status is not distinct from 'sending'
            returning o.message_key
            """);
        command.Parameters.Add(new NpgsqlParameter("keys", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = batch.Select(f => f.MessageKey).ToArray() });
        command.Parameters.Add(new NpgsqlParameter("statuses", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = batch.Select(f => f.Status).ToArray() });
        command.Parameters.Add(new NpgsqlParameter("ats", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = batch.Select(f => f.At.ToUniversalTime()).ToArray() });
        command.Parameters.Add(new NpgsqlParameter("providers", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = batch.Select(f => f.ProviderId).ToArray() });
        command.Parameters.Add(new NpgsqlParameter("errors", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = batch.Select(f => f.Error).ToArray() });
        var marked = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) marked.Add(reader.GetString(0));
        return marked;
    }

    public async ValueTask DisposeAsync()
    {
        _finishes.Writer.TryComplete();
        if (_finisher is { } finisher) await finisher;
    }

    /// <summary>A transient failure: pending again, due after the backoff.</summary>
    public async Task RetryLaterAsync(string messageKey, string error, DateTimeOffset dueAt, CancellationToken ct = default)
    {
        await using var command = dataSource.CreateCommand(
            // "is not distinct from": looked up by its key, never through the claim index (see MarkFinishedAsync).
            $"update {Table} set status = 'pending', due_at = @due, last_error = @error where message_key = @key and status is not distinct from 'sending'");
        command.Parameters.AddWithValue("due", dueAt);
        command.Parameters.AddWithValue("error", Truncate(error)!);
        command.Parameters.AddWithValue("key", messageKey);
        await command.ExecuteNonQueryAsync(ct);
    }

    public async Task MarkReportedAsync(IReadOnlyCollection<string> messageKeys, CancellationToken ct = default)
    {
        if (messageKeys.Count == 0) return;
        await using var command = dataSource.CreateCommand($"update {Table} set reported = true where message_key = any(@keys)");
        command.Parameters.AddWithValue("keys", messageKeys.ToArray());
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Finished rows of one shard whose outcome is not in the visitor's stream yet (a node died between the two), oldest first.</summary>
    public async Task<IReadOnlyList<UnreportedOutcome>> UnreportedAsync(string channel, int shard, int shards, DateTimeOffset finishedBefore, int limit, CancellationToken ct = default)
    {
        await using var command = dataSource.CreateCommand($"""
            select o.message_key, o.profile_id, o.channel, o.status, o.provider_id, o.last_error, o.attempts,
                   {MessageOf("o", "b")} ->> 'journeyId', {MessageOf("o", "b")} ->> 'stepId'
              from (select * from {Table}
                     where reported = false and status in ('sent', 'failed', 'bounced') and finished_at < @before and channel = @channel and bucket % @shards = @shard
                     order by finished_at limit @limit) o
              left join {Body} b on b.message_key = o.message_key
             order by o.finished_at
            """);
        command.Parameters.AddWithValue("before", finishedBefore);
        command.Parameters.AddWithValue("channel", channel);
        command.Parameters.AddWithValue("shards", shards);
        command.Parameters.AddWithValue("shard", shard);
        command.Parameters.AddWithValue("limit", limit);
        var found = new List<UnreportedOutcome>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            found.Add(new UnreportedOutcome(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetInt32(6),
                reader.IsDBNull(7) ? null : reader.GetString(7), reader.IsDBNull(8) ? null : reader.GetString(8)));
        }
        return found;
    }

    /// <summary>Whose message a key is, as the outbox has it (for receipts a provider sends later); null for an unknown key.</summary>
    public async Task<OutboxRow?> FindAsync(string messageKey, CancellationToken ct = default)
    {
        await using var command = dataSource.CreateCommand(
            $"select o.profile_id, o.channel, o.status, {MessageOf("o", "b")} ->> 'journeyId', {MessageOf("o", "b")} ->> 'stepId' " +
            $"from {Table} o left join {Body} b on b.message_key = o.message_key where o.message_key = @key");
        command.Parameters.AddWithValue("key", messageKey);
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return null;
        return new OutboxRow(messageKey, reader.GetString(0), reader.GetString(1), reader.GetString(2),
            reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4));
    }

    /// <summary>Counts by channel and status (for operators and tests).</summary>
    public async Task<IReadOnlyDictionary<(string Channel, string Status), long>> CountsAsync(CancellationToken ct = default)
    {
        await using var command = dataSource.CreateCommand($"select channel, status, count(*) from {Table} group by 1, 2");
        var counts = new Dictionary<(string, string), long>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) counts[(reader.GetString(0), reader.GetString(1))] = reader.GetInt64(2);
        return counts;
    }

    private static string? Truncate(string? error) => error is { Length: > 1000 } ? error[..1000] : error;
}
