using Actors.Domain.Tracking;
using Actors.Grains.Identity;
using Actors.Grains.Visitors;
using Actors.Integration.Tests.Support;
using Npgsql;
using Orleans.Runtime;

namespace Actors.Integration.Tests.Foundation;

[Collection(ClusterCollection.Name)]
public class ClusterStorageTests(ClusterFixture fixture)
{
    private static ProductViewed View(string sku, string category) =>
        new(sku, category, "acme", 49.90m) { MessageId = Guid.NewGuid().ToString(), EventTime = DateTimeOffset.UtcNow, ReceivedTime = DateTimeOffset.UtcNow };

    private async Task DeactivateAllAsync()
    {
        var management = fixture.Cluster.Client.GetGrain<IManagementGrain>(0);
        await management.ForceActivationCollection(TimeSpan.Zero);
    }

    [Fact]
    public async Task An_event_written_through_a_grain_is_in_PostgreSQL_and_read_back_after_deactivation()
    {
        var id = $"anon:{Guid.NewGuid():N}";
        var grain = fixture.Cluster.Client.GetGrain<IVisitorGrain>(id);
        var view = View("sku-42", "shoes");

        var result = await grain.Track(new Immutable<IReadOnlyList<VisitorEvent>>([view]));
        Assert.Equal(1, result.Version);

        // The row is in Marten's table, under the visitor's stream.
        await using (var connection = new NpgsqlConnection(fixture.ConnectionString))
        {
            await connection.OpenAsync();
            await using var count = new NpgsqlCommand("SELECT count(*) FROM actors.mt_events WHERE stream_id = @id AND type = 'product_viewed'", connection);
            count.Parameters.AddWithValue("id", id);
            Assert.Equal(1L, await count.ExecuteScalarAsync());
        }

        await DeactivateAllAsync();

        var reloaded = (await fixture.Cluster.Client.GetGrain<IVisitorGrain>(id).GetProfile()).Value;
        Assert.Equal(1, reloaded.Version);
        Assert.Equal("anonymous", reloaded.Stage);
    }

    [Fact]
    public async Task An_alias_link_lives_in_grain_storage_across_deactivation()
    {
        var alias = $"anon:{Guid.NewGuid():N}";
        await fixture.Cluster.Client.GetGrain<IIdentityGrain>(alias).Link("user:someone");
        await DeactivateAllAsync();
        Assert.Equal("user:someone", await fixture.Cluster.Client.GetGrain<IIdentityGrain>(alias).Resolve());
    }

    [Fact]
    public async Task Concurrent_writers_to_one_visitor_never_lose_or_duplicate_an_event()
    {
        var id = $"anon:{Guid.NewGuid():N}";
        var writers = Enumerable.Range(0, 20).Select(_ =>
        {
            IReadOnlyList<VisitorEvent> batch = [.. Enumerable.Range(0, 5).Select(i => View($"sku-{i}", "shoes"))];
            return (batch, task: fixture.Cluster.Client.GetGrain<IVisitorGrain>(id).Track(batch.AsImmutable()));
        }).ToList();
        await Task.WhenAll(writers.Select(w => w.task));

        // Retrying every batch changes nothing: all are recognised as duplicates.
        foreach (var (batch, _) in writers)
        {
            var retry = await fixture.Cluster.Client.GetGrain<IVisitorGrain>(id).Track(batch.AsImmutable());
            Assert.All(retry.Events, e => Assert.True(e.Duplicate));
        }

        await DeactivateAllAsync();
        var profile = (await fixture.Cluster.Client.GetGrain<IVisitorGrain>(id).GetProfile()).Value;
        Assert.Equal(100, profile.Version);
    }

    [Fact]
    public async Task A_lead_left_alone_is_woken_by_its_reminder_even_when_deactivated_between_ticks()
    {
        var id = $"anon:{Guid.NewGuid():N}";
        var now = DateTimeOffset.UtcNow;
        await fixture.Cluster.Client.GetGrain<IVisitorGrain>(id).Track(
            new Immutable<IReadOnlyList<VisitorEvent>>([new NewsletterSubscribed("test") { MessageId = "n1", EventTime = now, ReceivedTime = now }]));

        var deadline = DateTime.UtcNow.AddSeconds(90);
        var stage = "";
        while (DateTime.UtcNow < deadline && stage != "lapsed")
        {
            await DeactivateAllAsync();
            await Task.Delay(700);
            var profile = (await fixture.Cluster.Client.GetGrain<IVisitorGrain>(id).GetProfile()).Value;
            stage = profile.Stage;
            Assert.Equal(now, profile.LastActivity);
        }
        Assert.Equal("lapsed", stage);

        // The stream holds every step, each taken by time alone: sampling the profile could miss the short at-risk
        // window on a loaded machine, the stream cannot.
        await using var connection = new NpgsqlConnection(fixture.ConnectionString);
        await connection.OpenAsync();
        await using var steps = new NpgsqlCommand(
            "SELECT data ->> 'To' FROM actors.mt_events WHERE stream_id = @id AND type = 'stage_changed' ORDER BY version", connection);
        steps.Parameters.AddWithValue("id", id);
        var stages = new List<string>();
        await using (var reader = await steps.ExecuteReaderAsync())
            while (await reader.ReadAsync()) stages.Add(reader.GetString(0));
        Assert.Equal(["Lead", "AtRisk", "Lapsed"], stages);
    }
}
