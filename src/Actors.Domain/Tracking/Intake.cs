using Actors.Domain.Lifecycle;
using Actors.Domain.Profiles;

namespace Actors.Domain.Tracking;

public enum IntakeStatus { Accepted, Duplicate }

/// <summary>What became of one incoming event.</summary>
public readonly record struct IntakeOutcome(string MessageId, IntakeStatus Status);

/// <summary>The events to store (incoming ones and the decisions they caused, in order) and each input's outcome.</summary>
public sealed record IntakeResult(IReadOnlyList<VisitorEvent> ToAppend, IReadOnlyList<IntakeOutcome> Outcomes);

/// <summary>
/// The decision for a batch of incoming events: drop retries, apply the rest, and add what follows from them
/// (stage changes). The profile is advanced as it goes; if storing the result fails, the caller reloads it.
/// </summary>
public static class Intake
{
    public static IntakeResult Handle(VisitorProfile profile, IReadOnlyList<VisitorEvent> incoming, DateTimeOffset now, LifecycleSettings settings)
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
        }

        return new IntakeResult(toAppend, outcomes);
    }

    /// <summary>A wake-up with no new event: has time alone moved the visitor (at risk, lapsed)?</summary>
    public static VisitorEvent? HandleWakeUp(VisitorProfile profile, DateTimeOffset now, LifecycleSettings settings)
    {
        if (profile.MergedIntoProfileId is not null) return null;
        var changed = StageMachine.Decide(profile, now, settings, $"wakeup:{now.UtcTicks}");
        if (changed is not null) profile.Apply(changed);
        return changed;
    }

    /// <summary>
    /// Carries another profile's history into this one (identity stitching). Events already here are skipped, the
    /// stage is decided once at the end (old event times would otherwise look like inactivity), and the merge itself is
    /// recorded, so absorbing the same source twice does nothing.
    /// </summary>
    public static IReadOnlyList<VisitorEvent> Absorb(
        VisitorProfile profile, string sourceProfileId, IReadOnlyList<VisitorEvent> history, DateTimeOffset now, LifecycleSettings settings)
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
        return toAppend;
    }
}
