namespace Actors.Domain.Profiles;

/// <summary>
/// What a browser may read of its own visitor's profile (ingest key): enough to personalise a page, nothing that
/// names or describes the customer. No profile id (often an e-mail address), user id, attributes, orders, cart,
/// consents or merge links: an ingest key is public, it sits in every shop page.
/// </summary>
public sealed record VisitorView(string Stage, string? LeadKind, IReadOnlyList<string> Segments, VisitorPreferences Preferences, long Version)
{
    public static VisitorView From(ProfileView p) => new(
        p.Stage, p.LeadKind, p.Segments, new VisitorPreferences(p.Preferences.Topics, p.Preferences.ContentTypes), p.Version);
}

/// <summary>The topics and content types the visitor chose, which a page may use to pick what to show.</summary>
public sealed record VisitorPreferences(IReadOnlyList<string> Topics, IReadOnlyList<string> ContentTypes);
