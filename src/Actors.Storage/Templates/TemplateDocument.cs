namespace Actors.Storage.Templates;

/// <summary>
/// A message template as stored: Liquid text per part (checked when saved, see Actors.Channels' TemplateCheck), the
/// channel it is written for (null: any), and the revision a client sends back (If-Match) and the renderers' caches key on.
/// </summary>
public sealed record TemplateDocument : Definitions.IRevisioned<TemplateDocument>
{
    public required string Id { get; init; }

    /// <summary>email, sms, push, web or webhook; null when the template may serve any channel.</summary>
    public string? Channel { get; init; }

    /// <summary>The email subject, or a push notification's title.</summary>
    public string? Subject { get; init; }

    public string? Html { get; init; }

    /// <summary>The plain-text part of an email, an SMS, or a push notification's body.</summary>
    public string? Text { get; init; }

    /// <summary>Where a push notification or an on-site message leads.</summary>
    public string? Url { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Wall-clock time of the change, for people; never compared across nodes (clocks differ).</summary>
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>Set by <see cref="TemplateStore"/> from a PostgreSQL sequence at every save, in commit order.</summary>
    public long Revision { get; init; }

    public TemplateDocument WithRevision(string id, long revision) => this with { Id = id, Revision = revision };
}
