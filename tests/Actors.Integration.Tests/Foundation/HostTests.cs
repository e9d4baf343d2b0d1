using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Integration.Tests.Support;
using Actors.Silo.Hosting;
using Actors.Storage.Postgres;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Actors.Integration.Tests.Foundation;

/// <summary>The host with no connection string: it runs its own PostgreSQL in its data folder.</summary>
public class HostTests
{
    private const string Key = "restart-admin-key-0123456789";

    private static Task<(ActorsHost Host, HttpClient Client)> StartAsync(string dataFolder) => OwnServerHost.StartAsync(dataFolder, Key);

    private static async Task StopAsync(ActorsHost host)
    {
        await host.App.StopAsync();
        await host.DisposeAsync();
    }

    [Fact]
    public async Task Data_survives_a_restart_of_the_host_and_its_embedded_server()
    {
        var folder = TestPostgres.NewDataFolder();
        try
        {
            var (host, client) = await StartAsync(folder);
            Assert.NotNull(host.Postgres);
            var health = await client.GetAsync("/health");
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            var post = await client.PostAsJsonAsync("/v1/visitors/restart-visitor/events",
                new { @event = "Newsletter Subscribed", messageId = "restart-1", properties = new { source = "footer" } });
            Assert.Equal(HttpStatusCode.OK, post.StatusCode);
            await StopAsync(host);

            (host, client) = await StartAsync(folder);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);
            var profile = await client.GetFromJsonAsync<JsonElement>("/v1/visitors/restart-visitor/profile");
            Assert.Equal(2, profile.GetProperty("version").GetInt64()); // the event and the stage change it caused
            Assert.Equal("lead", profile.GetProperty("stage").GetString());
            await StopAsync(host);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// Weasel compares the indexes it manages with PostgreSQL's own printing of them; the outbox's were written in
    /// another spelling, so every start dropped and rebuilt them (with a lock on the outbox, and the unreported rows'
    /// index built again from the whole table). Now a restart keeps them, and only a new shard count rebuilds the claim
    /// index, for the new count. Marten likewise dropped the journey figures' index on the event log as unknown at every
    /// start (and the next build read the whole log again); Marten is now told to leave it alone.
    /// </summary>
    [Fact]
    public async Task A_restart_keeps_the_outbox_and_journey_figure_indexes_and_a_new_shard_count_rebuilds_the_claim_index_for_it()
    {
        var folder = TestPostgres.NewDataFolder();
        try
        {
            var (host, _) = await StartAsync(folder);
            var first = await WatchedIndexesAsync(host);
            for (var waited = 0; !first.ContainsKey("ix_mt_events_journey") && waited < 300; waited++) // built in the background
            {
                await Task.Delay(100);
                first = await WatchedIndexesAsync(host);
            }
            Assert.Contains("(bucket % 8)", first["ix_message_outbox_due"].Definition);
            await StopAsync(host);

            (host, _) = await StartAsync(folder);
            await Task.Delay(2000); // time for a background rebuild to start, were the index dropped
            var second = await WatchedIndexesAsync(host);
            Assert.Equal(first.ToDictionary(i => i.Key, i => i.Value.Oid), second.ToDictionary(i => i.Key, i => i.Value.Oid));
            await StopAsync(host);

            (host, _) = await OwnServerHost.StartAsync(folder, Key, arguments: ["--Actors:Channels:Shards=4"]);
            var third = await WatchedIndexesAsync(host);
            Assert.Contains("(bucket % 4)", third["ix_message_outbox_due"].Definition);
            Assert.NotEqual(first["ix_message_outbox_due"].Oid, third["ix_message_outbox_due"].Oid);
            Assert.Equal(first["ix_message_outbox_unreported_by_channel"].Oid, third["ix_message_outbox_unreported_by_channel"].Oid);
            await StopAsync(host);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_node_upgraded_from_an_outbox_without_priorities_adds_the_column_as_marketing_and_rebuilds_the_claim_index()
    {
        var folder = TestPostgres.NewDataFolder();
        try
        {
            var (host, _) = await StartAsync(folder);
            // The outbox as the versions before delivery priorities made it, with a row waiting in it.
            await SqlAsync(host,
                "drop index actors.ix_message_outbox_due; alter table actors.message_outbox drop column priority; " +
                "create index ix_message_outbox_due on actors.message_outbox (channel, (bucket % 8), due_at) where status in ('pending', 'sending'); " +
                "insert into actors.message_outbox (message_key, channel, bucket, profile_id, message, status, due_at, created_at) " +
                "values ('old-row', 'nowhere', 0, 'anon:old', '{}', 'pending', now() + interval '1 day', now())");
            await StopAsync(host);

            (host, _) = await StartAsync(folder);
            var indexes = await WatchedIndexesAsync(host);
            Assert.Contains("(bucket % 8)), priority, due_at)", indexes["ix_message_outbox_due"].Definition);
            Assert.Equal((short)1, await SqlAsync(host, "select priority from actors.message_outbox where message_key = 'old-row'")); // marketing: the middle tier
            await StopAsync(host);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Runs SQL on the host's own server; the first column of the first row, if any.</summary>
    private static async Task<object?> SqlAsync(ActorsHost host, string sql)
    {
        await using var connection = new Npgsql.NpgsqlConnection(host.Postgres!.ConnectionString());
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    private static async Task<Dictionary<string, (uint Oid, string Definition)>> WatchedIndexesAsync(ActorsHost host)
    {
        await using var connection = new Npgsql.NpgsqlConnection(host.Postgres!.ConnectionString());
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(
            "select c.relname, c.oid, pg_get_indexdef(c.oid) from pg_index i join pg_class c on c.oid = i.indexrelid " +
            "where i.indrelid = 'actors.message_outbox'::regclass or c.relname = 'ix_mt_events_journey'", connection);
        var found = new Dictionary<string, (uint, string)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) found[reader.GetString(0)] = (reader.GetFieldValue<uint>(1), reader.GetString(2));
        return found;
    }

    [Fact]
    public async Task A_server_left_running_by_a_killed_host_is_adopted_by_the_next_start()
    {
        var folder = TestPostgres.NewDataFolder();
        try
        {
            var options = new EmbeddedPostgresOptions { DataDirectory = folder, Durable = false };
            var orphan = await EmbeddedPostgres.StartAsync(options, NullLogger.Instance);
            // The host "dies" here: nobody calls StopAsync on the first launcher.

            var next = await EmbeddedPostgres.StartAsync(options, NullLogger.Instance);
            Assert.True(next.Adopted);
            Assert.Equal(orphan.Port, next.Port);
            await next.StopAsync();
            Assert.False(File.Exists(Path.Combine(folder, "postgres", "postmaster.pid")));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Health_reports_the_database_and_the_silo()
    {
        var folder = TestPostgres.NewDataFolder();
        try
        {
            var (host, client) = await StartAsync(folder);
            var health = await client.GetFromJsonAsync<JsonElement>("/health");
            Assert.Equal("healthy", health.GetProperty("status").GetString());
            Assert.Equal("healthy", health.GetProperty("checks").GetProperty("postgres").GetProperty("status").GetString());
            Assert.Equal("healthy", health.GetProperty("checks").GetProperty("silo").GetProperty("status").GetString());

            await host.Postgres!.StopAsync(); // the database goes away under a running host
            var down = await client.GetAsync("/health");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
            await host.App.StopAsync(CancellationToken.None);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
