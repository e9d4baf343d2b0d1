using Actors.Domain.Identity;
using Actors.Domain.Lifecycle;
using Actors.Domain.Profiles;
using Actors.Domain.Segments;
using Actors.Domain.Tests.Segments;
using Actors.Domain.Tracking;

namespace Actors.Domain.Tests.Identity;

public class IdentityTests
{
    private static readonly DateTimeOffset T0 = Make.T0;
    private static readonly LifecycleSettings Settings = LifecycleSettings.Default;

    [Theory]
    [InlineData(null, "bob", DeviceClaim.Merge)]
    [InlineData("bob", "bob", DeviceClaim.Same)]
    [InlineData("alice", "bob", DeviceClaim.Reassign)]
    [InlineData("Bob", "bob", DeviceClaim.Reassign)] // user ids are exact: "Bob" is someone else
    public void A_device_is_merged_only_while_anonymous(string? owner, string claiming, DeviceClaim expected) =>
        Assert.Equal(expected, IdentityRules.ForDevice(owner, claiming));

    [Theory]
    [InlineData("user:alice", null, "alice")]       // tracked with a user id, never identified: still alice's
    [InlineData("user:alice", "alice", "alice")]
    [InlineData("anon:d1", null, null)]
    [InlineData("anon:d1", "carol", "carol")]
    public void A_profile_belongs_to_the_user_it_was_made_for_or_identified_as(string profileId, string? identified, string? owner) =>
        Assert.Equal(owner, IdentityRules.OwnerOf(profileId, identified));

    [Theory]
    [InlineData(false, false, AliasDecision.ClaimDevice)]
    [InlineData(false, true, AliasDecision.ClaimDevice)]
    [InlineData(true, false, AliasDecision.Refuse)]
    [InlineData(true, true, AliasDecision.MergeKnown)]
    public void Only_a_marketing_key_may_alias_a_known_customer(bool previousIsKnown, bool mayMerge, AliasDecision expected) =>
        Assert.Equal(expected, IdentityRules.ForAlias(previousIsKnown, mayMerge));

    [Fact]
    public void Merges_and_unmerges_are_refused_when_a_profile_has_moved_on()
    {
        Assert.NotNull(IdentityRules.CannotMerge("user:a", null, "user:a", null));
        Assert.NotNull(IdentityRules.CannotMerge("user:a", "user:c", "user:b", null));
        Assert.NotNull(IdentityRules.CannotMerge("user:a", null, "user:b", "user:c"));
        Assert.Null(IdentityRules.CannotMerge("user:a", null, "user:b", null));
        Assert.NotNull(IdentityRules.CannotUnmerge("user:a", null, null));
        Assert.NotNull(IdentityRules.CannotUnmerge("user:a", "user:b", "user:c"));
        Assert.Null(IdentityRules.CannotUnmerge("user:a", "user:b", null));
    }

    [Fact]
    public void A_profile_keeps_the_user_id_it_was_first_identified_with()
    {
        var profile = new VisitorProfile("user:bob");
        profile.Apply(new Identified("bob", new Dictionary<string, string>()) { MessageId = "i1", EventTime = T0, ReceivedTime = T0 });
        profile.Apply(new Identified("alice", new Dictionary<string, string>()) { MessageId = "i2", EventTime = T0, ReceivedTime = T0 });
        Assert.Equal("bob", profile.UserId);
    }

    [Fact]
    public void A_retried_merge_carries_what_reached_the_source_after_the_first_attempt()
    {
        var target = new VisitorProfile("user:u");
        var first = new[] { Make.View("a", "shoes", T0), Make.View("b", "shoes", T0.AddMinutes(1)) };
        var first2 = Intake.Absorb(target, "anon:d", Carried(first), 2, T0.AddMinutes(2), Settings);
        Assert.Equal(2, first2.Count(e => !e.IsDerived));

        // The crash left the device open; a third view reached it; the retry sends the whole history again.
        var later = Make.View("c", "shoes", T0.AddMinutes(3));
        var retry = Intake.Absorb(target, "anon:d", Carried([.. first, later]), 3, T0.AddMinutes(4), Settings);

        Assert.Equal([later.MessageId], retry.Where(e => !e.IsDerived).Select(e => e.MessageId));
        Assert.Equal(3, target.Counters.Total(ActivityCounters.KeyFor(EventNames.ProductViewed, "shoes")));
        Assert.Empty(Intake.Absorb(target, "anon:d", Carried([.. first, later]), 3, T0.AddMinutes(5), Settings));
    }

    [Fact]
    public void A_merged_profile_leaves_every_segment_before_it_ends()
    {
        var profile = new VisitorProfile("anon:d");
        var segment = new SegmentDefinition("shoe-lovers", "Shoe lovers", 1, SegmentKit.Rule("""{"count":{"event":"product_viewed","category":"shoes","atLeast":1,"withinDays":30}}"""));
        Intake.Handle(profile, [Make.View("a", "shoes", T0)], T0, Settings, new SegmentContext([segment], null));
        Assert.Contains("shoe-lovers", profile.Segments.Keys);

        var end = Intake.EndByMerge(profile, "user:u", T0.AddMinutes(1), null, null);

        Assert.Collection(end,
            e => Assert.Equal(new SegmentLeft("shoe-lovers", 1, "merged_into:user:u") { MessageId = e.MessageId, EventTime = e.EventTime, ReceivedTime = e.ReceivedTime }, e),
            e => Assert.IsType<MergedInto>(e));
        Assert.Empty(profile.Segments);
        Assert.Equal("user:u", profile.ForwardTo);
        Assert.Empty(Intake.EndByMerge(profile, "user:u", T0.AddMinutes(2), null, null));
    }

    [Fact]
    public void An_unmerge_folds_the_target_again_without_the_carried_events_and_decides_its_stage_afresh()
    {
        // Bob registered; alice's history (two orders) was merged into him by mistake.
        var bob = new List<VisitorEvent>();
        var profile = new VisitorProfile("user:bob");
        bob.AddRange(Intake.Handle(profile, [Make.Account(T0), Make.View("x", "bags", T0)], T0, Settings).ToAppend);
        var alice = new VisitorEvent[] { Make.Order("o1", 30, T0.AddDays(-2)), Make.Order("o2", 40, T0.AddDays(-1)), Make.View("y", "shoes", T0.AddDays(-1)) };
        bob.AddRange(Intake.Absorb(profile, "user:alice", Carried(alice), 3, T0.AddHours(1), Settings, actor: "key:crm", reason: "same e-mail"));
        Assert.Equal(Stage.RepeatCustomer, profile.Stage);
        var afterLaterEvent = Intake.Handle(profile, [Make.View("z", "bags", T0.AddHours(2))], T0.AddHours(2), Settings).ToAppend;
        bob.AddRange(afterLaterEvent);

        var (unmerged, toAppend) = Intake.TakeBack("user:bob", bob, "user:alice", "key:admin", "wrong person", T0.AddHours(3), Settings, SegmentContext.None);

        Assert.IsType<ProfilesUnmerged>(toAppend[0]);
        Assert.Contains(toAppend, e => e is StageChanged { From: Stage.RepeatCustomer, To: Stage.Lead });
        Assert.Equal(0, unmerged.Orders.Count);
        Assert.Equal(2, unmerged.Counters.Total(ActivityCounters.KeyFor(EventNames.ProductViewed, "bags")));
        Assert.Equal(0, unmerged.Counters.Total(ActivityCounters.KeyFor(EventNames.ProductViewed, "shoes")));
        Assert.Empty(unmerged.MergedFrom);
        Assert.Equal(bob.Count + toAppend.Count, unmerged.Version);

        // Replaying the stored stream (what a reload or /state does) gives the same profile.
        var replayed = ProfileFold.Fold("user:bob", [.. bob, .. toAppend]);
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(unmerged), System.Text.Json.JsonSerializer.Serialize(replayed));

        // Before the unmerge the replay still shows the merged state, as it was.
        Assert.Equal(2, ProfileFold.Fold("user:bob", bob).Orders.Count);
    }

    [Fact]
    public void The_source_of_an_unmerge_reopens()
    {
        var alice = new VisitorProfile("user:alice");
        Intake.Handle(alice, [Make.Account(T0), Make.Order("o1", 30, T0)], T0, Settings);
        Intake.EndByMerge(alice, "user:bob", T0.AddHours(1), "key:crm", "same e-mail");

        var reopened = Intake.Reopen(alice, "key:admin", "wrong person", T0.AddHours(2), Settings, SegmentContext.None);

        Assert.IsType<MergeUndone>(reopened[0]);
        Assert.Null(alice.MergedIntoProfileId);
        Assert.Null(alice.ForwardTo);
        Assert.Equal(1, alice.Orders.Count);
    }

    [Fact]
    public void Only_an_ended_profile_forwards()
    {
        var live = new VisitorProfile("anon:d");
        live.Apply(new ForwardingChanged("user:x") { MessageId = "f", EventTime = T0, ReceivedTime = T0 });
        Assert.Null(live.ForwardTo);
    }

    private static List<CarriedEvent> Carried(IEnumerable<VisitorEvent> events) => [.. events.Select((e, i) => new CarriedEvent(i + 1, e))];
}
