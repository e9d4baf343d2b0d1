using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Grains.Segments;
using Actors.Integration.Tests.Support;
using Actors.Storage.Definitions;
using Actors.Storage.Segments;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Actors.Integration.Tests.Segments;

/// <summary>
/// Segment changes are versioned by the database, not by a node's clock: every catalogue sees every change, and two
/// updates from the same base never silently overwrite each other.
/// </summary>
public class SegmentRevisionTests(HostFixture host) : IClassFixture<HostFixture>
{
    private readonly HttpClient _marketing = host.Client(HostFixture.MarketingKey);

    private async Task<JsonElement> CreateAsync(string id)
    {
        var response = await _marketing.PostAsJsonAsync("/v1/segments", new { id, name = id, rule = new { stage = "lead" } });
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static int? VersionIn(SegmentCatalog catalog, string id) => catalog.Context.Active.FirstOrDefault(s => s.Id == id)?.Version;

    [Fact]
    public async Task A_change_saved_by_a_node_with_a_slow_clock_reaches_every_catalogue()
    {
        var id = $"slow-{Guid.NewGuid():N}"[..20];
        await CreateAsync(id);
        await CreateAsync($"later-{Guid.NewGuid():N}"[..20]); // the latest change by wall clock, on a good clock
        var store = host.Host.App.Services.GetRequiredService<SegmentStore>();
        // A second node's catalogue on the same database.
        using var otherNode = new SegmentCatalog(store, new SegmentSettings(), TimeProvider.System, NullLogger<SegmentCatalog>.Instance);
        await otherNode.RefreshAsync(CancellationToken.None);
        Assert.Equal(1, VersionIn(otherNode, id));
        var before = otherNode.Current.Version;

        // A node whose clock is an hour behind saves version 2 of the rule: its UpdatedAt is older than version 1's.
        var update = await store.UpdateAsync(id, null, s => s with
        {
            Version = 2, RuleJson = """{"stage":["customer"]}""", UpdatedAt = s.UpdatedAt.AddHours(-1),
            History = [.. s.History, new SegmentVersion(2, """{"stage":["customer"]}""", s.UpdatedAt.AddHours(-1))],
        });
        Assert.Equal(RevisionedSaveStatus.Saved, update.Status);

        await otherNode.RefreshAsync(CancellationToken.None);
        Assert.Equal(2, VersionIn(otherNode, id));
        Assert.True(otherNode.Current.Version > before);

        // And the host's own silo, which did not save it, takes it at its next periodic refresh.
        var silo = host.Host.App.Services.GetRequiredService<SegmentCatalog>();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (VersionIn(silo, id) != 2 && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.Equal(2, VersionIn(silo, id));
    }

    [Fact]
    public async Task Two_updates_from_the_same_revision_one_wins_and_the_other_gets_409()
    {
        var id = $"race-{Guid.NewGuid():N}"[..20];
        await CreateAsync(id);
        var read = await _marketing.GetAsync($"/v1/segments/{id}");
        var etag = read.Headers.ETag!.Tag;
        var revision = (await read.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("revision").GetInt64();
        Assert.Equal($"\"{revision}\"", etag);

        Task<HttpResponseMessage> Put(string stage)
        {
            var request = new HttpRequestMessage(HttpMethod.Put, $"/v1/segments/{id}") { Content = JsonContent.Create(new { rule = new { stage } }) };
            request.Headers.IfMatch.Add(new System.Net.Http.Headers.EntityTagHeaderValue(etag));
            return _marketing.SendAsync(request);
        }

        var responses = await Task.WhenAll(Put("customer"), Put("at_risk"));
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.Conflict], responses.Select(r => r.StatusCode).Order());
        var winner = responses.Single(r => r.StatusCode == HttpStatusCode.OK);
        var won = await winner.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(2, won.GetProperty("version").GetInt32());
        Assert.True(won.GetProperty("revision").GetInt64() > revision);

        // What is stored is the winner's rule, once: the loser changed nothing.
        var stored = await _marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/{id}");
        Assert.Equal(won.GetProperty("rule").GetRawText(), stored.GetProperty("rule").GetRawText());
        Assert.Equal(won.GetProperty("revision").GetInt64(), stored.GetProperty("revision").GetInt64());

        // The same stale base again, in the body this time: still 409.
        var stale = await _marketing.PutAsJsonAsync($"/v1/segments/{id}", new { rule = new { stage = "lapsed" }, revision });
        Assert.Equal(HttpStatusCode.Conflict, stale.StatusCode);
        // Based on the current revision, it goes through.
        var fresh = await _marketing.PutAsJsonAsync($"/v1/segments/{id}", new { rule = new { stage = "lapsed" }, revision = stored.GetProperty("revision").GetInt64() });
        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
    }

    [Fact]
    public async Task Creating_a_segment_that_exists_is_409_and_changes_nothing()
    {
        var id = $"dup-{Guid.NewGuid():N}"[..20];
        var responses = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ =>
            _marketing.PostAsJsonAsync("/v1/segments", new { id, name = id, rule = new { stage = "lead" } })));
        Assert.Equal([HttpStatusCode.Created, HttpStatusCode.Conflict], responses.Select(r => r.StatusCode).Order());
    }
}
