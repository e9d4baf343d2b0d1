using System.Net.Http.Json;
using Actors.Integration.Tests.Support;
using Actors.Storage.Journeys;
using Actors.Storage.Streams;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Actors.Integration.Tests.Foundation;

public sealed class BodyStatisticsFixture : HostFixture;

/// <summary>
/// The host keeps PostgreSQL's ANALYZE off the JSON bodies (event log, documents, outbox messages): gathering their
/// statistics was most of an ANALYZE's cost, and autovacuum runs those in the middle of the shop's traffic.
/// </summary>
public class BodyStatisticsTests(BodyStatisticsFixture host) : IClassFixture<BodyStatisticsFixture>
{
    private NpgsqlDataSource Data => host.Host.App.Services.GetRequiredService<NpgsqlDataSource>();

    private async Task<int?> TargetAsync(string table, string column)
    {
        await using var command = Data.CreateCommand(
            "select coalesce(a.attstattarget, -1) from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace " +
            "where n.nspname = 'actors' and c.relname = $1 and a.attname = $2");
        command.Parameters.AddWithValue(table);
        command.Parameters.AddWithValue(column);
        return await command.ExecuteScalarAsync() is { } value ? Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    private async Task WaitForStartupAsync()
    {
        // The event log's column waits for the journey figures' index, which the host builds when it starts as well.
        for (var i = 0; i < 300 && await TargetAsync("mt_events", "data") != 0; i++) await Task.Delay(200);
    }

    [Fact]
    public async Task The_host_turns_off_the_statistics_of_the_bodies_and_of_nothing_else()
    {
        await WaitForStartupAsync();
        Assert.Equal(0, await TargetAsync("mt_events", "data"));
        Assert.Equal(0, await TargetAsync("mt_doc_reportvisitor", "data"));
        Assert.Equal(0, await TargetAsync("message_outbox_body", "message"));
        // The columns queries filter or join on keep theirs.
        Assert.Equal(-1, await TargetAsync("mt_events", "type"));
        Assert.Equal(-1, await TargetAsync("mt_events", "stream_id"));
        Assert.Equal(-1, await TargetAsync("mt_events", "seq_id"));
    }

    [Fact]
    public async Task Analyze_then_gathers_no_statistics_on_the_event_bodies_but_still_on_their_types()
    {
        await WaitForStartupAsync();
        var visitor = $"bs-{Guid.NewGuid():N}"[..16];
        using var client = host.Client();
        for (var i = 0; i < 3; i++)
        {
            using var response = await client.PostAsJsonAsync($"/v1/visitors/{visitor}/events",
                new { @event = "Product Viewed", messageId = $"{visitor}-{i}", properties = new { product_id = $"p{i}", category = "shoes" } });
            Assert.True(response.IsSuccessStatusCode);
        }
        await using (var analyze = Data.CreateCommand("analyze actors.mt_events")) await analyze.ExecuteNonQueryAsync();
        await using var stats = Data.CreateCommand("select attname from pg_stats where schemaname = 'actors' and tablename = 'mt_events' order by 1");
        var columns = new List<string>();
        await using (var reader = await stats.ExecuteReaderAsync())
            while (await reader.ReadAsync()) columns.Add(reader.GetString(0));
        Assert.Contains("type", columns);
        Assert.DoesNotContain("data", columns);
    }

    [Fact]
    public async Task A_target_set_back_by_hand_is_turned_off_again_and_a_second_run_changes_nothing()
    {
        await WaitForStartupAsync();
        var statistics = host.Host.App.Services.GetRequiredService<BodyStatistics>();
        await using (var reset = Data.CreateCommand("alter table actors.mt_doc_reportvisitor alter column data set statistics -1")) await reset.ExecuteNonQueryAsync();
        Assert.Equal(-1, await TargetAsync("mt_doc_reportvisitor", "data"));

        Assert.Equal(["mt_doc_reportvisitor.data"], (await statistics.EnsureAsync(CancellationToken.None)).Changed);
        Assert.Equal(0, await TargetAsync("mt_doc_reportvisitor", "data"));
        Assert.Empty((await statistics.EnsureAsync(CancellationToken.None)).Changed); // nothing left to change: no ALTER at all
    }

    private async Task<string[]> OptionsAsync(string table)
    {
        await using var command = Data.CreateCommand("select coalesce(array_to_string(c.reloptions, ','), '') from pg_class c join pg_namespace n on n.oid = c.relnamespace " +
            "where n.nspname = 'actors' and c.relname = $1");
        command.Parameters.AddWithValue(table);
        return ((string)(await command.ExecuteScalarAsync())!).Split(',', StringSplitOptions.RemoveEmptyEntries);
    }

    [Fact]
    public async Task The_tables_every_event_rewrites_are_analyzed_once_per_turnover_and_the_message_bodies_never()
    {
        await WaitForStartupAsync();
        Assert.Contains(BodyStatistics.RarelyAnalyzed, await OptionsAsync("mt_streams"));
        Assert.Contains(BodyStatistics.RarelyAnalyzed, await OptionsAsync("mt_doc_reportvisitor"));
        Assert.DoesNotContain(BodyStatistics.RarelyAnalyzed, await OptionsAsync("mt_events")); // it grows: a tenth is PostgreSQL's own rule
        // The outbox's bodies are declared with the outbox (read by key only: never analyzed); the outbox itself once per turnover of its messages.
        Assert.Contains($"autovacuum_analyze_threshold={int.MaxValue}", await OptionsAsync(Actors.Storage.Channels.OutboxStore.BodyTableName));
        Assert.Contains("autovacuum_analyze_scale_factor=4", await OptionsAsync(Actors.Storage.Channels.OutboxStore.TableName));

        // Set back by hand (a restore, an operator): the next run sets it again, once.
        await using (var reset = Data.CreateCommand("alter table actors.mt_streams reset (autovacuum_analyze_scale_factor)")) await reset.ExecuteNonQueryAsync();
        Assert.DoesNotContain(BodyStatistics.RarelyAnalyzed, await OptionsAsync("mt_streams"));
        var statistics = host.Host.App.Services.GetRequiredService<BodyStatistics>();
        Assert.Equal(["mt_streams"], (await statistics.EnsureAsync(CancellationToken.None)).Changed);
        Assert.Contains(BodyStatistics.RarelyAnalyzed, await OptionsAsync("mt_streams"));
        Assert.Empty((await statistics.EnsureAsync(CancellationToken.None)).Changed);
    }

    [Fact]
    public async Task The_event_logs_column_waits_while_its_journey_index_is_being_built_and_follows_after()
    {
        await WaitForStartupAsync();
        var statistics = host.Host.App.Services.GetRequiredService<BodyStatistics>();
        await using (var reset = Data.CreateCommand("alter table actors.mt_events alter column data set statistics -1")) await reset.ExecuteNonQueryAsync();

        // A builder (here, this test) holds the index's advisory lock, as one does for a whole build.
        await using var builder = await Data.OpenConnectionAsync();
        await using (var take = new NpgsqlCommand($"select pg_advisory_lock({JourneyFigureIndex.AdvisoryLock})", builder)) await take.ExecuteNonQueryAsync();
        var during = await statistics.EnsureAsync(CancellationToken.None);
        Assert.True(during.EventLogDeferred);
        Assert.DoesNotContain("mt_events.data", during.Changed);
        Assert.Equal(-1, await TargetAsync("mt_events", "data"));

        await using (var release = new NpgsqlCommand($"select pg_advisory_unlock({JourneyFigureIndex.AdvisoryLock})", builder)) await release.ExecuteNonQueryAsync();
        var after = await statistics.EnsureAsync(CancellationToken.None);
        Assert.False(after.EventLogDeferred);
        Assert.Equal(["mt_events.data"], after.Changed);
        Assert.Equal(0, await TargetAsync("mt_events", "data"));
    }
}
