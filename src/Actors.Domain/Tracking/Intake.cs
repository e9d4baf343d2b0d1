using Actors.Domain.Journeys;
using Actors.Domain.Lifecycle;
using Actors.Domain.Profiles;
using Actors.Domain.Segments;

namespace Actors.Domain.Tracking;

public enum IntakeStatus { Accepted, Duplicate }

/// <summary>What became of one incoming event.</summary>
public readonly record struct IntakeOutcome(string MessageId, IntakeStatus Status);

/// <summary>The events to store (incoming ones and the decisions they caused, in order) and each input's outcome.</summary>
public sealed record IntakeResult(IReadOnlyList<VisitorEvent> ToAppend, IReadOnlyList<IntakeOutcome> Outcomes);

/// <summary>The active segments and the population's RFM quantiles, as the grain knows them at this moment.</summary>
public sealed record SegmentContext(IReadOnlyList<SegmentDefinition> Active, RfmThresholds? Rfm)
{
    public static SegmentContext None { get; } = new([], null);

    /// <summary>The journeys the grain runs, and the shop's message policy.</summary>
    public JourneyContext Journeys { get; init; } = JourneyContext.None;
}

/// <summary>
/// The decision for a batch of incoming events: drop retries, apply the rest, and add what follows from each of them
/// (stage changes, segments entered and left). The profile is advanced as it goes; if storing the result fails, the
/// caller reloads it.
/// </summary>
public static class Intake
{
    public static IntakeResult Handle(VisitorProfile profile, IReadOnlyList<VisitorEvent> incoming, DateTimeOffset now, LifecycleSettings settings) =>
        Handle(profile, incoming, now, settings, SegmentContext.None);

    public static IntakeResult Handle(
        VisitorProfile profile, IReadOnlyList<VisitorEvent> incoming, DateTimeOffset now, LifecycleSettings settings, SegmentContext segments)
    {
        var toAppend = new List<VisitorEvent>(incoming.Count + 1);
        var outcomes = new IntakeOutcome[incoming.Count];
        for (var i = 0; i < incoming.Count; i++)
        {
            var e = incoming[i];
            if (profile.HasSeen(e.MessageId))
            {
                outcomes[i] = new IntakeOutcome(e.MessageId, IntakeStatus.Duplicate);
                continue;
            }

            profile.Apply(e);
            var caused = toAppend.Count + 1;
            toAppend.Add(e);
            outcomes[i] = new IntakeOutcome(e.MessageId, IntakeStatus.Accepted);

            if (StageMachine.Decide(profile, now, settings, e.MessageId) is { } changed)
            {
                profile.Apply(changed);
                toAppend.Add(changed);
            }
            ApplySegments(profile, segments, now, e.MessageId, toAppend);
            JourneyRunner.OnEvent(profile, e, toAppend, caused, segments.Journeys, now);
        }

        return new IntakeResult(toAppend, outcomes);
    }

    private static void ApplySegments(VisitorProfile profile, SegmentContext segments, DateTimeOffset now, string cause, List<VisitorEvent> toAppend)
    {
        if (segments.Active.Count == 0 && profile.Segments.Count == 0) return;
        foreach (var change in SegmentMembership.Evaluate(profile, segments.Active, now, cause, segments.Rfm))
        {
            profile.Apply(change);
            toAppend.Add(change);
        }
    }

    /// <summary>Re-evaluates the segments alone (a rule changed, a backfill): the membership events, if any.</summary>
    public static IReadOnlyList<VisitorEvent> Reevaluate(VisitorProfile profile, SegmentContext segments, DateTimeOffset now, string cause)
    {
        if (profile.MergedIntoProfileId is not null) return [];
        var toAppend = new List<VisitorEvent>();
        ApplySegments(profile, segments, now, cause, toAppend);
        JourneyRunner.OnSegmentChanges(profile, toAppend, 0, segments.Journeys, now, cause);
        return toAppend;
    }

    /// <summary>The next moment time alone could change this profile (inactivity, a segment window, a journey wait), or null.</summary>
    public static DateTimeOffset? NextWakeUp(VisitorProfile profile, DateTimeOffset now, LifecycleSettings settings, SegmentContext segments)
    {
        if (profile.MergedIntoProfileId is not null) return null;
        var inactivity = StageMachine.NextInactivityCheck(profile, settings);
        var segment = segments.Active.Count == 0 ? null : SegmentMembership.NextChange(profile, segments.Active, now, segments.Rfm);
        return Earliest(Earliest(inactivity, segment), JourneyRunner.NextWakeUp(profile, segments.Journeys, now));
    }

    private static DateTimeOffset? Earliest(DateTimeOffset? a, DateTimeOffset? b) => (a, b) switch
    {
        (null, var y) => y,
        (var x, null) => x,
        var (x, y) => x < y ? x : y,
    };

    /// <summary>A wake-up with no new event: has time alone moved the visitor (at risk, lapsed, out of a window)?</summary>
    public static VisitorEvent? HandleWakeUp(VisitorProfile profile, DateTimeOffset now, LifecycleSettings settings) =>
        HandleWakeUp(profile, now, settings, SegmentContext.None).FirstOrDefault();

    public static IReadOnlyList<VisitorEvent> HandleWakeUp(VisitorProfile profile, DateTimeOffset now, LifecycleSettings settings, SegmentContext segments)
    {
        if (profile.MergedIntoProfileId is not null) return [];
        var toAppend = new List<VisitorEvent>();
        var cause = $"wakeup:{now.UtcTicks}";
        if (StageMachine.Decide(profile, now, settings, cause) is { } changed)
        {
            profile.Apply(changed);
            toAppend.Add(changed);
        }
        ApplySegments(profile, segments, now, cause, toAppend);
        JourneyRunner.OnSegmentChanges(profile, toAppend, 0, segments.Journeys, now, cause);
        JourneyRunner.OnWakeUp(profile, segments.Journeys, now, toAppend);
        return toAppend;
    }

    /// <summary>
    /// Carries another profile's history into this one (identity stitching). Only source events after the version
    /// already carried are taken, so a merge retried after a crash also carries what reached the source in between;
    /// events already here are skipped, the stage is decided once at the end (old event times would otherwise look like
    /// inactivity), and the merge itself is recorded with the source version it covers.
    /// </summary>
    public static IReadOnlyList<VisitorEvent> Absorb(
        VisitorProfile profile, string sourceProfileId, IReadOnlyList<CarriedEvent> history, long sourceVersion, DateTimeOffset now,
        LifecycleSettings settings, SegmentContext? segments = null, string? actor = null, string? reason = null)
    {
        var carriedUpTo = profile.AbsorbedUpTo.GetValueOrDefault(sourceProfileId);
        if (carriedUpTo >= sourceVersion) return [];
        var toAppend = new List<VisitorEvent>(history.Count + 2);
        foreach (var c in history.Where(c => c.SourceVersion > carriedUpTo && !c.Event.IsDerived).OrderBy(c => c.Event.EventTime))
        {
            if (profile.HasSeen(c.Event.MessageId)) continue;
            profile.Apply(c.Event);
            toAppend.Add(c.Event);
        }

        var merged = new ProfilesMerged(sourceProfileId, toAppend.Count)
        {
            MessageId = $"merge:{sourceProfileId}->{profile.ProfileId}@{sourceVersion}",
            EventTime = now,
            ReceivedTime = now,
            SourceVersion = sourceVersion,
            Actor = actor,
            Reason = reason,
        };
        profile.Apply(merged);
        toAppend.Add(merged);
        Decide(profile, now, settings, segments ?? SegmentContext.None, merged.MessageId, toAppend);
        return toAppend;
    }

    /// <summary>
    /// The end of a profile whose history now lives in <paramref name="targetProfileId"/>: it leaves every segment
    /// (member lists, counts and exit webhooks must not count it twice), then ends with <see cref="MergedInto"/>.
    /// </summary>
    public static IReadOnlyList<VisitorEvent> EndByMerge(VisitorProfile profile, string targetProfileId, DateTimeOffset now, string? actor, string? reason)
    {
        if (profile.MergedIntoProfileId is not null) return [];
        var toAppend = new List<VisitorEvent>(profile.Segments.Count + 1);
        var cause = $"merged-into:{targetProfileId}@{profile.Version}";
        foreach (var (segmentId, ruleVersion) in profile.Segments.OrderBy(s => s.Key, StringComparer.Ordinal).ToList())
        {
            var left = new SegmentLeft(segmentId, ruleVersion, $"merged_into:{targetProfileId}") { MessageId = $"{cause}:left:{segmentId}", EventTime = now, ReceivedTime = now };
            profile.Apply(left);
            toAppend.Add(left);
        }
        var end = new MergedInto(targetProfileId) { MessageId = cause, EventTime = now, ReceivedTime = now, Actor = actor, Reason = reason };
        profile.Apply(end);
        toAppend.Add(end);
        return toAppend;
    }

    /// <summary>
    /// Undoes the merge of <paramref name="sourceProfileId"/> into the profile whose whole stream is
    /// <paramref name="stream"/>: the profile is folded again without the carried events, and its stage and segments
    /// are decided afresh. Returns the new profile and the events to append (nothing when there is no such merge).
    /// </summary>
    public static (VisitorProfile Profile, IReadOnlyList<VisitorEvent> ToAppend) TakeBack(
        string profileId, IReadOnlyList<VisitorEvent> stream, string sourceProfileId, string actor, string reason, DateTimeOffset now,
        LifecycleSettings settings, SegmentContext segments)
    {
        var carried = ProfileFold.CarriedFrom(stream, sourceProfileId).ToHashSet();
        var ownOrders = stream.Where(e => !carried.Contains(e)).OfType<OrderPlaced>().Select(o => o.OrderId).ToHashSet(StringComparer.Ordinal);
        var unmerged = new ProfilesUnmerged(sourceProfileId, actor, reason)
        {
            MessageId = $"unmerge:{sourceProfileId}->{profileId}@{stream.Count}", EventTime = now, ReceivedTime = now,
            OrderIdsTakenBack = [.. carried.OfType<OrderPlaced>().Select(o => o.OrderId).Where(id => !ownOrders.Contains(id)).Distinct(StringComparer.Ordinal)],
        };
        var profile = ProfileFold.Fold(profileId, [.. stream, unmerged]);
        var toAppend = new List<VisitorEvent> { unmerged };
        Decide(profile, now, settings, segments, unmerged.MessageId, toAppend);
        return (profile, toAppend);
    }

    /// <summary>A merged profile is its own again: it reopens, and its stage and segments are decided afresh.</summary>
    public static IReadOnlyList<VisitorEvent> Reopen(
        VisitorProfile profile, string actor, string reason, DateTimeOffset now, LifecycleSettings settings, SegmentContext segments)
    {
        if (profile.MergedIntoProfileId is not { } target) return [];
        var orders = profile.Orders;
        var undone = new MergeUndone(target, actor, reason)
        {
            MessageId = $"merge-undone:{target}@{profile.Version}", EventTime = now, ReceivedTime = now,
            Orders = orders.Count == 0 ? null : new OrderHistory(orders.Count, orders.Total - orders.Refunded, orders.LastAt, [.. orders.OrderIds], [.. orders.OrderTotals]),
        };
        profile.Apply(undone);
        var toAppend = new List<VisitorEvent> { undone };
        Decide(profile, now, settings, segments, undone.MessageId, toAppend);
        return toAppend;
    }

    /// <summary>Records an identity fact decided elsewhere (a device linked or unlinked), once.</summary>
    public static IReadOnlyList<VisitorEvent> Record(VisitorProfile profile, VisitorEvent fact)
    {
        if (profile.HasSeen(fact.MessageId)) return [];
        profile.Apply(fact);
        return [fact];
    }

    private static void Decide(VisitorProfile profile, DateTimeOffset now, LifecycleSettings settings, SegmentContext segments, string cause, List<VisitorEvent> toAppend)
    {
        if (StageMachine.Decide(profile, now, settings, cause) is { } changed)
        {
            profile.Apply(changed);
            toAppend.Add(changed);
        }
        ApplySegments(profile, segments, now, cause, toAppend);
    }
}

/// <summary>An event of a source stream being carried into another profile, with its version in the source.</summary>
public sealed record CarriedEvent(long SourceVersion, VisitorEvent Event);
