using Actors.Integration.Tests.Support;
using Actors.Storage.Segments;
using Actors.Storage.Streams;
using Marten;
using Marten.Linq;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Actors.Integration.Tests.Segments;

/// <summary>
/// A segment's members are read a page at a time in profile order (a trigger walks them, the members API pages them):
/// each page is a range of one index, not a sort of the whole segment, so walking a large segment is linear.
/// </summary>
public class SegmentMemberPagingTests : IAsyncLifetime
{
    private const int Members = 5_000;
    private EventStoreDatabase _database = null!;
    private string _connectionString = "";
    private ServiceProvider _services = null!;
    private IDocumentStore Store => _database.Store;

    public async Task InitializeAsync()
    {
        _database = await EventStoreDatabase.CreateAsync(nameof(SegmentMemberPagingTests), new EventStoreSettings { RunProjections = false });
        (_connectionString, _services) = (_database.ConnectionString, _database.Services);

        // A large segment, a small one beside it, and statistics that know it.
        var members = Enumerable.Range(0, Members).Select(i => Member("big", $"anon:v-{i:D5}"))
            .Concat(Enumerable.Range(0, 300).Select(i => Member("small", $"anon:v-{i:D5}")));
        await Store.BulkInsertAsync(members.ToList());
        await using var db = NpgsqlDataSource.Create(_connectionString);
        await using var analyze = db.CreateCommand("analyze");
        await analyze.ExecuteNonQueryAsync();
    }

    private static SegmentMember Member(string segment, string profile) =>
        new(SegmentMember.IdFor(segment, profile), segment, profile, 1, DateTimeOffset.UtcNow);

    public async Task DisposeAsync() => await _database.DisposeAsync();

    [Fact]
    public async Task Paging_through_a_segment_gives_every_member_once_in_order()
    {
        var store = _services.GetRequiredService<SegmentStore>();
        var seen = new List<string>();
        string? after = null;
        do
        {
            var (page, next) = await store.MembersAsync("big", after, 700);
            seen.AddRange(page.Select(m => m.ProfileId));
            after = next;
        }
        while (after is not null);
        Assert.Equal(Enumerable.Range(0, Members).Select(i => $"anon:v-{i:D5}"), seen);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("anon:v-02500")]
    public async Task A_page_is_a_range_of_an_index_not_a_sort_of_the_segment(string? after)
    {
        await using var session = Store.QuerySession();
        var command = SegmentStore.MembersPage(session, "big", after, 1_001).ToCommand();
        await using var db = NpgsqlDataSource.Create(_connectionString);
        await using var explain = db.CreateCommand("explain " + command.CommandText);
        foreach (NpgsqlParameter p in command.Parameters) explain.Parameters.Add(p.Clone());
        var plan = new List<string>();
        await using (var reader = await explain.ExecuteReaderAsync())
            while (await reader.ReadAsync()) plan.Add(reader.GetString(0));
        var text = string.Join("\n", plan);
        Assert.DoesNotContain("Sort", text);
        Assert.Contains("Index Scan", text);
    }

    [Fact]
    public async Task The_longest_ids_the_edge_allows_fit_the_index_and_page_like_any_other()
    {
        // A 64-character segment id (the API's limit) and profile ids of 300 characters of 3 bytes each in UTF-8 (over
        // any id the ingest keeps): about 1 KB an index row, well under PostgreSQL's 2,704-byte limit for one.
        var segment = new string('s', 64);
        var profiles = Enumerable.Range(0, 3).Select(i => $"user:{i}" + new string('\u20ac', 293)).ToList();
        await Store.BulkInsertAsync(profiles.Select(p => Member(segment, p)).ToList());
        var store = _services.GetRequiredService<SegmentStore>();
        var (first, next) = await store.MembersAsync(segment, null, 2);
        var (second, last) = await store.MembersAsync(segment, next, 2);
        Assert.Equal(profiles, first.Concat(second).Select(m => m.ProfileId));
        Assert.Null(last);
    }
}
