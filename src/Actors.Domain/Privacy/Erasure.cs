using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Domain.Privacy;

/// <summary>What a profile's stream records when the person is erased (right to erasure).</summary>
public static class Erasure
{
    /// <summary>
    /// The events that end what the person is part of, then <see cref="ProfileErased"/>: the profile leaves every
    /// segment (member rows, counts and exit webhooks follow, as for a merge) and every journey it is inside, so
    /// figures count the passage as ended. Nothing when the stream already ends with an erasure (a retried DELETE).
    /// The message ids carry the version, so an erasure after new events is a new erasure.
    /// </summary>
    public static IReadOnlyList<VisitorEvent> Decide(VisitorProfile profile, DateTimeOffset now, string actor)
    {
        if (profile.Version == 0 || profile.ErasedAtVersion == profile.Version) return [];
        var cause = $"erased@{profile.Version}";
        var toAppend = new List<VisitorEvent>();
        foreach (var (segmentId, ruleVersion) in profile.Segments.OrderBy(s => s.Key, StringComparer.Ordinal).ToList())
            toAppend.Add(new SegmentLeft(segmentId, ruleVersion, "erased") { MessageId = $"{cause}:left:{segmentId}", EventTime = now, ReceivedTime = now });
        foreach (var (journeyId, position) in profile.Journeys.OrderBy(j => j.Key, StringComparer.Ordinal))
        {
            if (position.StepId is null) continue; // not inside
            toAppend.Add(new JourneyExited(journeyId, position.Version, position.Occurrence, "erased")
                { MessageId = $"{cause}:exit:{journeyId}", EventTime = now, ReceivedTime = now });
        }
        toAppend.Add(new ProfileErased(actor) { MessageId = cause, EventTime = now, ReceivedTime = now });
        foreach (var e in toAppend) profile.Apply(e);
        return toAppend;
    }
}
