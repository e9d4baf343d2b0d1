using System.Globalization;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Domain.Segments;

/// <summary>
/// Which segments a visitor should be in, as events that bring <see cref="VisitorProfile.Segments"/> there. Pure: the
/// profile is read, not changed; the caller applies and stores the events.
/// <list type="bullet">
/// <item>Not a member and the rule matches: <see cref="SegmentEntered"/> at the active version, reason from Explain.</item>
/// <item>A member and the rule no longer matches: <see cref="SegmentLeft"/>, reason from Explain; when the member's
/// stored version differs from the active one the reason starts "rule changed to version N: ".</item>
/// <item>A member at an older (or other) version who still matches: <see cref="SegmentEntered"/> at the new version
/// with reason "rule changed to version N" — a re-entry that records the version, so profile.Segments always holds the
/// version that let the visitor in. Consumers that act on entering (journeys) should skip an entry for a segment the
/// profile is already in.</item>
/// <item>A member of a segment that is not among the active definitions (archived): <see cref="SegmentLeft"/> with the
/// stored version and reason "segment archived".</item>
/// </list>
/// Every event has MessageId "{cause}:seg:{segmentId}:enter|leave" (a segment yields at most one event per call, so
/// ids are unique and a retried cause gives the same ids), EventTime = ReceivedTime = now. Leaves of archived segments
/// come after the active ones, in ordinal order of id. A profile merged into another yields nothing. Segment ids must
/// be unique among the active definitions.
/// </summary>
public static class SegmentMembership
{
    public static IReadOnlyList<VisitorEvent> Evaluate(
        VisitorProfile profile, IReadOnlyList<SegmentDefinition> active, DateTimeOffset now, string causeMessageId, RfmThresholds? rfm)
    {
        if (profile.MergedIntoProfileId is not null) return Array.Empty<VisitorEvent>();
        List<VisitorEvent>? events = null;
        var members = profile.Segments;
        var activeMemberships = 0;

        for (var i = 0; i < active.Count; i++)
        {
            var segment = active[i];
            var isMember = members.TryGetValue(segment.Id, out var version);
            if (isMember) activeMemberships++;
            var matches = segment.Rule.Matches(profile, now, rfm);
            if (matches)
            {
                if (!isMember)
                    (events ??= []).Add(Entered(segment, segment.Rule.Explain(profile, now, rfm), causeMessageId, now));
                else if (version != segment.Version)
                    (events ??= []).Add(Entered(segment, RuleChanged(segment.Version), causeMessageId, now));
            }
            else if (isMember)
            {
                var reason = segment.Rule.Explain(profile, now, rfm);
                if (version != segment.Version) reason = string.Concat(RuleChanged(segment.Version), ": ", reason);
                (events ??= []).Add(Left(segment.Id, segment.Version, reason, causeMessageId, now));
            }
        }

        if (activeMemberships < members.Count) LeaveArchived(profile, active, now, causeMessageId, events ??= []);
        return events is null ? Array.Empty<VisitorEvent>() : events; // (a bare [] here would be a new List)
    }

    /// <summary>When time alone could next move the visitor into or out of one of the segments; null if it cannot.</summary>
    public static DateTimeOffset? NextChange(VisitorProfile profile, IReadOnlyList<SegmentDefinition> active, DateTimeOffset now, RfmThresholds? rfm)
    {
        if (profile.MergedIntoProfileId is not null) return null;
        DateTimeOffset? next = null;
        for (var i = 0; i < active.Count; i++)
        {
            var segment = active[i];
            // The membership on record already disagrees with the rule (a window closed between the decision and this
            // question, a wake-up a few microseconds early): the change is due now. The rule alone would answer "no
            // further change" once its window has passed, and the visitor would sleep in the segment for good.
            if (profile.Segments.ContainsKey(segment.Id) != segment.Rule.Matches(profile, now, rfm)) return now;
            var change = segment.Rule.NextChange(profile, now, rfm);
            if (change is { } c && (next is null || c < next)) next = c;
        }
        return next;
    }

    private static void LeaveArchived(VisitorProfile profile, IReadOnlyList<SegmentDefinition> active, DateTimeOffset now, string cause, List<VisitorEvent> events)
    {
        var archived = new List<KeyValuePair<string, int>>();
        foreach (var membership in profile.Segments)
        {
            var found = false;
            for (var i = 0; i < active.Count && !found; i++) found = string.Equals(active[i].Id, membership.Key, StringComparison.Ordinal);
            if (!found) archived.Add(membership);
        }
        archived.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        foreach (var (id, version) in archived) events.Add(Left(id, version, "segment archived", cause, now));
    }

    private static string RuleChanged(int version) => "rule changed to version " + version.ToString(CultureInfo.InvariantCulture);

    private static SegmentEntered Entered(SegmentDefinition segment, string reason, string cause, DateTimeOffset now) =>
        new(segment.Id, segment.Version, reason)
        {
            MessageId = string.Concat(cause, ":seg:", segment.Id, ":enter"),
            EventTime = now,
            ReceivedTime = now,
        };

    private static SegmentLeft Left(string id, int version, string reason, string cause, DateTimeOffset now) =>
        new(id, version, reason)
        {
            MessageId = string.Concat(cause, ":seg:", id, ":leave"),
            EventTime = now,
            ReceivedTime = now,
        };
}
