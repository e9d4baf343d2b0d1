using Actors.Domain.Privacy;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Domain.Tests.Privacy;

public class ErasureTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);
    private static int _n;

    private static T At<T>(T e, int minutes) where T : VisitorEvent =>
        e with { MessageId = $"m{Interlocked.Increment(ref _n)}", EventTime = T0.AddMinutes(minutes), ReceivedTime = T0.AddMinutes(minutes) };

    private static List<VisitorEvent> History() =>
    [
        At(new Identified("alice", new Dictionary<string, string> { ["email"] = "alice@example.com" }) { MessageId = "", EventTime = T0, ReceivedTime = T0 }, 0),
        At(new AttributesUpdated(new Dictionary<string, string?> { ["email"] = "alice@example.com", ["phone"] = "+34600000000" }, "crm") { MessageId = "", EventTime = T0, ReceivedTime = T0 }, 1),
        At(new ConsentGiven("email", "marketing") { MessageId = "", EventTime = T0, ReceivedTime = T0, Source = "checkout", WordingVersion = "v2" }, 2),
        At(new OrderPlaced("o-1", [new OrderLine("sku", "shoes", 1, 80m)], 80m, "EUR", SalesChannel.Online) { MessageId = "", EventTime = T0, ReceivedTime = T0 }, 3),
        At(new SegmentEntered("vip", 1, "rule") { MessageId = "", EventTime = T0, ReceivedTime = T0 }, 4),
    ];

    [Fact]
    public void Erasing_leaves_the_segments_then_empties_the_profile_but_keeps_its_ids()
    {
        var profile = ProfileFold.Fold("user:alice", History());
        Assert.Equal("checkout", profile.ConsentRecords!["email:marketing"].Source);
        Assert.Equal("v2", profile.ConsentRecords["email:marketing"].WordingVersion);

        var events = Erasure.Decide(profile, T0.AddDays(1), "key:admin");

        Assert.Collection(events,
            e => Assert.Equal(new SegmentLeft("vip", 1, "erased") { MessageId = e.MessageId, EventTime = e.EventTime, ReceivedTime = e.ReceivedTime }, e),
            e => Assert.IsType<ProfileErased>(e));
        Assert.Equal(7, profile.Version);
        Assert.Equal(7, profile.ErasedAtVersion);
        Assert.Empty(profile.Attributes);
        Assert.Empty(profile.Consents);
        Assert.Null(profile.ConsentRecords);
        Assert.Empty(profile.Segments);
        Assert.Equal(0, profile.Orders.Count);
        Assert.Null(profile.FirstSeen);
        Assert.Equal("user:alice", profile.ProfileId);
        Assert.Equal("alice", profile.UserId);

        // A retried erasure adds nothing; the same fold from the stream gives the same empty profile.
        Assert.Empty(Erasure.Decide(profile, T0.AddDays(2), "key:admin"));
        var replayed = ProfileFold.Fold("user:alice", [.. History(), .. events]);
        Assert.Equal(ProfileView.From(profile) with { Version = 0 }, ProfileView.From(replayed) with { Version = 0 }, new ViewComparer());
    }

    [Fact]
    public void Events_after_an_erasure_start_a_fresh_profile_and_a_new_erasure_records_again()
    {
        var profile = ProfileFold.Fold("user:alice", History());
        Erasure.Decide(profile, T0.AddDays(1), "key:admin");
        profile.Apply(At(new AttributesUpdated(new Dictionary<string, string?> { ["plan"] = "gold" }, "crm") { MessageId = "", EventTime = T0, ReceivedTime = T0 }, 2000));

        Assert.Equal(["plan"], profile.Attributes.Keys);
        Assert.Equal(0, profile.Orders.Count);
        var again = Erasure.Decide(profile, T0.AddDays(3), "key:admin");
        Assert.IsType<ProfileErased>(Assert.Single(again));
        Assert.Empty(profile.Attributes);
    }

    [Fact]
    public void A_profile_with_no_events_has_nothing_to_erase() =>
        Assert.Empty(Erasure.Decide(new VisitorProfile("anon:x"), T0, "key:admin"));

    /// <summary>Views hold lists and dictionaries: compared as JSON.</summary>
    private sealed class ViewComparer : IEqualityComparer<ProfileView>
    {
        public bool Equals(ProfileView? x, ProfileView? y) => System.Text.Json.JsonSerializer.Serialize(x) == System.Text.Json.JsonSerializer.Serialize(y);
        public int GetHashCode(ProfileView obj) => 0;
    }
}
