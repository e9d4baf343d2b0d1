using System.Text.Json;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;
using Actors.Grains.Visitors;
using Actors.Integration.Tests.Support;
using Actors.Storage.Streams;
using Marten;

namespace Actors.Integration.Tests.Visitors;

/// <summary>
/// A grain whose decide step throws halfway (the profile already changed in memory) must not run ahead of its stream:
/// grain calls go straight to IVisitorGrain, around the HTTP edge that bounds amounts.
/// </summary>
[Collection(ClusterCollection.Name)]
public class VisitorGrainFailureTests(ClusterFixture fixture)
{
    private static OrderPlaced Order(string orderId, decimal total) =>
        new(orderId, [new OrderLine("sku-1", "shoes", 1, total)], total, "EUR", SalesChannel.Online)
        { MessageId = $"msg-{orderId}", EventTime = DateTimeOffset.UtcNow, ReceivedTime = DateTimeOffset.UtcNow };

    private static Immutable<IReadOnlyList<VisitorEvent>> Events(params VisitorEvent[] events) => new(events);

    /// <summary>The profile as the stream has it: every stored event folded from nothing.</summary>
    private async Task<(VisitorProfile Profile, IReadOnlyList<string> MessageIds)> FoldStreamAsync(string id)
    {
        using var store = DocumentStore.For(o => MartenSetup.Configure(o, fixture.ConnectionString, new EventStoreSettings()));
        var stored = await new MartenVisitorStreams(store).ReadAsync(id, new EventQuery(1, 1000));
        var profile = new VisitorProfile(id);
        foreach (var e in stored) profile.Apply(e.Event);
        return (profile, [.. stored.Select(e => e.Event.MessageId)]);
    }

    [Fact]
    public async Task A_decide_step_that_throws_halfway_leaves_no_phantom_state_and_a_retry_is_not_taken_for_a_duplicate()
    {
        var id = $"anon:{Guid.NewGuid():N}";
        var grain = fixture.Cluster.Client.GetGrain<IVisitorGrain>(id);
        await grain.Track(Events(new ProductViewed("sku-1", "shoes", "acme", 10m)
            { MessageId = "msg-view", EventTime = DateTimeOffset.UtcNow, ReceivedTime = DateTimeOffset.UtcNow }));

        // The first event is fine; the second makes Apply throw halfway (its message id and counters are already
        // applied in memory when the cart refuses a null SKU). The HTTP edge never lets such an event in: the grain
        // is called directly, as a bug elsewhere would.
        var first = Order("order-a", 50m);
        var poison = new CartItemAdded(null!, "shoes", 1, 10m) { MessageId = "msg-cart-bad", EventTime = DateTimeOffset.UtcNow, ReceivedTime = DateTimeOffset.UtcNow };
        await Assert.ThrowsAnyAsync<Exception>(() => grain.Track(Events(first, poison)));

        // Nothing was stored, so the same retry must not be acknowledged as a duplicate: it fails the same way.
        await Assert.ThrowsAnyAsync<Exception>(() => grain.Track(Events(first, poison)));

        // The first order alone is fine, and is new: stored now, not a duplicate of something never stored.
        var alone = await grain.Track(Events(first));
        Assert.False(Assert.Single(alone.Events).Duplicate);

        var (folded, messageIds) = await FoldStreamAsync(id);
        Assert.Equal(["msg-view", "msg-order-a"], messageIds.Where(m => !m.Contains(':')));
        Assert.DoesNotContain("msg-cart-bad", messageIds);
        var live = (await grain.GetProfile()).Value;
        Assert.Equal(folded.Version, live.Version);
        Assert.Equal(alone.Version, live.Version);
        Assert.Equal(JsonSerializer.Serialize(ProfileView.From(folded)), JsonSerializer.Serialize(live));
        Assert.Equal(1, live.Orders.Count);
        Assert.Equal(50m, live.Orders.Total);
        Assert.Empty(live.CartSkus);
    }
}
