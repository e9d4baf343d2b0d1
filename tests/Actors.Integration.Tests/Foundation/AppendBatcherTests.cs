using Actors.Domain.Tracking;
using Actors.Integration.Tests.Support;
using Actors.Storage.Streams;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Actors.Integration.Tests.Foundation;

public class AppendBatcherTests : IAsyncLifetime
{
    private EventStoreDatabase _database = null!;
    private string _connectionString = "";
    private ServiceProvider _services = null!;
    private AppendBatcher Batcher => _services.GetRequiredService<AppendBatcher>();

    public async Task InitializeAsync()
    {
        _database = await EventStoreDatabase.CreateAsync(nameof(AppendBatcherTests), new EventStoreSettings { MaxAppendBatch = 64, AppendWriters = 2 });
        (_connectionString, _services) = (_database.ConnectionString, _database.Services);
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();

    private static VisitorEvent View(int i) =>
        new ProductViewed($"sku-{i}", "shoes", null, 1m) { MessageId = Guid.NewGuid().ToString(), EventTime = DateTimeOffset.UtcNow, ReceivedTime = DateTimeOffset.UtcNow };

    [Fact]
    public async Task Appends_from_many_visitors_at_once_are_all_stored_in_order()
    {
        var ids = Enumerable.Range(0, 300).Select(i => $"batch-{i}-{Guid.NewGuid():N}").ToList();
        for (var round = 0; round < 3; round++)
            await Task.WhenAll(ids.Select(id => Batcher.AppendAsync(id, round * 2, [View(round), View(round + 100)])));

        foreach (var id in ids.Take(20))
        {
            var events = await Batcher.ReadAsync(id, new EventQuery(1, 100));
            Assert.Equal([1L, 2, 3, 4, 5, 6], events.Select(e => e.Version));
            Assert.Equal(["sku-0", "sku-100", "sku-1", "sku-101", "sku-2", "sku-102"], events.Select(e => ((ProductViewed)e.Event).Sku));
        }
    }

    /// <summary>
    /// The order in which appends were stored (their events' sequence numbers), by a batcher of its own with one writer
    /// (so commits happen one batch at a time). The events table is locked while they are queued, so the writer stores
    /// nothing until all of them are in its queues. Both matter on a busy machine: the writer used to commit several
    /// before the last one was queued, and the order in which the callers' continuations ran was not the order of the
    /// commits.
    /// </summary>
    private async Task<List<string>> StoredOrderAsync(int maxBatch, Func<AppendBatcher, string, IEnumerable<(Task Append, string Name, string StreamId)>> enqueue)
    {
        var services = new ServiceCollection().AddLogging(b => b.SetMinimumLevel(LogLevel.Warning)).AddSingleton(TimeProvider.System);
        services.AddActorsEventStore(_connectionString, new EventStoreSettings { MaxAppendBatch = maxBatch, AppendWriters = 1 });
        await using var provider = services.BuildServiceProvider();
        List<(Task Append, string Name, string StreamId)> appends;
        await using (var gate = new Npgsql.NpgsqlConnection(_connectionString))
        {
            await gate.OpenAsync();
            await using var hold = await gate.BeginTransactionAsync();
            await using (var command = new Npgsql.NpgsqlCommand("lock table actors.mt_events in exclusive mode", gate, hold))
                await command.ExecuteNonQueryAsync();
            appends = enqueue(provider.GetRequiredService<AppendBatcher>(), Guid.NewGuid().ToString("N")[..8]).ToList();
            await hold.RollbackAsync();
        }
        await Task.WhenAll(appends.Select(a => a.Append));

        var names = appends.ToDictionary(a => a.StreamId, a => a.Name);
        await using var data = Npgsql.NpgsqlDataSource.Create(_connectionString);
        await using var read = data.CreateCommand("select stream_id from actors.mt_events where stream_id = any($1) order by seq_id");
        read.Parameters.AddWithValue(names.Keys.ToArray());
        var order = new List<string>();
        await using var reader = await read.ExecuteReaderAsync();
        while (await reader.ReadAsync()) order.Add(names[reader.GetString(0)]);
        return order;
    }

    [Fact]
    public async Task The_append_statement_is_prepared_on_its_connection_after_two_uses_and_stays_prepared()
    {
        // One writer appending one visitor after another uses one pooled connection; the server's own list of that
        // session's prepared statements must name the append procedure, else every batch is parsed and planned again.
        var services = new ServiceCollection().AddLogging(b => b.SetMinimumLevel(LogLevel.Warning)).AddSingleton(TimeProvider.System);
        services.AddActorsEventStore(_connectionString, new EventStoreSettings { MaxAppendBatch = 8, AppendWriters = 1 });
        await using var provider = services.BuildServiceProvider();
        var batcher = provider.GetRequiredService<AppendBatcher>();
        var id = $"prepared-{Guid.NewGuid():N}";
        for (var i = 0; i < 4; i++) await batcher.AppendAsync(id, i, [View(i)]);

        var store = (DocumentStore)provider.GetRequiredService<IDocumentStore>();
        var dataSource = ((Weasel.Postgresql.PostgresqlDatabase)store.Storage.Database).DataSource;
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var command = new Npgsql.NpgsqlCommand("select statement from pg_prepared_statements where not from_sql", connection);
        var prepared = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
            while (await reader.ReadAsync()) prepared.Add(reader.GetString(0));
        Assert.Contains(prepared, s => s.Contains("append_visitor_streams", StringComparison.Ordinal));

        // Still correct on the prepared path: the stream has the four events in order, and more appends go on.
        for (var i = 4; i < 8; i++) await batcher.AppendAsync(id, i, [View(i)]);
        var events = await batcher.ReadAsync(id, new EventQuery(1, 100));
        Assert.Equal(Enumerable.Range(0, 8).Select(i => $"sku-{i}"), events.Select(e => ((ProductViewed)e.Event).Sku));
    }

    [Fact]
    public async Task An_append_a_request_waits_for_is_stored_before_background_appends_queued_ahead_of_it_and_all_are_stored()
    {
        var run = "";
        var order = await StoredOrderAsync(1, (batcher, r) =>
        {
            run = r;
            return [.. Enumerable.Range(0, 60).Select(i => (batcher.AppendInBackgroundAsync($"bg-{r}-{i}", 0, [View(i)]), $"bg-{i}", $"bg-{r}-{i}")),
                (batcher.AppendAsync($"fg-{r}", 0, [View(1000)]), "request", $"fg-{r}")];
        });

        // The writer may hold one background append already (or two: the one it commits and the one it took next).
        Assert.InRange(order.IndexOf("request"), 0, 2);
        Assert.Equal(61, order.Count);
        Assert.Single(await Batcher.ReadAsync($"fg-{run}", new EventQuery(1, 10)));
        foreach (var i in new[] { 0, 30, 59 }) Assert.Single(await Batcher.ReadAsync($"bg-{run}-{i}", new EventQuery(1, 10)));
    }

    [Theory]
    [InlineData(3, 40, 64, 3, 0)]    // a few requests: none of the reports that gathered rides with them
    [InlineData(0, 40, 64, 0, 40)]   // no request waiting: a batch of background appends alone
    [InlineData(0, 100, 64, 0, 64)]
    [InlineData(100, 40, 64, 56, 8)] // requests fill the batch: the background keeps its last eighth
    [InlineData(50, 40, 64, 50, 0)]  // short of seven eighths: still none
    [InlineData(100, 0, 64, 64, 0)]  // nothing in the background: the requests take its eighth too
    public void A_batch_takes_background_appends_only_when_requests_fill_it_or_none_are_waiting(int requests, int background, int max, int takenRequests, int takenBackground)
    {
        var fg = System.Threading.Channels.Channel.CreateUnbounded<string>();
        var bg = System.Threading.Channels.Channel.CreateUnbounded<string>();
        for (var i = 0; i < requests; i++) fg.Writer.TryWrite("request");
        for (var i = 0; i < background; i++) bg.Writer.TryWrite("background");
        var batch = new List<string>();

        AppendBatcher.TakeBatch(fg.Reader, bg.Reader, max, batch);

        Assert.Equal((takenRequests, takenBackground), (batch.Count(b => b == "request"), batch.Count(b => b == "background")));
        Assert.True(batch.Count <= max);
    }

    [Fact]
    public async Task A_flood_of_requests_leaves_an_eighth_of_each_batch_to_background_appends()
    {
        var order = await StoredOrderAsync(8, (batcher, r) =>
            [.. Enumerable.Range(0, 120).Select(i => (batcher.AppendAsync($"fg-{r}-{i}", 0, [View(i)]), $"fg-{i}", $"fg-{r}-{i}")),
                (batcher.AppendInBackgroundAsync($"bg-{r}", 0, [View(1000)]), "background", $"bg-{r}")]);

        // Strict priority would store it last (121st); with a slot of each batch kept for it, in the first batches.
        Assert.InRange(order.IndexOf("background"), 0, 23);
        Assert.Equal(121, order.Count);
    }

    [Fact]
    public async Task A_batch_writes_the_rows_Marten_writes_and_Marten_appends_after_them()
    {
        var marten = _services.GetRequiredService<MartenVisitorStreams>();
        var byBatch = $"by-batch-{Guid.NewGuid():N}";
        var byMarten = $"by-marten-{Guid.NewGuid():N}";
        var at = DateTimeOffset.Parse("2026-11-30T10:00:00Z");
        VisitorEvent[] events =
        [
            new PageViewed("Home", null, "https://shop.test/?q=ü", null) { MessageId = "m1", EventTime = at, ReceivedTime = at },
            new ProductViewed("sku-1", "shoes", "Runner", 59.5m) { MessageId = "m2", EventTime = at, ReceivedTime = at },
            new ConsentGiven("email", "marketing") { MessageId = "m3", EventTime = at, ReceivedTime = at },
        ];
        await Batcher.AppendAsync(byBatch, 0, events[..2]);
        await Batcher.AppendAsync(byBatch, 2, events[2..]);
        await marten.AppendAsync(byMarten, 0, events[..2]);
        await marten.AppendAsync(byMarten, 2, events[2..]);
        // Marten appends after the batch's rows, and the batch after Marten's.
        var fourth = View(4);
        await marten.AppendAsync(byBatch, 3, [fourth]);
        await Batcher.AppendAsync(byMarten, 3, [fourth]);

        const string rows = "select e.version, e.type, e.mt_dotnet_type, e.tenant_id, e.is_archived, e.data::text, s.version, coalesce(s.type, ''), s.tenant_id, s.is_archived " +
            "from actors.mt_events e join actors.mt_streams s on s.id = e.stream_id where e.stream_id = $1 order by e.version";
        await using var db = Npgsql.NpgsqlDataSource.Create(_connectionString);
        async Task<List<string>> Rows(string stream)
        {
            await using var command = db.CreateCommand(rows);
            command.Parameters.AddWithValue(stream);
            await using var reader = await command.ExecuteReaderAsync();
            var found = new List<string>();
            while (await reader.ReadAsync())
                found.Add(string.Join(" | ", Enumerable.Range(0, reader.FieldCount).Select(i => Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture))));
            return found;
        }
        var fromBatch = await Rows(byBatch);
        var fromMarten = await Rows(byMarten);
        Assert.Equal(4, fromBatch.Count);
        Assert.Equal(fromMarten, fromBatch);
        var loaded = await Batcher.LoadAsync(byBatch);
        Assert.Equal(4, loaded.Version);
        Assert.Equal((await Batcher.LoadAsync(byMarten)).Version, loaded.Version);
        var read = await Batcher.ReadAsync(byBatch, new EventQuery(1, 10));
        Assert.Equal(["page_viewed", "product_viewed", "consent_given", "product_viewed"], read.Select(e => e.Type));
        Assert.Equal("https://shop.test/?q=ü", ((PageViewed)read[0].Event).Url);

        // The batch's own event ids are version 7 UUIDs, each its own.
        await using var ids = db.CreateCommand("select id from actors.mt_events where stream_id = $1 and version <> 4");
        ids.Parameters.AddWithValue(byBatch);
        var stored = new List<Guid>();
        await using (var reader = await ids.ExecuteReaderAsync())
            while (await reader.ReadAsync()) stored.Add(reader.GetGuid(0));
        Assert.Equal(3, stored.Distinct().Count());
        Assert.All(stored, id => Assert.Equal(7, id.Version));
    }

    /// <summary>
    /// The batch statement's event ids (<see cref="EventIds"/>): laid out as <see cref="Guid.CreateVersion7(DateTimeOffset)"/>
    /// lays them out (milliseconds first, version 7, RFC 9562's variant), with random bits that keep ids of the same
    /// millisecond apart, and ordered by time.
    /// </summary>
    [Fact]
    public void Event_ids_are_version_7_uuids_with_their_millisecond_first_and_never_repeat()
    {
        var at = DateTimeOffset.Parse("2026-12-01T21:00:00.123Z", System.Globalization.CultureInfo.InvariantCulture);
        var ours = EventIds.NewVersion7(at);
        var runtime = Guid.CreateVersion7(at);
        Assert.Equal(7, ours.Version);
        Assert.InRange(ours.Variant, 0x8, 0xB); // 10xx: RFC 9562
        Assert.Equal(runtime.ToString("N")[..13], ours.ToString("N")[..13]); // the same 48-bit millisecond and version digit
        Assert.Equal(at.ToUnixTimeMilliseconds().ToString("x12", System.Globalization.CultureInfo.InvariantCulture), ours.ToString("N")[..12]);

        var sameMillisecond = Enumerable.Range(0, 100_000).Select(_ => EventIds.NewVersion7(at)).ToList();
        Assert.Equal(sameMillisecond.Count, sameMillisecond.Distinct().Count());
        Assert.All(sameMillisecond.Take(1000), id => Assert.Equal((7, ours.ToString("N")[..12]), (id.Version, id.ToString("N")[..12])));
        Assert.True(sameMillisecond.Select(id => id.ToString("N")[13..]).Distinct().Count() == sameMillisecond.Count, "the random bits differ");

        var later = EventIds.NewVersion7(at.AddMilliseconds(1));
        Assert.True(string.CompareOrdinal(ours.ToString("N"), later.ToString("N")) < 0, "a later millisecond sorts after");
    }

    [Fact]
    public async Task An_append_to_a_stream_that_moved_on_fails_alone_and_the_rest_of_the_batch_is_stored()
    {
        var contested = $"moved-{Guid.NewGuid():N}";
        await Batcher.AppendAsync(contested, 0, [View(1)]);
        await Batcher.AppendAsync(contested, 1, [View(2), View(3)]);

        var others = Enumerable.Range(0, 100).Select(i => $"beside-{i}-{Guid.NewGuid():N}").ToList();
        foreach (var id in others) await Batcher.AppendAsync(id, 0, [View(0)]);
        var stale = Batcher.AppendAsync(contested, 1, [View(9)]); // a writer that saw version 1 of 3
        var fine = others.Select(id => Batcher.AppendAsync(id, 1, [View(3)])).ToList();

        await Assert.ThrowsAsync<StreamConflictException>(() => stale);
        await Task.WhenAll(fine);
        Assert.Equal([1L, 2, 3], (await Batcher.ReadAsync(contested, new EventQuery(1, 10))).Select(e => e.Version));
        foreach (var id in others) Assert.Equal(2, (await Batcher.ReadAsync(id, new EventQuery(1, 10))).Count);
    }

    [Fact]
    public void Every_event_an_inline_projection_handles_goes_through_Marten()
    {
        var options = (StoreOptions)_services.GetRequiredService<IDocumentStore>().Options;
        var handled = options.Projections.All
            .Where(p => p.Lifecycle == JasperFx.Events.Projections.ProjectionLifecycle.Inline)
            .OfType<JasperFx.Events.Projections.EventFilterable>().SelectMany(p => p.IncludedEventTypes)
            .Where(t => typeof(VisitorEvent).IsAssignableFrom(t)).ToHashSet(); // not Marten's own (archived, compacted)
        Assert.NotEmpty(handled);
        Assert.True(handled.IsSubsetOf(StreamBatchWrite.InlineProjected), string.Join(", ", handled.Except(StreamBatchWrite.InlineProjected)));
    }

    [Fact]
    public async Task A_conflict_fails_only_its_own_append_and_the_rest_of_the_batch_is_stored()
    {
        var contested = $"contested-{Guid.NewGuid():N}";
        await Batcher.AppendAsync(contested, 0, [View(1)]);

        var others = Enumerable.Range(0, 100).Select(i => $"other-{i}-{Guid.NewGuid():N}").ToList();
        var stale = Batcher.AppendAsync(contested, 0, [View(2)]); // a second writer that missed version 1
        var fine = others.Select(id => Batcher.AppendAsync(id, 0, [View(3)])).ToList();

        await Assert.ThrowsAsync<StreamConflictException>(() => stale);
        await Task.WhenAll(fine);
        Assert.Single(await Batcher.ReadAsync(contested, new EventQuery(1, 10)));
        foreach (var id in others) Assert.Single(await Batcher.ReadAsync(id, new EventQuery(1, 10)));
    }

    [Fact]
    public async Task Data_the_server_refuses_fails_only_its_own_append_and_the_rest_of_the_batch_is_stored()
    {
        // jsonb refuses \u0000 (22P05): that append's fault, so the batch is split and only it fails.
        var poisoned = $"poisoned-{Guid.NewGuid():N}";
        var poison = new ProductViewed("sku-\0", "shoes", null, 1m) { MessageId = Guid.NewGuid().ToString(), EventTime = DateTimeOffset.UtcNow, ReceivedTime = DateTimeOffset.UtcNow };
        var others = Enumerable.Range(0, 100).Select(i => $"clean-{i}-{Guid.NewGuid():N}").ToList();
        var bad = Batcher.AppendAsync(poisoned, 0, [poison]);
        var fine = others.Select(id => Batcher.AppendAsync(id, 0, [View(3)])).ToList();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => bad);
        Assert.False(StoreFailures.IsTransient(error));
        Assert.True(StoreFailures.BlamesOneAppend(error), error.ToString());
        await Task.WhenAll(fine);
        Assert.Empty(await Batcher.ReadAsync(poisoned, new EventQuery(1, 10)));
        foreach (var id in others) Assert.Single(await Batcher.ReadAsync(id, new EventQuery(1, 10)));
    }

    [Fact]
    public async Task Loading_reads_a_new_stream_or_a_snapshot_at_the_head_in_one_round_trip_and_the_events_after_a_snapshot_in_a_second()
    {
        var id = $"load-{Guid.NewGuid():N}";
        var database = new Npgsql.NpgsqlConnectionStringBuilder(_connectionString).Database!;
        var streams = _services.GetRequiredService<MartenVisitorStreams>();

        var (fresh, trips) = await CountingRoundTrips(database, () => streams.LoadAsync(id));
        Assert.Equal(0, fresh.Version);
        Assert.Equal(1, trips);

        await Batcher.AppendAsync(id, 0, [View(1), View(2), View(3)]);
        var (three, tripsWithoutSnapshot) = await CountingRoundTrips(database, () => streams.LoadAsync(id));
        Assert.Equal(3, three.Version);
        Assert.Equal(2, tripsWithoutSnapshot);

        await Batcher.SaveSnapshotAsync(three);
        var (atHead, tripsAtHead) = await CountingRoundTrips(database, () => streams.LoadAsync(id));
        Assert.Equal(3, atHead.Version);
        Assert.Equal(1, tripsAtHead);

        await Batcher.AppendAsync(id, 3, [View(4), View(5)]);
        var (five, tripsBehind) = await CountingRoundTrips(database, () => streams.LoadAsync(id));
        Assert.Equal(5, five.Version);
        Assert.Equal(5, five.ActivityCount);
        Assert.Equal(2, tripsBehind);

        // Through the batcher (what grains use): the head's lookup (shared with other activations), then the snapshot
        // with the stream's last events in one round trip.
        var (loaded, tripsThroughBatcher) = await CountingRoundTrips(database, () => Batcher.LoadAsync(id));
        Assert.Equal(5, loaded.Version);
        Assert.Equal(5, loaded.ActivityCount);
        Assert.Equal(2, tripsThroughBatcher);
    }

    [Fact]
    public async Task A_stream_whose_snapshot_is_older_than_the_last_events_read_with_it_still_loads_whole()
    {
        // No snapshot and more events than SnapshotEvery (100): the events before the window are read next.
        var id = $"long-{Guid.NewGuid():N}";
        await Batcher.AppendAsync(id, 0, [.. Enumerable.Range(0, 150).Select(View)]);
        var loaded = await Batcher.LoadAsync(id);
        Assert.Equal(150, loaded.Version);
        Assert.Equal(150, loaded.ActivityCount);

        // A snapshot at 20, then 130 more: the same.
        await Batcher.AppendAsync(id + "-b", 0, [.. Enumerable.Range(0, 20).Select(View)]);
        await Batcher.SaveSnapshotAsync(await Batcher.LoadAsync(id + "-b"));
        await Batcher.AppendAsync(id + "-b", 20, [.. Enumerable.Range(0, 130).Select(View)]);
        var both = await Batcher.LoadAsync(id + "-b");
        Assert.Equal(150, both.Version);
        Assert.Equal(150, both.ActivityCount);
    }

    [Fact]
    public async Task New_visitors_loading_at_once_share_their_lookups_and_an_existing_stream_among_them_loads_whole()
    {
        var database = new Npgsql.NpgsqlConnectionStringBuilder(_connectionString).Database!;
        var existing = $"known-{Guid.NewGuid():N}";
        await Batcher.AppendAsync(existing, 0, [View(1), View(2)]);
        var ids = Enumerable.Range(0, 200).Select(i => $"fresh-{i}-{Guid.NewGuid():N}").Append(existing).ToList();

        var (profiles, trips) = await CountingRoundTrips(database, () => Task.WhenAll(ids.Select(id => Batcher.LoadAsync(id))));

        Assert.All(profiles.SkipLast(1), p => Assert.Equal(0, p.Version));
        Assert.Equal(2, profiles[^1].Version);
        Assert.Equal(existing, profiles[^1].ProfileId);
        // 201 loads one by one would be 201 round trips or more; grouped, a handful (the known stream's own reads included).
        Assert.True(trips <= 20, $"{trips} round trips for {ids.Count} loads");
    }

    [Fact]
    public async Task Outbox_rows_of_a_batch_are_stored_once_each_with_their_appends_and_a_key_seen_before_is_skipped()
    {
        var run = Guid.NewGuid().ToString("N");
        var ids = Enumerable.Range(0, 200).Select(i => $"outbox-{i}-{run}").ToList();
        var repeated = $"{ids[0]}|j1|1|s1|shared";

        // 200 appends at once (batches of up to 64), each with its message; the first two carry the same key as well,
        // so that key comes twice into one batch (or two), and it must end as one row.
        await Task.WhenAll(ids.Select((id, i) => Batcher.AppendAsync(id, 0, [View(i)],
            i < 2 ? [Message(id, $"{id}|j1|1|s1|1"), Message(id, repeated)] : [Message(id, $"{id}|j1|1|s1|1")])));
        // A retried decision writes the same key again later: still one row.
        await Batcher.AppendAsync(ids[5], 1, [View(5)], [Message(ids[5], $"{ids[5]}|j1|1|s1|1")]);

        await using var data = Npgsql.NpgsqlDataSource.Create(_connectionString);
        await using var rows = data.CreateCommand(
            // The message is in its own table, written once; the row that is updated holds none.
            $"select o.message_key, o.profile_id, o.status, o.bucket, b.message ->> 'channel' from actors.{Actors.Storage.Channels.OutboxStore.TableName} o " +
            $"join actors.{Actors.Storage.Channels.OutboxStore.BodyTableName} b on b.message_key = o.message_key where (o.message_key like '%' || @run || '%' or o.message_key like '%shared') and o.message = '{{}}'::jsonb");
        rows.Parameters.AddWithValue("run", run);
        var stored = new List<(string Key, string Profile, string Status, int Bucket, string Channel)>();
        await using (var reader = await rows.ExecuteReaderAsync())
            while (await reader.ReadAsync()) stored.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3), reader.GetString(4)));

        Assert.Equal(201, stored.Count);
        Assert.Equal(stored.Count, stored.Select(r => r.Key).Distinct().Count());
        Assert.All(stored, r => Assert.Equal(("pending", "email", Actors.Storage.Channels.OutboxStore.BucketOf(r.Key)), (r.Status, r.Channel, r.Bucket)));
        Assert.Contains(Assert.Single(stored, r => r.Key == repeated).Profile, ids[..2]);
        Assert.All(ids, id => Assert.Single(stored, r => r.Key == $"{id}|j1|1|s1|1"));
        Assert.Equal(2, (await Batcher.ReadAsync(ids[5], new EventQuery(1, 10))).Count);
    }

    [Fact]
    public async Task An_outcome_appended_marks_its_outbox_row_reported_in_the_same_commit_and_only_a_row_in_that_state()
    {
        var run = Guid.NewGuid().ToString("N");
        string Id(string name) => $"{name}-{run}";
        string Key(string name) => $"{Id(name)}|j1|1|s1|1";
        var names = new[] { "failed", "sent", "bounced-later", "marten", "conflict" };
        foreach (var name in names) await Batcher.AppendAsync(Id(name), 0, [View(1)], [Message(Id(name), Key(name))]);
        await using var data = Npgsql.NpgsqlDataSource.Create(_connectionString);
        var table = $"actors.{Actors.Storage.Channels.OutboxStore.TableName}";
        await using (var finish = data.CreateCommand(
            $"update {table} set status = case when message_key like 'failed%' or message_key like 'conflict%' then 'failed' else 'sent' end, finished_at = now() where message_key like '%' || @run || '%'"))
        {
            finish.Parameters.AddWithValue("run", run);
            Assert.Equal(5, await finish.ExecuteNonQueryAsync());
        }
        var now = DateTimeOffset.UtcNow;

        // Through the batch statement: a failure and a send each mark their row.
        await Task.WhenAll(
            Batcher.AppendAsync(Id("failed"), 1, [new MessageFailed(Key("failed"), "email", "no_email_address", 1) { MessageId = Guid.NewGuid().ToString(), EventTime = now, ReceivedTime = now }]),
            Batcher.AppendAsync(Id("sent"), 1, [new MessageSent(Key("sent"), "email", "p-1", 1) { MessageId = Guid.NewGuid().ToString(), EventTime = now, ReceivedTime = now }]));
        // A bounce reported later by the provider, for a row whose "sent" is not in the stream yet: not marked, or the
        // sweep would never put the "sent" there.
        await Batcher.AppendAsync(Id("bounced-later"), 1, [new MessageBounced(Key("bounced-later"), "email", "550", true) { MessageId = Guid.NewGuid().ToString(), EventTime = now, ReceivedTime = now }]);
        // Through Marten (the path of a batch an inline projection must see, and of appends retried one by one).
        await _services.GetRequiredService<MartenVisitorStreams>().AppendAsync(Id("marten"), 1, [new MessageSent(Key("marten"), "email", "p-2", 1) { MessageId = Guid.NewGuid().ToString(), EventTime = now, ReceivedTime = now }]);
        // An append that fails (its stream moved on) marks nothing.
        await Assert.ThrowsAsync<StreamConflictException>(() =>
            Batcher.AppendAsync(Id("conflict"), 5, [new MessageFailed(Key("conflict"), "email", "x", 1) { MessageId = Guid.NewGuid().ToString(), EventTime = now, ReceivedTime = now }]));

        await using var read = data.CreateCommand($"select message_key, reported from {table} where message_key like '%' || @run || '%'");
        read.Parameters.AddWithValue("run", run);
        var reported = new Dictionary<string, bool>();
        await using (var reader = await read.ExecuteReaderAsync())
            while (await reader.ReadAsync()) reported[reader.GetString(0)] = reader.GetBoolean(1);
        Assert.True(reported[Key("failed")]);
        Assert.True(reported[Key("sent")]);
        Assert.False(reported[Key("bounced-later")]);
        Assert.True(reported[Key("marten")]);
        Assert.False(reported[Key("conflict")]);
    }

    private static Actors.Domain.Channels.OutboundMessage Message(string profile, string key, string channel = "email") =>
        new(key, profile, channel, "welcome", null, null, "marketing", "j1", 1, "s1", DateTimeOffset.UtcNow,
            new Actors.Domain.Channels.MessageRecipient(profile, $"{profile}@shop.test", null, null, "lead", new Dictionary<string, string>(), [], [], [], null));

    [Fact]
    public async Task An_outbox_row_the_server_refuses_takes_its_append_with_it_and_the_rest_of_the_batch_is_stored()
    {
        // A decision must never be stored without its row: the append and the outbox INSERT are two statements of one
        // batch, which PostgreSQL commits or rolls back together. A constraint of the test's own refuses one row.
        await using var data = Npgsql.NpgsqlDataSource.Create(_connectionString);
        await using (var refuse = data.CreateCommand($"alter table actors.{Actors.Storage.Channels.OutboxStore.TableName} add constraint refused_by_test check (channel <> 'refused')"))
            await refuse.ExecuteNonQueryAsync();
        var run = Guid.NewGuid().ToString("N");
        var refused = $"refused-{run}";
        var others = Enumerable.Range(0, 100).Select(i => $"kept-{i}-{run}").ToList();

        var bad = Batcher.AppendAsync(refused, 0, [View(1)], [Message(refused, $"{refused}|j1|1|s1|1", "refused")]);
        var fine = others.Select(id => Batcher.AppendAsync(id, 0, [View(2)], [Message(id, $"{id}|j1|1|s1|1")])).ToList();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => bad);
        Assert.True(StoreFailures.BlamesOneAppend(error), error.ToString());
        await Task.WhenAll(fine); // split one by one: had their appends been committed with the failed batch, each would now conflict
        Assert.Empty(await Batcher.ReadAsync(refused, new EventQuery(1, 10)));
        foreach (var id in others) Assert.Single(await Batcher.ReadAsync(id, new EventQuery(1, 10)));
        await using var count = data.CreateCommand($"select count(*) filter (where profile_id = @refused), count(*) from actors.{Actors.Storage.Channels.OutboxStore.TableName} where message_key like '%' || @run || '%'");
        count.Parameters.AddWithValue("refused", refused);
        count.Parameters.AddWithValue("run", run);
        await using var reader = await count.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal((0L, 100L), (reader.GetInt64(0), reader.GetInt64(1)));
    }

    /// <summary>Npgsql's operations (commands and batches, each one round trip) against this class's database while <paramref name="work"/> runs.</summary>
    private static async Task<(T Result, int RoundTrips)> CountingRoundTrips<T>(string database, Func<Task<T>> work)
    {
        var trips = 0;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Npgsql" && instrument.Name == "db.client.operation.duration") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag.Value is string text && text.Contains(database, StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref trips);
                    return;
                }
        });
        listener.Start();
        var result = await work();
        return (result, Volatile.Read(ref trips));
    }
}
