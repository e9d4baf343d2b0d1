using Actors.Domain.Lifecycle;
using Actors.Domain.Profiles;
using Actors.Domain.Reporting;
using Actors.Domain.Tracking;
using JasperFx.Events;
using Marten.Events.Aggregation;

namespace Actors.Storage.Reporting;

/// <summary>A newsletter change, with the last message the visitor had been sent before it (what an unsubscription is blamed on).</summary>
public sealed record NewsletterMark(DateTimeOffset At, bool Subscribed, string Source, string? Channel, string? Template, string? Topic);

/// <summary>One passage through a journey, as the holdout comparison needs it.</summary>
public sealed record JourneyPassage(string JourneyId, int Occurrence, DateTimeOffset EnteredAt, bool HeldOut, bool Converted);

/// <summary>The last message decided for the visitor (sent by the policy), for blaming an unsubscription.</summary>
public sealed record LastMessage(string Channel, string Template, string? Topic);

/// <summary>
/// A visitor as the reports see them: lifecycle stage and its history, first touch, category interest, newsletter
/// changes and journey passages. One document per live profile (a profile merged into another is deleted: its history
/// now counts there), kept by the async daemon; drill-downs list these documents. Lists are bounded
/// (<see cref="Kept"/>), so a hostile stream cannot grow a document without end.
/// </summary>
public sealed record ReportVisitor
{
    public const int Kept = 64;
    public const int CategoriesKept = 32;
    public const string NoCategory = "none";

    public required string Id { get; init; }
    public Stage Stage { get; init; } = Stage.Anonymous;
    public string? Email { get; init; }
    public DateTimeOffset FirstSeenAt { get; init; }
    public DateTimeOffset? LastSeenAt { get; init; }
    public DateTimeOffset? FirstTouchAt { get; init; }
    public string Source { get; init; } = TrafficSource.Direct;
    public string? Medium { get; init; }
    public string? Campaign { get; init; }
    public Dictionary<string, int> CategoryViews { get; init; } = new(StringComparer.Ordinal);
    public string TopCategory { get; init; } = NoCategory;

    /// <summary>Stage changes in stream order (from, to, when); the stage before the first is anonymous since <see cref="FirstSeenAt"/>.</summary>
    public List<StageStep> StageSteps { get; init; } = [];

    public List<NewsletterMark> Newsletter { get; init; } = [];
    public List<JourneyPassage> Journeys { get; init; } = [];
    public LastMessage? LastMessage { get; init; }

    /// <summary>The whole stage history as marks: anonymous from first seen, then every change.</summary>
    public IReadOnlyList<StageMark> Timeline() =>
        [new StageMark(FirstSeenAt, Stage.Anonymous), .. StageSteps.Select(s => new StageMark(s.At, s.To))];

    /// <summary>When the visitor first reached a stage, if ever.</summary>
    public DateTimeOffset? FirstReached(Stage stage) => StageSteps.Where(s => s.To == stage).Select(s => (DateTimeOffset?)s.At).Min();
}

public sealed record StageStep(DateTimeOffset At, Stage From, Stage To);

/// <summary>Folds one visitor stream into its <see cref="ReportVisitor"/>; run by the async daemon (rebuildable).</summary>
public sealed class ReportVisitorProjection : SingleStreamProjection<ReportVisitor, string>
{
    public const string ProjectionName = "report-visitors";

    public ReportVisitorProjection()
    {
        Name = ProjectionName;
        // An allow-list, so the daemon does not even read the decisions that change nothing here: a journey's steps and
        // exits, delivery outcomes and segment changes are most of the events a trigger or a send writes.
        foreach (var type in EventNames.EventTypes)
            if (!Unread.Contains(type)) IncludeType(type);
    }

    /// <summary>
    /// Derived events <see cref="Evolve"/> ignores. Being derived, none can start a document; the one thing they could
    /// still do is move <see cref="ReportVisitor.FirstSeenAt"/> earlier, and they are dated when we decide them, never
    /// before the visitor's own first event (short of a client clock running ahead).
    /// </summary>
    public static readonly IReadOnlySet<Type> Unread = new HashSet<Type>
    {
        typeof(SegmentEntered), typeof(SegmentLeft), typeof(ProfilesMerged), typeof(DeviceLinked), typeof(DeviceUnlinked),
        typeof(ForwardingChanged), typeof(ProfilesUnmerged), typeof(MergeUndone), typeof(JourneyStepTaken), typeof(JourneyExited),
        typeof(JourneyVersionChanged), typeof(MessageSent), typeof(MessageDelivered), typeof(MessageBounced), typeof(MessageFailed),
    };

    public override ReportVisitor? Evolve(ReportVisitor? snapshot, string id, IEvent e)
    {
        if (e.Data is not VisitorEvent data) return snapshot;
        if (data is MergedInto) return null; // its history now counts in the profile it went into
        // Only the visitor's own behaviour starts a document: decisions of ours reaching an ended profile (a device's
        // forwarding, a device unlinked) must not bring it back as a new anonymous visitor.
        if (snapshot is null && data.IsDerived) return null;
        var v = snapshot ?? new ReportVisitor { Id = id, FirstSeenAt = data.EventTime };
        if (data.EventTime < v.FirstSeenAt) v = v with { FirstSeenAt = data.EventTime };
        if (VisitorProfile.CountsAsActivity(data) && (v.LastSeenAt is null || data.EventTime > v.LastSeenAt)) v = v with { LastSeenAt = data.EventTime };
        return data switch
        {
            // The earliest page (carried history of a merged device included) is the first touch.
            PageViewed p when v.FirstTouchAt is null || p.EventTime < v.FirstTouchAt => FirstTouch(v, p),
            ProductViewed p when p.Category is { } c => Interest(v, c),
            CategoryViewed c => Interest(v, c.Category),
            CartItemAdded a when a.Category is { } c => Interest(v, c),
            StageChanged s => v with { Stage = s.To, StageSteps = Bounded(v.StageSteps, new StageStep(s.EventTime, s.From, s.To)) },
            Identified i when i.Traits.TryGetValue("email", out var email) && !string.IsNullOrWhiteSpace(email) => v with { Email = email },
            AttributesUpdated a when a.Attributes.TryGetValue("email", out var email) => v with { Email = string.IsNullOrWhiteSpace(email) ? null : email },
            NewsletterSubscribed n => v with { Newsletter = Bounded(v.Newsletter, Mark(v, n.EventTime, true, n.Source)) },
            NewsletterUnsubscribed n => v with { Newsletter = Bounded(v.Newsletter, Mark(v, n.EventTime, false, n.Source)) },
            // The person asked to be forgotten: counts stay, the address goes (the events before are masked too).
            ProfileErased => v with { Email = null },
            MessageDecided { Outcome: MessageOutcome.Sent } m => v with { LastMessage = new LastMessage(m.Channel, m.Template, m.Topic) },
            JourneyEntered j => v with { Journeys = Bounded(v.Journeys, new JourneyPassage(j.JourneyId, j.Occurrence, j.EventTime, j.HeldOut, false)) },
            JourneyGoalReached { WithinAttribution: true } g => v with
            {
                Journeys = [.. v.Journeys.Select(p => p.JourneyId == g.JourneyId && p.Occurrence == g.Occurrence ? p with { Converted = true } : p)],
            },
            _ => v,
        };
    }

    private static NewsletterMark Mark(ReportVisitor v, DateTimeOffset at, bool subscribed, string? source) =>
        new(at, subscribed, string.IsNullOrWhiteSpace(source) ? "unknown" : source, v.LastMessage?.Channel, v.LastMessage?.Template, v.LastMessage?.Topic);

    private static ReportVisitor FirstTouch(ReportVisitor v, PageViewed p)
    {
        var source = TrafficSource.Of(p.Url, p.Referrer, p.Campaign);
        return v with { FirstTouchAt = p.EventTime, Source = source.Source, Medium = source.Medium, Campaign = source.Campaign };
    }

    private static ReportVisitor Interest(ReportVisitor v, string category)
    {
        if (string.IsNullOrWhiteSpace(category)) return v;
        var views = new Dictionary<string, int>(v.CategoryViews, StringComparer.Ordinal);
        if (views.TryGetValue(category, out var n)) views[category] = n + 1;
        else if (views.Count < ReportVisitor.CategoriesKept) views[category] = 1;
        else return v;
        // Most views wins; a tie goes to the name first in ordinal order, so the answer does not depend on event order.
        var top = views.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).First().Key;
        return v with { CategoryViews = views, TopCategory = top };
    }

    private static List<T> Bounded<T>(List<T> list, T item) =>
        list.Count < ReportVisitor.Kept ? [.. list, item] : [.. list.Skip(list.Count - ReportVisitor.Kept + 1), item];
}
