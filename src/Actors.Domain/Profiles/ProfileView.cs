using Actors.Domain.Lifecycle;

namespace Actors.Domain.Profiles;

/// <summary>The profile as marketing and admin keys read it. <see cref="ForVisitor"/> is what an ingest key may read.</summary>
public sealed record ProfileView
{
    public required string ProfileId { get; init; }
    public required string Stage { get; init; }
    public string? LeadKind { get; init; }
    public DateTimeOffset? StageSince { get; init; }
    public required IReadOnlyList<string> Segments { get; init; }
    public required IReadOnlyList<string> Consents { get; init; }
    public required PreferencesView Preferences { get; init; }
    public required long Version { get; init; }
    public bool NewsletterSubscriber { get; init; }

    /// <summary>When the newsletter was last subscribed or unsubscribed (null: never), so "unsubscribed" differs from "never subscribed".</summary>
    public DateTimeOffset? NewsletterChangedAt { get; init; }

    /// <summary>Consents ("channel:purpose") the visitor withdrew and has not given again.</summary>
    public IReadOnlyList<string> WithdrawnConsents { get; init; } = [];
    public DateTimeOffset? FirstSeen { get; init; }
    public DateTimeOffset? LastActivity { get; init; }
    public required OrdersView Orders { get; init; }
    public IReadOnlyList<string> CartSkus { get; init; } = [];
    public string? MergedInto { get; init; }
    public IReadOnlyList<string> MergedFrom { get; init; } = [];

    public string? UserId { get; init; }
    public IReadOnlyDictionary<string, string>? Attributes { get; init; }

    /// <summary>Where the visitor is in each journey they ever entered (marketing and admin reads only).</summary>
    public IReadOnlyList<JourneyPositionView> Journeys { get; init; } = [];

    private VisitorView? _forVisitor;

    /// <summary>The minimal view for the visitor's own browser; built once per view, since views are cached and read often.</summary>
    public VisitorView ForVisitor() => _forVisitor ??= VisitorView.From(this);

    public static ProfileView From(VisitorProfile p) => new()
    {
        ProfileId = p.ProfileId,
        Stage = p.Stage.ToWire(),
        LeadKind = p.LeadKind.ToWire(),
        StageSince = p.StageSince,
        Segments = [.. p.Segments.Keys.Order(StringComparer.Ordinal)],
        Consents = [.. p.Consents.Keys.Order(StringComparer.Ordinal)],
        Preferences = new PreferencesView(p.Preferences.Topics, p.Preferences.ContentTypes, p.Preferences.Frequency, p.Preferences.PausedUntil),
        Version = p.Version,
        NewsletterSubscriber = p.IsNewsletterSubscriber,
        NewsletterChangedAt = p.NewsletterChangedAt,
        WithdrawnConsents = p.WithdrawnConsents.Count == 0 ? [] : [.. p.WithdrawnConsents.Keys.Order(StringComparer.Ordinal)],
        FirstSeen = p.FirstSeen,
        LastActivity = p.LastActivity,
        Orders = new OrdersView(p.Orders.Count, p.Orders.Total, p.Orders.Refunded, p.Orders.FirstAt, p.Orders.LastAt),
        CartSkus = [.. p.Cart.Items.Keys.Order(StringComparer.Ordinal)],
        MergedInto = p.MergedIntoProfileId,
        MergedFrom = [.. p.MergedFrom],
        UserId = p.UserId,
        Attributes = new Dictionary<string, string>(p.Attributes),
        Journeys = p.Journeys.Count == 0 ? [] : [.. p.Journeys.OrderBy(j => j.Key, StringComparer.Ordinal).Select(j => new JourneyPositionView(
            j.Key, j.Value.Version, j.Value.Occurrence, j.Value.StepId, j.Value.HeldOut, j.Value.EntryReason, j.Value.EnteredAt, j.Value.StepSince,
            j.Value.WaitUntil, j.Value.LastExitAt, j.Value.LastExitReason))],
    };
}

/// <summary>
/// One journey's position: the version and passage the visitor is on and why they entered it, the step they are at
/// (null: not inside), until when they wait there, and how their last passage ended.
/// </summary>
public sealed record JourneyPositionView(string JourneyId, int Version, int Occurrence, string? StepId, bool HeldOut, string? EntryReason,
    DateTimeOffset? EnteredAt, DateTimeOffset? StepSince, DateTimeOffset? WaitUntil, DateTimeOffset? LastExitAt, string? LastExitReason);

public sealed record PreferencesView(IReadOnlyList<string> Topics, IReadOnlyList<string> ContentTypes, string? Frequency, DateTimeOffset? PausedUntil);

public sealed record OrdersView(int Count, decimal Total, decimal Refunded, DateTimeOffset? FirstAt, DateTimeOffset? LastAt);
