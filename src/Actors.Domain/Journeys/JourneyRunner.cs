using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Domain.Journeys;

/// <summary>A journey as the grain knows it: its definitions by version (visitors stay on the version they entered) and its status.</summary>
public sealed record ActiveJourney(JourneyDefinition Latest, JourneyStatus Status, IReadOnlyDictionary<int, JourneyDefinition> Versions)
{
    public static ActiveJourney Of(JourneyDefinition definition, JourneyStatus status = JourneyStatus.Active) =>
        new(definition, status, new Dictionary<int, JourneyDefinition> { [definition.Version] = definition });

    public JourneyDefinition? AtVersion(int version) => Versions.TryGetValue(version, out var d) ? d : null;

    /// <summary>The marketer moved visitors inside older versions over to <see cref="Latest"/> (else they finish on theirs).</summary>
    public bool MoveInside { get; init; }
}

/// <summary>The journeys and the shop's message policy, as the grain knows them at this moment.</summary>
public sealed record JourneyContext(IReadOnlyList<ActiveJourney> Journeys, PolicySettings Policy)
{
    public static JourneyContext None { get; } = new([], PolicySettings.Default);

    /// <summary>
    /// How long a visitor whose wait ended in a journey that cannot go on now (paused, or not in the catalogue yet)
    /// sleeps before looking again; resuming the journey moves them on within this.
    /// </summary>
    public TimeSpan RecheckEvery { get; init; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// Runs a visitor's journeys: pure, like the rest of the domain. Given the profile (with the new event already applied),
/// it returns the journey events to append — entries, steps, message decisions through <see cref="MessagePolicy"/>,
/// goals and exits — applying each to the profile as it goes, so the stream explains where the visitor is and why.
/// Every event id is made from its cause, so a retried cause gives the same ids and is recognised as a duplicate.
/// </summary>
public static class JourneyRunner
{
    /// <summary>Steps taken in one go at most: a graph whose cycles all pass a wait can never need more.</summary>
    private const int MaxStepsAtOnce = 200;

    /// <summary>
    /// After an event of the visitor's (applied, with the stage and segment changes it caused from index
    /// <paramref name="caused"/> of <paramref name="toAppend"/>): goals, awaited events, segment exits and entries, then
    /// entries by this event.
    /// </summary>
    public static void OnEvent(VisitorProfile profile, VisitorEvent e, List<VisitorEvent> toAppend, int caused, JourneyContext context, DateTimeOffset now)
    {
        if (context.Journeys.Count == 0 && profile.Journeys.Count == 0) return;
        if (profile.MergedIntoProfileId is not null || e.IsDerived) return;
        var cause = e.MessageId;
        MoveToCurrentVersions(profile, context, now, cause, toAppend);
        var name = EventNames.Of(e);
        var category = CategoryOf(e);

        foreach (var (journeyId, position) in InsideNow(profile))
        {
            if (!position.Inside || Find(context, journeyId, position.Version) is not { } definition) continue;
            if (Status(context, journeyId) == JourneyStatus.Archived)
            {
                EndArchived(profile, definition, position, now, cause, toAppend);
                continue;
            }
            if (definition.Goal is { } goal && Matches(goal.EventName, goal.Category, name, category))
            {
                var within = position.EnteredAt is { } entered && now - entered <= goal.AttributionWindow;
                Add(profile, toAppend, new JourneyGoalReached(journeyId, position.Version, position.Occurrence, e.MessageId, within)
                    { MessageId = $"{cause}:journey:{journeyId}:goal", EventTime = now, ReceivedTime = now });
                continue;
            }
            if (position.StepId is { } stepId && definition.Steps.GetValueOrDefault(stepId) is WaitForEventStep wait
                && Matches(wait.EventName, wait.Category, name, category))
                Advance(profile, definition, position, wait.Id, "event", wait.OnEvent, now, cause, context, toAppend);
        }

        OnSegmentChanges(profile, toAppend, caused, context, now, cause);

        foreach (var journey in context.Journeys)
        {
            if (journey.Latest.Trigger is EventTrigger trigger && Matches(trigger.EventName, trigger.Category, name, category)
                && (trigger.Filter is null || trigger.Filter.Matches(profile, now, null)))
                TryEnter(profile, journey, now, $"{cause}:journey:{journey.Latest.Id}", $"event {name}", context, toAppend);
        }
    }

    /// <summary>Segment changes (already applied, from index <paramref name="from"/>) end passages or let visitors in.</summary>
    public static void OnSegmentChanges(VisitorProfile profile, List<VisitorEvent> toAppend, int from, JourneyContext context, DateTimeOffset now, string cause)
    {
        if (context.Journeys.Count == 0 || profile.MergedIntoProfileId is not null) return;
        var end = toAppend.Count;
        for (var i = from; i < end; i++)
        {
            var change = toAppend[i];
            if (change is SegmentLeft left) ExitOnSegmentLeft(profile, left.SegmentId, context, now, cause, toAppend);
            if (change is SegmentEntered or SegmentLeft) EnterBySegment(profile, change, context, now, cause, toAppend);
        }
    }

    /// <summary>A wake-up with no new event: waits that ended and deferred messages now due.</summary>
    public static void OnWakeUp(VisitorProfile profile, JourneyContext context, DateTimeOffset now, List<VisitorEvent> toAppend)
    {
        if (profile.MergedIntoProfileId is not null) return;
        MoveToCurrentVersions(profile, context, now, $"wakeup:{now.UtcTicks}", toAppend);
        foreach (var (journeyId, position) in InsideNow(profile))
        {
            if (!position.Inside || position.WaitUntil is not { } until || until > now) continue;
            if (Find(context, journeyId, position.Version) is not { } definition) continue;
            var status = Status(context, journeyId);
            if (status == JourneyStatus.Paused) continue; // paused: visitors wait, nothing is sent
            var cause = $"wakeup:{journeyId}:{position.Occurrence}:{position.StepId}:{until.UtcTicks}";
            if (status == JourneyStatus.Archived)
            {
                EndArchived(profile, definition, position, now, cause, toAppend);
                continue;
            }
            switch (definition.Steps.GetValueOrDefault(position.StepId!))
            {
                case WaitStep w: Advance(profile, definition, position, w.Id, "waited", w.Next, now, cause, context, toAppend); break;
                case WaitUntilStep w: Advance(profile, definition, position, w.Id, "waited", w.Next, now, cause, context, toAppend); break;
                case WaitForEventStep w: Advance(profile, definition, position, w.Id, "timeout", w.OnTimeout, now, cause, context, toAppend); break;
                case SendStep s: Run(profile, definition, position, s.Id, now, cause, context, toAppend); break; // a deferred send, due now
            }
        }
    }

    /// <summary>
    /// A marketer's trigger for this visitor: "entered", "held_out", "already_triggered" (this trigger let them in
    /// before: a retried trigger enters no one twice, even after their passage ended), "already_inside", or
    /// "not_eligible:reason".
    /// </summary>
    public static string Trigger(VisitorProfile profile, string journeyId, string triggerId, JourneyContext context, DateTimeOffset now, List<VisitorEvent> toAppend)
    {
        if (context.Journeys.FirstOrDefault(j => j.Latest.Id == journeyId) is not { } journey) return "not_eligible:unknown_journey";
        if (profile.Journeys.GetValueOrDefault(journeyId) is { } position && position.WasTriggeredBy(triggerId)) return "already_triggered";
        return TryEnter(profile, journey, now, $"trigger:{triggerId}:journey:{journeyId}", $"trigger {triggerId}", context, toAppend, triggerId);
    }

    private static readonly List<(string, JourneyPosition)> NoneInside = [];

    /// <summary>
    /// The journeys the visitor is inside now, in id order (so a replay decides in the same order), as a copy the caller
    /// may change the profile under. Runs on every event: no allocation for a visitor inside none.
    /// </summary>
    private static List<(string, JourneyPosition)> InsideNow(VisitorProfile profile)
    {
        List<(string, JourneyPosition)>? inside = null;
        foreach (var (id, position) in profile.Journeys)
            if (position.Inside) (inside ??= []).Add((id, position));
        if (inside is null) return NoneInside;
        inside.Sort((a, b) => string.CompareOrdinal(a.Item1, b.Item1));
        return inside;
    }

    /// <summary>The earliest moment a journey wait ends, or null.</summary>
    public static DateTimeOffset? NextWakeUp(VisitorProfile profile)
    {
        DateTimeOffset? next = null;
        foreach (var position in profile.Journeys.Values)
            if (position.Inside && position.WaitUntil is { } until && (next is null || until < next)) next = until;
        return next;
    }

    /// <summary>
    /// The earliest moment a journey wait ends, or null. A wait that has ended in a journey that cannot go on now
    /// (paused, or not in <paramref name="context"/>: this node's catalogue not loaded yet) counts as ending
    /// <see cref="JourneyContext.RecheckEvery"/> from <paramref name="now"/>: else the visitor would be woken again at
    /// once, forever, and the wake-up must not be dropped either (the visitor would never go on).
    /// </summary>
    public static DateTimeOffset? NextWakeUp(VisitorProfile profile, JourneyContext context, DateTimeOffset now)
    {
        DateTimeOffset? next = null;
        foreach (var (journeyId, position) in profile.Journeys)
        {
            if (!position.Inside || position.WaitUntil is not { } until) continue;
            if (until <= now && (Find(context, journeyId, position.Version) is null || Status(context, journeyId) == JourneyStatus.Paused))
                until = SafeTime.Add(now, context.RecheckEvery);
            if (next is null || until < next) next = until;
        }
        return next;
    }

    private static string TryEnter(VisitorProfile profile, ActiveJourney journey, DateTimeOffset now, string cause, string reason, JourneyContext context,
        List<VisitorEvent> toAppend, string? triggerId = null)
    {
        var definition = journey.Latest;
        if (journey.Status != JourneyStatus.Active) return "not_eligible:journey_" + journey.Status.ToString().ToLowerInvariant();
        if (profile.MergedIntoProfileId is not null) return "not_eligible:merged";
        var position = profile.Journeys.GetValueOrDefault(definition.Id);
        if (position is { Inside: true }) return "already_inside";
        if (position is { Occurrence: > 0 })
        {
            switch (definition.ReEntry)
            {
                case ReEntry.OnceEver: return "not_eligible:once_ever";
                case ReEntry.AfterCoolDown when position.EnteredAt is { } last && now - last < (definition.CoolDown ?? TimeSpan.Zero):
                    return "not_eligible:cool_down";
            }
        }
        if (definition.EntryCondition is { } condition && !condition.Matches(profile, now, null)) return "not_eligible:entry_condition";

        var occurrence = (position?.Occurrence ?? 0) + 1;
        var heldOut = Holdout.IsHeldOut(profile.ProfileId, definition.Id, definition.HoldoutPercent);
        // The entry places the visitor at the first step (and starts its wait): one event where there were two or three.
        Add(profile, toAppend, new JourneyEntered(definition.Id, definition.Version, occurrence, heldOut, reason)
        {
            MessageId = $"{cause}:enter:{occurrence}", EventTime = now, ReceivedTime = now, TriggerId = triggerId,
            StepId = definition.FirstStep, WaitUntil = WaitOnArrival(profile, definition, definition.FirstStep, now, context),
        });
        Run(profile, definition, profile.Journeys[definition.Id], definition.FirstStep, now, $"{cause}:{occurrence}", context, toAppend);
        return heldOut ? "held_out" : "entered";
    }

    /// <summary>Leaves <paramref name="fromStep"/> by <paramref name="outcome"/> for <paramref name="next"/>, then runs from there.</summary>
    private static void Advance(VisitorProfile profile, JourneyDefinition definition, JourneyPosition position, string? fromStep, string outcome, string? next,
        DateTimeOffset now, string cause, JourneyContext context, List<VisitorEvent> toAppend)
    {
        if (next is null)
        {
            End(profile, definition, position, fromStep, outcome, "completed", now, cause, toAppend);
            return;
        }
        Move(profile, definition, position, fromStep, outcome, next, now, cause, context, toAppend);
        Run(profile, definition, position, next, now, cause, context, toAppend);
    }

    /// <summary>Runs steps from <paramref name="stepId"/> until one waits or the passage ends.</summary>
    private static void Run(VisitorProfile profile, JourneyDefinition definition, JourneyPosition position, string stepId,
        DateTimeOffset now, string cause, JourneyContext context, List<VisitorEvent> toAppend)
    {
        var current = stepId;
        for (var taken = 0; taken < MaxStepsAtOnce; taken++)
        {
            if (definition.Steps.GetValueOrDefault(current) is not { } step)
            {
                End(profile, definition, position, current, "missing_step", "missing_step", now, cause, toAppend);
                return;
            }
            string outcome;
            string? next;
            switch (step)
            {
                case WaitStep or WaitUntilStep or WaitForEventStep:
                    // The event that brought the visitor here started the wait; only a visitor found here without one
                    // (none of today's paths) gets an event of its own.
                    if (position.StepId != step.Id || position.WaitUntil is null)
                        Add(profile, toAppend, new JourneyStepTaken(definition.Id, definition.Version, position.Occurrence, step.Id, "waiting", step.Id,
                                WaitOnArrival(profile, definition, step.Id, now, context))
                            { MessageId = $"{cause}:{taken}:step:{step.Id}>{step.Id}", EventTime = now, ReceivedTime = now });
                    return;
                case SendStep s:
                    if (!Send(profile, definition, position, s, now, $"{cause}:{taken}", context, toAppend)) return; // deferred: waits at this step
                    (outcome, next) = ("sent", s.Next);
                    break;
                case BranchStep b:
                {
                    var arm = b.Arms.FirstOrDefault(a => a.Rule.Matches(profile, now, null));
                    (outcome, next) = arm is null ? ("branch:otherwise", b.Otherwise) : ($"branch:{arm.Name}", arm.Next);
                    break;
                }
                case SplitStep s:
                {
                    var arm = Holdout.Pick(profile.ProfileId, $"{definition.Id}:{s.Id}", s.Arms);
                    (outcome, next) = ($"split:{arm.Name}", arm.Next);
                    break;
                }
                case SetAttributeStep a:
                    Add(profile, toAppend, new AttributesUpdated(new Dictionary<string, string?> { [a.Attribute] = a.Value }, $"journey:{definition.Id}")
                        { MessageId = $"{cause}:{taken}:set:{a.Id}", EventTime = now, ReceivedTime = now });
                    (outcome, next) = ("set", a.Next);
                    break;
                case ExitStep x:
                    End(profile, definition, position, x.Id, "exit", "exit_step", now, $"{cause}:{taken}", toAppend);
                    return;
                default:
                    return;
            }
            if (next is null)
            {
                End(profile, definition, position, step.Id, outcome, "completed", now, $"{cause}:{taken}", toAppend);
                return;
            }
            Move(profile, definition, position, step.Id, outcome, next, now, $"{cause}:{taken}", context, toAppend);
            current = next;
        }
        End(profile, definition, position, current, "too_many_steps", "too_many_steps", now, cause, toAppend);
    }

    /// <summary>Decides one message; false when it is deferred (the visitor waits at the step until the policy allows).</summary>
    private static bool Send(VisitorProfile profile, JourneyDefinition definition, JourneyPosition position, SendStep s, DateTimeOffset now, string cause,
        JourneyContext context, List<VisitorEvent> toAppend)
    {
        var key = $"{profile.ProfileId}:{definition.Id}:{definition.Version}:{s.Id}:{position.Occurrence}";
        PolicyDecision decision = position.HeldOut
            ? PolicyDecision.Suppress("held_out")
            : MessagePolicy.Decide(profile, new MessageRequest(s.Channel, s.Topic, s.ContentType, s.Kind), now, context.Policy);
        var outcome = decision.Outcome switch
        {
            PolicyOutcome.Send => MessageOutcome.Sent,
            PolicyOutcome.Defer => MessageOutcome.Deferred,
            _ => MessageOutcome.Suppressed,
        };
        Add(profile, toAppend, new MessageDecided(definition.Id, definition.Version, s.Id, position.Occurrence, s.Channel, s.Template, s.Topic, s.ContentType,
            s.Kind.ToString(), outcome, decision.Reason, key, decision.NotBefore)
            { MessageId = $"{cause}:message:{s.Id}", EventTime = now, ReceivedTime = now });
        return outcome != MessageOutcome.Deferred;
    }

    private static void ExitOnSegmentLeft(VisitorProfile profile, string segmentId, JourneyContext context, DateTimeOffset now, string cause, List<VisitorEvent> toAppend)
    {
        foreach (var (journeyId, position) in InsideNow(profile))
        {
            if (!position.Inside || Find(context, journeyId, position.Version) is not { } definition) continue;
            if (definition.ExitOnLeavingSegment == segmentId)
                End(profile, definition, position, position.StepId, "segment_left", $"left_segment:{segmentId}", now, $"{cause}:exit", toAppend);
        }
    }

    private static void EnterBySegment(VisitorProfile profile, VisitorEvent change, JourneyContext context, DateTimeOffset now, string cause, List<VisitorEvent> toAppend)
    {
        var (segmentId, entered) = change switch
        {
            SegmentEntered e => (e.SegmentId, true),
            SegmentLeft l => (l.SegmentId, false),
            _ => ("", false),
        };
        foreach (var journey in context.Journeys)
        {
            if (journey.Latest.Trigger is SegmentTrigger t && t.SegmentId == segmentId && t.OnEnter == entered)
                TryEnter(profile, journey, now, $"{cause}:journey:{journey.Latest.Id}", entered ? $"entered segment {segmentId}" : $"left segment {segmentId}", context, toAppend);
        }
    }

    /// <summary>
    /// Visitors inside an older version of a journey whose marketer moved them over: they go on from the same step of the
    /// current version, or leave (reason "version_changed") when it has no such step.
    /// </summary>
    private static void MoveToCurrentVersions(VisitorProfile profile, JourneyContext context, DateTimeOffset now, string cause, List<VisitorEvent> toAppend)
    {
        if (profile.Journeys.Count == 0 || !context.Journeys.Any(j => j.MoveInside)) return;
        foreach (var (journeyId, position) in InsideNow(profile))
        {
            if (!position.Inside) continue;
            var journey = context.Journeys.FirstOrDefault(j => j.Latest.Id == journeyId);
            if (journey is not { MoveInside: true, Status: JourneyStatus.Active } || journey.Latest.Version == position.Version) continue;
            var from = position.Version;
            if (journey.Latest.Steps.ContainsKey(position.StepId!))
                Add(profile, toAppend, new JourneyVersionChanged(journeyId, from, journey.Latest.Version, position.Occurrence, position.StepId!)
                    { MessageId = $"{cause}:journey:{journeyId}:version:{from}>{journey.Latest.Version}", EventTime = now, ReceivedTime = now });
            else if (journey.AtVersion(from) is { } old)
                End(profile, old, position, position.StepId, "version_changed", "version_changed", now, $"{cause}:version", toAppend);
        }
    }

    /// <summary>An archived journey lets no one go on: a visitor inside leaves at their next event or wake-up, sent nothing more.</summary>
    private static void EndArchived(VisitorProfile profile, JourneyDefinition definition, JourneyPosition position, DateTimeOffset now, string cause,
        List<VisitorEvent> toAppend) =>
        End(profile, definition, position, position.StepId, "archived", "journey_archived", now, $"{cause}:archived", toAppend);

    /// <summary>Moves the visitor to <paramref name="toStep"/>; arriving at a wait starts it (see <see cref="WaitOnArrival"/>).</summary>
    private static void Move(VisitorProfile profile, JourneyDefinition definition, JourneyPosition position, string? fromStep, string outcome, string toStep,
        DateTimeOffset now, string cause, JourneyContext context, List<VisitorEvent> toAppend) =>
        Add(profile, toAppend, new JourneyStepTaken(definition.Id, definition.Version, position.Occurrence, fromStep, outcome, toStep,
                WaitOnArrival(profile, definition, toStep, now, context))
            { MessageId = $"{cause}:step:{fromStep}>{toStep}", EventTime = now, ReceivedTime = now });

    /// <summary>Until when a visitor arriving now at <paramref name="stepId"/> waits there; null when it is not a wait.</summary>
    private static DateTimeOffset? WaitOnArrival(VisitorProfile profile, JourneyDefinition definition, string stepId, DateTimeOffset now, JourneyContext context) =>
        definition.Steps.GetValueOrDefault(stepId) switch
        {
            WaitStep w => SafeTime.Add(now, w.Duration),
            WaitUntilStep w => LocalTime.NextAt(now, w.TimeOfDay, w.Days, TimeZoneOf(profile, context.Policy)),
            WaitForEventStep w => SafeTime.Add(now, w.Timeout),
            _ => null,
        };

    private static void End(VisitorProfile profile, JourneyDefinition definition, JourneyPosition position, string? fromStep, string outcome, string reason,
        DateTimeOffset now, string cause, List<VisitorEvent> toAppend) =>
        Add(profile, toAppend, new JourneyExited(definition.Id, definition.Version, position.Occurrence, reason)
            { MessageId = $"{cause}:exit:{definition.Id}:{fromStep}:{outcome}", EventTime = now, ReceivedTime = now });

    private static void Add(VisitorProfile profile, List<VisitorEvent> toAppend, VisitorEvent e)
    {
        if (profile.HasSeen(e.MessageId)) return;
        profile.Apply(e);
        toAppend.Add(e);
    }

    private static JourneyDefinition? Find(JourneyContext context, string journeyId, int version)
    {
        foreach (var journey in context.Journeys)
            if (journey.Latest.Id == journeyId) return journey.AtVersion(version) ?? (journey.Latest.Version == version ? journey.Latest : null);
        return null;
    }

    private static JourneyStatus? Status(JourneyContext context, string journeyId) =>
        context.Journeys.FirstOrDefault(j => j.Latest.Id == journeyId)?.Status;

    private static bool Matches(string wantedName, string? wantedCategory, string name, string? category) =>
        string.Equals(wantedName, name, StringComparison.Ordinal)
        && (wantedCategory is null || string.Equals(wantedCategory, category, StringComparison.OrdinalIgnoreCase));

    private static string? CategoryOf(VisitorEvent e) => e switch
    {
        ProductViewed p => p.Category,
        CartItemAdded c => c.Category,
        CategoryViewed c => c.Category,
        PageViewed p => p.Category,
        BehaviourTracked b => b.Name,
        _ => null,
    };

    private static string TimeZoneOf(VisitorProfile profile, PolicySettings policy) =>
        profile.Attributes.TryGetValue("timezone", out var zone) && zone.Length > 0 ? zone : policy.DefaultTimeZone;
}
