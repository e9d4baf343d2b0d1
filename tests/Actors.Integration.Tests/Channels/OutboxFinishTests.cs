using System.Text.Json;
using Actors.Domain.Channels;
using Actors.Integration.Tests.Support;
using Actors.Storage.Channels;
using Actors.Storage.Streams;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Actors.Integration.Tests.Channels;

/// <summary>Finished rows are marked in groups (one statement for the sends that finished together), each caller still told whether its row was the one in flight.</summary>
public class OutboxFinishTests : IAsyncLifetime
{
    private EventStoreDatabase _database = null!;
    private string _connectionString = "";
    private ServiceProvider _services = null!;
    private NpgsqlDataSource _db = null!;
    private OutboxStore Outbox => _services.GetRequiredService<OutboxStore>();

    public async Task InitializeAsync()
    {
        _database = await EventStoreDatabase.CreateAsync(nameof(OutboxFinishTests), new EventStoreSettings { RunProjections = false });
        (_connectionString, _services) = (_database.ConnectionString, _database.Services);
        _db = NpgsqlDataSource.Create(_connectionString);
    }

    public async Task DisposeAsync()
    {
        await _db.DisposeAsync();
        await _database.DisposeAsync();
    }

    private async Task StageAsync(IEnumerable<string> keys, string status)
    {
        foreach (var key in keys)
        {
            await using var command = _db.CreateCommand(
                $"insert into actors.{OutboxStore.TableName} (message_key, channel, bucket, profile_id, message, status, due_at, created_at) values ($1, 'email', 0, 'p', '{{}}', $2, now(), now())");
            command.Parameters.AddWithValue(key);
            command.Parameters.AddWithValue(status);
            await command.ExecuteNonQueryAsync();
        }
    }

    /// <summary>Transactions that wrote since the last call (each takes a transaction id; so does this query, one).</summary>
    private async Task<long> WritingTransactionsAsync()
    {
        await using var command = _db.CreateCommand("select pg_current_xact_id()::text::bigint");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task A_row_stored_before_the_message_table_keeps_its_own_message_for_the_claim_the_lookup_the_sweep_and_the_export()
    {
        // Before the messages moved to their own table, a row held its message itself; such rows are still delivered.
        var legacy = new OutboundMessage("legacy|j-old|3|s-old|1", "p-legacy", "email", "welcome", null, null, "marketing", "j-old", 3, "s-old",
            DateTimeOffset.UtcNow, new MessageRecipient("p-legacy", "u-1", "legacy@shop.test", null, "lead", new Dictionary<string, string>(), [], [], [], null));
        await using (var command = _db.CreateCommand(
            $"insert into actors.{OutboxStore.TableName} (message_key, channel, bucket, profile_id, message, status, due_at, created_at) values ($1, 'email', 0, 'p-legacy', $2::jsonb, 'pending', now(), now())"))
        {
            command.Parameters.AddWithValue(legacy.MessageKey);
            command.Parameters.AddWithValue(JsonSerializer.Serialize(legacy, new JsonSerializerOptions(JsonSerializerDefaults.Web)));
            await command.ExecuteNonQueryAsync();
        }

        var claimed = Assert.Single(await Outbox.ClaimAsync("email", 0, 1, DateTimeOffset.UtcNow.AddSeconds(1), DateTimeOffset.UtcNow.AddMinutes(1), 10));
        Assert.Equal((legacy.MessageKey, "legacy@shop.test", "j-old", 3), (claimed.Message.MessageKey, claimed.Message.Recipient.Email, claimed.Message.JourneyId, claimed.Message.JourneyVersion));
        var found = await Outbox.FindAsync(legacy.MessageKey);
        Assert.Equal(("p-legacy", "sending", "j-old", "s-old"), (found!.ProfileId, found.Status, found.JourneyId, found.StepId));

        Assert.True(await Outbox.MarkFailedAsync(legacy.MessageKey, "refused", DateTimeOffset.UtcNow.AddMinutes(-1)));
        var unreported = Assert.Single(await Outbox.UnreportedAsync("email", 0, 1, DateTimeOffset.UtcNow, 10));
        Assert.Equal((legacy.MessageKey, "failed", "j-old", "s-old"), (unreported.MessageKey, unreported.Status, unreported.JourneyId, unreported.StepId));
        var exported = Assert.Single(await new Actors.Storage.Privacy.PersonalDataStore(_db, new EventStoreSettings()).MessagesAsync(["p-legacy"]));
        Assert.Equal("legacy@shop.test", exported.Message.GetProperty("recipient").GetProperty("email").GetString());
    }

    [Fact]
    public async Task Sends_that_finish_together_are_marked_in_a_few_statements_and_each_caller_learns_its_row_was_marked()
    {
        var keys = Enumerable.Range(0, 300).Select(i => $"k-{i}-{Guid.NewGuid():N}").ToList();
        await StageAsync(keys, "sending");
        var before = await WritingTransactionsAsync();

        var at = DateTimeOffset.UtcNow;
        var marked = await Task.WhenAll(keys.Select((k, i) => (i % 3) switch
        {
            0 => Outbox.MarkSentAsync(k, $"provider-{i}", at),
            1 => Outbox.MarkFailedAsync(k, "refused", at),
            _ => Outbox.MarkBouncedAsync(k, "no such user", at),
        }));

        Assert.All(marked, Assert.True);
        var commits = await WritingTransactionsAsync() - before - 1;
        Assert.True(commits is > 0 and < 60, $"{commits} writing transactions for 300 finished rows");
        await using var command = _db.CreateCommand($"select message_key, status, provider_id, last_error, finished_at from actors.{OutboxStore.TableName}");
        await using var reader = await command.ExecuteReaderAsync();
        var rows = 0;
        while (await reader.ReadAsync())
        {
            var i = keys.IndexOf(reader.GetString(0));
            Assert.Equal((i % 3) switch { 0 => "sent", 1 => "failed", _ => "bounced" }, reader.GetString(1));
            Assert.Equal(i % 3 == 0 ? $"provider-{i}" : null, reader.IsDBNull(2) ? null : reader.GetString(2));
            Assert.Equal((i % 3) switch { 0 => null, 1 => "refused", _ => "no such user" }, reader.IsDBNull(3) ? null : reader.GetString(3));
            Assert.Equal(at.ToUnixTimeMilliseconds(), reader.GetFieldValue<DateTimeOffset>(4).ToUnixTimeMilliseconds());
            rows++;
        }
        Assert.Equal(300, rows);
    }

    [Fact]
    public async Task Only_a_row_in_flight_is_finished_and_of_two_finishes_of_one_row_only_the_first_counts()
    {
        var twice = $"twice-{Guid.NewGuid():N}";
        var pending = $"pending-{Guid.NewGuid():N}";
        await StageAsync([twice], "sending");
        await StageAsync([pending], "pending");

        var results = await Task.WhenAll(Outbox.MarkSentAsync(twice, "first", DateTimeOffset.UtcNow), Outbox.MarkFailedAsync(twice, "second", DateTimeOffset.UtcNow));
        Assert.Equal([true, false], results);
        Assert.False(await Outbox.MarkSentAsync(pending, "x", DateTimeOffset.UtcNow));
        Assert.False(await Outbox.MarkSentAsync(twice, "third", DateTimeOffset.UtcNow));

        await using var command = _db.CreateCommand($"select message_key, status, provider_id from actors.{OutboxStore.TableName} order by message_key");
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new Dictionary<string, (string, string?)>();
        while (await reader.ReadAsync()) rows[reader.GetString(0)] = (reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2));
        Assert.Equal(("pending", null), rows[pending]);
        Assert.Equal(("sent", "first"), rows[twice]);
    }

    [Fact]
    public async Task The_outbox_is_vacuumed_after_a_thousand_dead_rows_and_an_older_database_loses_its_sweep_index_for_the_per_channel_one()
    {
        async Task<List<string>> IndexesAsync()
        {
            await using var command = _db.CreateCommand($"select indexname from pg_indexes where schemaname = 'actors' and tablename = '{OutboxStore.TableName}' order by 1");
            var names = new List<string>();
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync()) names.Add(reader.GetString(0));
            return names;
        }

        await using (var command = _db.CreateCommand($"select array_to_string(reloptions, ',') from pg_class where oid = 'actors.{OutboxStore.TableName}'::regclass"))
        {
            var options = ((string)(await command.ExecuteScalarAsync())!).Split(',');
            Assert.Contains("autovacuum_vacuum_threshold=1000", options);
            Assert.Contains("autovacuum_vacuum_scale_factor=0.02", options);
            Assert.Contains("autovacuum_analyze_threshold=1000", options);
        }
        Assert.Contains("ix_message_outbox_unreported_by_channel", await IndexesAsync());

        // A database created before the index named its channel, and with the default vacuum thresholds.
        await using (var command = _db.CreateCommand($"""
            drop index actors.ix_message_outbox_unreported_by_channel;
            create index ix_message_outbox_unreported on actors.{OutboxStore.TableName} (finished_at) where reported = false and status in ('sent', 'failed', 'bounced');
            alter table actors.{OutboxStore.TableName} reset (autovacuum_vacuum_threshold, autovacuum_vacuum_scale_factor, autovacuum_analyze_threshold, autovacuum_analyze_scale_factor);
            """))
            await command.ExecuteNonQueryAsync();
        await _services.GetRequiredService<IDocumentStore>().Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        var indexes = await IndexesAsync();
        Assert.Contains("ix_message_outbox_unreported_by_channel", indexes);
        Assert.DoesNotContain("ix_message_outbox_unreported", indexes);
        await using (var command = _db.CreateCommand($"select array_to_string(reloptions, ',') from pg_class where oid = 'actors.{OutboxStore.TableName}'::regclass"))
            Assert.Contains("autovacuum_vacuum_threshold=1000", ((string?)await command.ExecuteScalarAsync() ?? "").Split(','));

        // The sweep still finds what it must: an unreported row of the channel and shard, not one of another channel.
        await StageAsync(["sweep-email"], "failed");
        await using (var command = _db.CreateCommand($"""
            update actors.{OutboxStore.TableName} set finished_at = now() - interval '1 minute' where message_key = 'sweep-email';
            insert into actors.{OutboxStore.TableName} (message_key, channel, bucket, profile_id, message, status, due_at, created_at, finished_at)
                 values ('sweep-sms', 'sms', 0, 'p', jsonb_build_object(), 'failed', now(), now(), now() - interval '1 minute');
            """))
            await command.ExecuteNonQueryAsync();
        var found = await Outbox.UnreportedAsync("email", 0, 1, DateTimeOffset.UtcNow.AddSeconds(-10), 500);
        Assert.Equal("sweep-email", Assert.Single(found).MessageKey);
    }

    [Fact]
    public async Task Finishing_looks_each_row_up_by_its_key_while_thousands_wait_even_under_statistics_taken_when_none_did()
    {
        // Statistics taken while nothing was in flight (as after a quiet hour), then a trigger's thousands pending: the
        // planner believes the claim index holds one row.
        await using (var command = _db.CreateCommand($"""
            insert into actors.{OutboxStore.TableName} (message_key, channel, bucket, profile_id, message, status, due_at, created_at, finished_at)
                 select 'done-' || i, 'email', i % 1024, 'p', jsonb_build_object(), 'sent', now(), now(), now() from generate_series(1, 2000) i;
            analyze actors.{OutboxStore.TableName};
            insert into actors.{OutboxStore.TableName} (message_key, channel, bucket, profile_id, message, status, due_at, created_at)
                 select 'waiting-' || i, 'email', i % 1024, 'p', jsonb_build_object(), 'pending', now(), now() from generate_series(1, 5000) i;
            """))
            await command.ExecuteNonQueryAsync();
        var keys = Enumerable.Range(0, 4).Select(i => $"in-flight-{i}").ToList();
        await StageAsync([.. keys, "in-flight-retried"], "sending");

        // One connection, so its own statistics can be flushed and read back at once.
        await using var source = NpgsqlDataSource.Create(_connectionString + ";Maximum Pool Size=1");
        await using var outbox = new OutboxStore(source, "actors");
        async Task<long> ClaimIndexEntriesReadAsync()
        {
            await using (var flush = source.CreateCommand("select pg_stat_force_next_flush()")) await flush.ExecuteNonQueryAsync();
            await using (var clear = source.CreateCommand("select pg_stat_clear_snapshot()")) await clear.ExecuteNonQueryAsync();
            await using var read = source.CreateCommand($"select idx_tup_read from pg_stat_user_indexes where indexrelname = 'ix_{OutboxStore.TableName}_due'");
            return (long)(await read.ExecuteScalarAsync())!;
        }

        var before = await ClaimIndexEntriesReadAsync();
        var marked = await Task.WhenAll(keys.Select(k => outbox.MarkSentAsync(k, "provider-" + k, DateTimeOffset.UtcNow)));
        await outbox.RetryLaterAsync("in-flight-retried", "HTTP 503", DateTimeOffset.UtcNow.AddMinutes(1));
        var read = await ClaimIndexEntriesReadAsync() - before;

        Assert.All(marked, Assert.True);
        Assert.Equal("pending", (await outbox.FindAsync("in-flight-retried"))!.Status);
        Assert.True(read < 100, $"finishing 4 rows and putting one back read {read:N0} entries of the claim index (5,005 rows wait in it)");
    }
}
