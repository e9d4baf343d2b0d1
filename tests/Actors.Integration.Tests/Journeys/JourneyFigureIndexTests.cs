using System.Net.Http.Json;
using Actors.Integration.Tests.Support;
using Actors.Storage.Journeys;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Actors.Integration.Tests.Journeys;

public sealed class JourneyFigureIndexFixture : HostFixture;

/// <summary>
/// The journey figures' index on the event log is built by the host, concurrently: a build must never stop the shop's
/// appends (a plain CREATE INDEX locks the log against writes until it is done).
/// </summary>
public class JourneyFigureIndexTests(JourneyFigureIndexFixture host) : IClassFixture<JourneyFigureIndexFixture>
{
    private NpgsqlDataSource Data => host.Host.App.Services.GetRequiredService<NpgsqlDataSource>();

    private async Task<bool?> ValidAsync()
    {
        await using var command = Data.CreateCommand(
            "select i.indisvalid from pg_index i join pg_class c on c.oid = i.indexrelid join pg_namespace n on n.oid = c.relnamespace " +
            $"where c.relname = '{JourneyFigureIndex.Name}' and n.nspname = 'actors'");
        return await command.ExecuteScalarAsync() is bool valid ? valid : null;
    }

    private async Task<bool?> WaitForIndexAsync()
    {
        for (var i = 0; i < 100 && await ValidAsync() != true; i++) await Task.Delay(200);
        return await ValidAsync();
    }

    [Fact]
    public async Task The_host_builds_the_index_when_it_starts_without_a_figures_read()
    {
        Assert.True(await WaitForIndexAsync());
    }

    [Fact]
    public async Task Appends_go_on_while_the_index_is_being_built()
    {
        Assert.True(await WaitForIndexAsync()); // the host's own build is over
        await using (var drop = Data.CreateCommand($"drop index actors.{JourneyFigureIndex.Name}")) await drop.ExecuteNonQueryAsync();

        // A writer's transaction is open on the log, as there always is one on a busy shop: the build must wait for it,
        // and the appends that arrive meanwhile must not wait behind the build.
        await using var writer = await Data.OpenConnectionAsync();
        await using var open = await writer.BeginTransactionAsync();
        await using (var lockLog = new NpgsqlCommand("lock table actors.mt_events in row exclusive mode", writer, open)) await lockLog.ExecuteNonQueryAsync();

        var build = host.Host.App.Services.GetRequiredService<JourneyFigureIndex>().EnsureAsync(CancellationToken.None);
        await Task.Delay(500); // the build has started and waits for the open transaction
        Assert.False(build.IsCompleted);

        var visitor = $"ix-{Guid.NewGuid():N}"[..16];
        var append = host.Client().PostAsJsonAsync($"/v1/visitors/{visitor}/events",
            new { @event = "Product Viewed", messageId = $"{visitor}-view", properties = new { product_id = "s" } });
        var first = await Task.WhenAny(append, Task.Delay(TimeSpan.FromSeconds(15)));
        Assert.True(first == append, "the append waited behind the index build");
        Assert.True((await append).IsSuccessStatusCode);

        await open.CommitAsync();
        Assert.True(await build.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.True(await ValidAsync());
        // Ensured again: nothing to do.
        Assert.False(await host.Host.App.Services.GetRequiredService<JourneyFigureIndex>().EnsureAsync(CancellationToken.None));
    }

    [Fact]
    public async Task An_index_left_invalid_by_a_failed_build_is_built_again()
    {
        Assert.True(await WaitForIndexAsync());
        // Two events at least, so that a unique build on a constant fails, and leaves an invalid index of that name
        // behind, as a concurrent build interrupted in the middle does.
        var visitor = $"iv-{Guid.NewGuid():N}"[..16];
        Assert.True((await host.Client().PostAsJsonAsync("/v1/batch", new
        {
            batch = new object[]
            {
                new { type = "track", @event = "Product Viewed", userId = visitor, messageId = $"{visitor}-1", properties = new { product_id = "a" } },
                new { type = "track", @event = "Product Viewed", userId = visitor, messageId = $"{visitor}-2", properties = new { product_id = "b" } },
            },
        })).IsSuccessStatusCode);
        await using (var drop = Data.CreateCommand($"drop index actors.{JourneyFigureIndex.Name}")) await drop.ExecuteNonQueryAsync();
        await using (var broken = Data.CreateCommand($"create unique index concurrently {JourneyFigureIndex.Name} on actors.mt_events ((1))"))
            await Assert.ThrowsAsync<PostgresException>(() => broken.ExecuteNonQueryAsync());
        Assert.False(await ValidAsync());

        Assert.True(await host.Host.App.Services.GetRequiredService<JourneyFigureIndex>().EnsureAsync(CancellationToken.None));
        Assert.True(await ValidAsync());
        await using var definition = Data.CreateCommand($"select pg_get_indexdef('actors.{JourneyFigureIndex.Name}'::regclass)");
        var sql = (string)(await definition.ExecuteScalarAsync())!;
        Assert.Contains("JourneyId", sql);
        Assert.DoesNotContain("UNIQUE", sql);
    }
}
