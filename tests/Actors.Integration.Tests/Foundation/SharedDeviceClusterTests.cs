using Actors.Domain.Tracking;
using Actors.Grains.Identity;
using Actors.Grains.Visitors;
using Actors.Integration.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace Actors.Integration.Tests.Foundation;

/// <summary>
/// Two nodes, each with its own memory of aliases: a device that changes hands on one node must not keep sending its
/// events to the first customer through the other node's memory.
/// </summary>
[Collection(ClusterCollection.Name)]
public class SharedDeviceClusterTests(ClusterFixture fixture)
{
    private VisitorDirectory Directory(int silo) =>
        ((InProcessSiloHandle)fixture.Cluster.Silos[silo]).SiloHost.Services.GetRequiredService<VisitorDirectory>();

    private static ProductViewed View(string id) =>
        new("sku", "hats", null, 10m) { MessageId = id, EventTime = DateTimeOffset.UtcNow, ReceivedTime = DateTimeOffset.UtcNow };

    private async Task<List<string>> MessageIds(string profileId)
    {
        var grain = fixture.Cluster.Client.GetGrain<IVisitorGrain>(profileId);
        var identity = await grain.Identity();
        Assert.Null(identity.ForwardTo);
        var streams = ((InProcessSiloHandle)fixture.Cluster.Silos[0]).SiloHost.Services.GetRequiredService<Actors.Storage.Streams.IVisitorStreams>();
        return [.. (await streams.ReadAsync(profileId, new Actors.Storage.Streams.EventQuery(1, 1000))).Select(e => e.Event.MessageId)];
    }

    [Fact]
    public async Task A_device_taken_over_on_one_node_sends_its_later_events_to_the_new_customer_from_every_node()
    {
        var device = $"anon:{Guid.NewGuid():N}";
        var (node1, node2) = (Directory(0), Directory(1));

        // Node 1 sees the anonymous device first and remembers it as its own profile.
        Assert.Equal(device, await node1.ResolveAsync(device));
        await node1.TrackAsync(device, [View($"first-{device}")]);

        // On node 2, alice logs in on it, then bob.
        await node2.StitchAsync(device, "user:alice-" + device[5..], "login-alice");
        await node2.StitchAsync(device, "user:bob-" + device[5..], "login-bob");

        // Node 1 still remembers the device as its own profile; its next event must reach bob, not alice.
        var profileOnNode1 = await node1.ResolveAsync(device);
        var result = await node1.TrackAsync(profileOnNode1, [View($"later-{device}")]);
        Assert.Equal("user:bob-" + device[5..], result.ProfileId);
        Assert.Contains($"later-{device}", await MessageIds("user:bob-" + device[5..]));
        Assert.DoesNotContain($"later-{device}", await MessageIds("user:alice-" + device[5..]));
        Assert.Contains($"first-{device}", await MessageIds("user:alice-" + device[5..]));
    }
}
