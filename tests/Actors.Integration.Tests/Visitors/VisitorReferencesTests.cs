using Actors.Domain.Tracking;
using Actors.Grains.Visitors;
using Actors.Integration.Tests.Support;

namespace Actors.Integration.Tests.Visitors;

/// <summary>
/// Visitor references built from cached grain types must be the very references Orleans builds, or calls would reach
/// another grain (or none): same id, same interface, same activation and state.
/// </summary>
[Collection(ClusterCollection.Name)]
public class VisitorReferencesTests(ClusterFixture fixture)
{
    [Fact]
    public async Task A_cached_reference_is_the_one_orleans_makes_and_reaches_the_same_visitor()
    {
        var client = fixture.Cluster.Client;
        var id = $"anon:{Guid.NewGuid():N}";
        var cached = (GrainReference)client.Visitor(id);
        var orleans = (GrainReference)client.GetGrain<IVisitorGrain>(id);
        Assert.Equal(orleans.GrainId, cached.GrainId);
        Assert.Equal(orleans.InterfaceType, cached.InterfaceType);
        Assert.Equal(orleans, cached);

        var now = DateTimeOffset.UtcNow;
        await ((IVisitorGrain)cached).Track(new Immutable<IReadOnlyList<VisitorEvent>>(
            [new ProductViewed("sku-1", "shoes", "acme", 10m) { MessageId = "msg-ref", EventTime = now, ReceivedTime = now }]));
        var seen = (await client.GetGrain<IVisitorGrain>(id).GetProfile()).Value;
        Assert.Equal(1, seen.Version);

        // Ids that are not plain: other alphabets, the separators aliases use, a long one; each its own grain.
        foreach (var other in new[] { "user:josé@example.com", "anon:a/b?c#d", new string('x', 300), "user:名前" })
            Assert.Equal(client.GetGrain<IVisitorGrain>(other).GetGrainId(), client.Visitor(other).GetGrainId());
    }

    [Fact]
    public void An_empty_or_blank_id_is_refused_as_orleans_refuses_it()
    {
        var client = fixture.Cluster.Client;
        Assert.Throws<ArgumentNullException>(() => client.Visitor(null!));
        Assert.Throws<ArgumentException>(() => client.Visitor(""));
        Assert.Throws<ArgumentException>(() => client.Visitor("  "));
    }
}
