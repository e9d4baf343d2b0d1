namespace Actors.Storage.Segments;

/// <summary>A marketer's segment as stored: its current rule and every earlier version of it.</summary>
public sealed record SegmentDocument : Definitions.IRevisioned<SegmentDocument>
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required int Version { get; init; }
    public required string RuleJson { get; init; }
    public required string Description { get; init; }
    public bool Archived { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    /// <summary>Wall-clock time of the change, for people; never compared across nodes (clocks differ).</summary>
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>
    /// Set by <see cref="SegmentStore"/> from a PostgreSQL sequence at every save, under a lock that orders saves by it:
    /// the catalogue's version, and what a client sends back (If-Match) so a stale update gets 409 instead of winning.
    /// </summary>
    public long Revision { get; init; }

    public SegmentDocument WithRevision(string id, long revision) => this with { Id = id, Revision = revision };

    public IReadOnlyList<SegmentVersion> History { get; init; } = [];

    /// <summary>Where to tell other tools (ad servers, CRM) of members entering and leaving, if anywhere.</summary>
    public SegmentWebhook? Webhook { get; init; }
}

/// <summary>A subscription: deliveries are POSTed to <see cref="Url"/>, signed with HMAC-SHA256 under <see cref="Secret"/>.</summary>
public sealed record SegmentWebhook(string Url, string Secret);

public enum DeliveryStatus { Pending, Delivered, Dead }

/// <summary>
/// One webhook call to make, written in the same transaction as the membership event (an outbox), so a change is
/// never lost; sent at least once, retried with backoff. Receivers deduplicate by <see cref="Id"/>.
/// </summary>
public sealed record WebhookDelivery
{
    public required string Id { get; init; }
    public required string SegmentId { get; init; }
    public required string ProfileId { get; init; }
    public required string Change { get; init; }
    public required int RuleVersion { get; init; }
    public required string Reason { get; init; }
    public required DateTimeOffset At { get; init; }
    public DeliveryStatus Status { get; init; } = DeliveryStatus.Pending;
    public int Attempts { get; init; }
    public DateTimeOffset NextAttemptAt { get; init; }
    public string? LastError { get; init; }
    public DateTimeOffset? DeliveredAt { get; init; }
}

public sealed record SegmentVersion(int Version, string RuleJson, DateTimeOffset At);

/// <summary>One member of one segment, kept in the same transaction as the event that let them in (inline projection).</summary>
public sealed record SegmentMember(string Id, string SegmentId, string ProfileId, int RuleVersion, DateTimeOffset Since)
{
    public static string IdFor(string segmentId, string profileId) => $"{segmentId}|{profileId}";
}

/// <summary>A segment's size at a moment, for the size-over-time chart.</summary>
public sealed record SegmentSize(string Id, string SegmentId, DateTimeOffset At, int Members);

/// <summary>What RFM needs of a customer, kept inline with the order events: the population's quantiles come from these.</summary>
public sealed record CustomerValue(string Id, int Orders, decimal Total, DateTimeOffset? LastOrderAt)
{
    /// <summary>The latest order ids (bounded as the profile's are), so an order reported twice counts once here too.</summary>
    public IReadOnlyList<string> OrderIds { get; init; } = [];

    /// <summary>Those orders' totals, aligned with <see cref="OrderIds"/>, for refunds that name no amount.</summary>
    public IReadOnlyList<decimal> OrderTotals { get; init; } = [];
}
