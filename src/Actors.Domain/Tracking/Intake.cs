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
            toAppend.Add(e);
            outcomes[i] = new IntakeOutcome(e.MessageId, IntakeStatus.Accepted);

            if (StageMachine.Decide(profile, now, settings, e.MessageId) is { } changed)
            {
                profile.Apply(changed);
                toAppend.Add(changed);
            }
            ApplySegments(profile, segments, now, e.MessageId, toAppend);
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
        return toAppend;
    }

    /// <summary>The next moment time alone could change this profile (inactivity, a segment window), or null.</summary>
    public static DateTimeOffset? NextWakeUp(VisitorProfile profile, DateTimeOffset now, LifecycleSettings settings, SegmentContext segments)
    {
        if (profile.MergedIntoProfileId is not null) return null;
        var inactivity = StageMachine.NextInactivityCheck(profile, settings);
        var segment = segments.Active.Count == 0 ? null : SegmentMembership.NextChange(profile, segments.Active, now, segments.Rfm);
        return (inactivity, segment) switch
        {
            (null, var s) => s,
            (var i, null) => i,
            var (i, s) => i < s ? i : s,
        };
    }

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
        return toAppend;
    }

    /// <summary>
    /// Carries another profile's history into this one (identity stitching). Events already here are skipped, the
    /// stage is decided once at the end (old event times would otherwise look like inactivity), and the merge itself is
    /// recorded, so absorbing the same source twice does nothing.
    /// </summary>
    public static IReadOnlyList<VisitorEvent> Absorb(
        VisitorProfile profile, string sourceProfileId, IReadOnlyList<VisitorEvent> history, DateTimeOffset now, LifecycleSettings settings,
        SegmentContext? segments = null)
    {
        if (profile.MergedFrom.Contains(sourceProfileId)) return [];
        var toAppend = new List<VisitorEvent>(history.Count + 2);
        foreach (var e in history.Where(e => !e.IsDerived).OrderBy(e => e.EventTime))
        {
            if (profile.HasSeen(e.MessageId)) continue;
            profile.Apply(e);
            toAppend.Add(e);
        }

        var merged = new ProfilesMerged(sourceProfileId, toAppend.Count)
        {
            MessageId = $"merge:{sourceProfileId}->{profile.ProfileId}",
            EventTime = now,
            ReceivedTime = now,
        };
        profile.Apply(merged);
        toAppend.Add(merged);

        if (StageMachine.Decide(profile, now, settings, merged.MessageId) is { } changed)
        {
            profile.Apply(changed);
            toAppend.Add(changed);
        }
        ApplySegments(profile, segments ?? SegmentContext.None, now, merged.MessageId, toAppend);
        return toAppend;
    }
}
