using System.Text.Json.Serialization;
using Actors.Domain.Lifecycle;

namespace Actors.Domain.Tracking;

/// <summary>
/// Everything that happens to a visitor, as stored in that visitor's stream.
/// The type discriminator doubles as the stored event name, so renaming one is a schema change:
/// add a new name (and an upcaster) rather than editing an old one.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "$type")]
[JsonDerivedType(typeof(PageViewed), EventNames.PageViewed)]
[JsonDerivedType(typeof(ProductViewed), EventNames.ProductViewed)]
[JsonDerivedType(typeof(CategoryViewed), EventNames.CategoryViewed)]
[JsonDerivedType(typeof(ProductsSearched), EventNames.ProductsSearched)]
[JsonDerivedType(typeof(CartItemAdded), EventNames.CartItemAdded)]
[JsonDerivedType(typeof(CartItemRemoved), EventNames.CartItemRemoved)]
[JsonDerivedType(typeof(CheckoutStarted), EventNames.CheckoutStarted)]
[JsonDerivedType(typeof(OrderPlaced), EventNames.OrderPlaced)]
[JsonDerivedType(typeof(OrderRefunded), EventNames.OrderRefunded)]
[JsonDerivedType(typeof(Registered), EventNames.Registered)]
[JsonDerivedType(typeof(Identified), EventNames.Identified)]
[JsonDerivedType(typeof(NewsletterSubscribed), EventNames.NewsletterSubscribed)]
[JsonDerivedType(typeof(NewsletterUnsubscribed), EventNames.NewsletterUnsubscribed)]
[JsonDerivedType(typeof(PreferencesUpdated), EventNames.PreferencesUpdated)]
[JsonDerivedType(typeof(ConsentGiven), EventNames.ConsentGiven)]
[JsonDerivedType(typeof(ConsentWithdrawn), EventNames.ConsentWithdrawn)]
[JsonDerivedType(typeof(AttributesUpdated), EventNames.AttributesUpdated)]
[JsonDerivedType(typeof(BehaviourTracked), EventNames.BehaviourTracked)]
[JsonDerivedType(typeof(StageChanged), EventNames.StageChanged)]
[JsonDerivedType(typeof(ProfilesMerged), EventNames.ProfilesMerged)]
[JsonDerivedType(typeof(MergedInto), EventNames.MergedInto)]
[JsonDerivedType(typeof(SegmentEntered), EventNames.SegmentEntered)]
[JsonDerivedType(typeof(SegmentLeft), EventNames.SegmentLeft)]
[JsonDerivedType(typeof(DeviceLinked), EventNames.DeviceLinked)]
[JsonDerivedType(typeof(DeviceUnlinked), EventNames.DeviceUnlinked)]
[JsonDerivedType(typeof(ForwardingChanged), EventNames.ForwardingChanged)]
[JsonDerivedType(typeof(ProfilesUnmerged), EventNames.ProfilesUnmerged)]
[JsonDerivedType(typeof(MergeUndone), EventNames.MergeUndone)]
[JsonDerivedType(typeof(JourneyEntered), EventNames.JourneyEntered)]
[JsonDerivedType(typeof(JourneyStepTaken), EventNames.JourneyStepTaken)]
[JsonDerivedType(typeof(MessageDecided), EventNames.MessageDecided)]
[JsonDerivedType(typeof(JourneyGoalReached), EventNames.JourneyGoalReached)]
[JsonDerivedType(typeof(JourneyExited), EventNames.JourneyExited)]
[JsonDerivedType(typeof(JourneyVersionChanged), EventNames.JourneyVersionChanged)]
[JsonDerivedType(typeof(MessageSent), EventNames.MessageSent)]
[JsonDerivedType(typeof(MessageDelivered), EventNames.MessageDelivered)]
[JsonDerivedType(typeof(MessageBounced), EventNames.MessageBounced)]
[JsonDerivedType(typeof(MessageFailed), EventNames.MessageFailed)]
[JsonDerivedType(typeof(MessageOpened), EventNames.MessageOpened)]
[JsonDerivedType(typeof(MessageClicked), EventNames.MessageClicked)]
[JsonDerivedType(typeof(MessageDismissed), EventNames.MessageDismissed)]
[JsonDerivedType(typeof(PushSubscribed), EventNames.PushSubscribed)]
[JsonDerivedType(typeof(PushUnsubscribed), EventNames.PushUnsubscribed)]
[JsonDerivedType(typeof(ProfileErased), EventNames.ProfileErased)]
public abstract record VisitorEvent
{
    /// <summary>The client's idempotency key (Segment's messageId); derived events get one made from their cause.</summary>
    public required string MessageId { get; init; }

    /// <summary>When it happened, by the client's clock.</summary>
    public required DateTimeOffset EventTime { get; init; }

    /// <summary>When we received it.</summary>
    public required DateTimeOffset ReceivedTime { get; init; }

    /// <summary>
    /// The time the client sent, when the edge stored another (skew corrected with sentAt, or clamped: README "Event
    /// time"); null when they agree. Left out of the JSON when null, so events stored before it existed read the same.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? ClientTime { get; init; }

    /// <summary>Derived events are decisions of ours, not behaviour of the visitor: they are never carried in a merge.</summary>
    [JsonIgnore]
    public bool IsDerived => this is StageChanged or ProfilesMerged or MergedInto or SegmentEntered or SegmentLeft
        or DeviceLinked or DeviceUnlinked or ForwardingChanged or ProfilesUnmerged or MergeUndone
        or JourneyEntered or JourneyStepTaken or MessageDecided or JourneyGoalReached or JourneyExited or JourneyVersionChanged
        or MessageSent or MessageDelivered or MessageBounced or MessageFailed or ProfileErased;
}

public sealed record PageViewed(string? Name, string? Category, string? Url, string? Referrer) : VisitorEvent
{
    /// <summary>The message's context.campaign (UTM tags an SDK read from the landing URL), when it had one.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public CampaignTags? Campaign { get; init; }
}

/// <summary>UTM tags: utm_source, utm_medium, utm_campaign (Segment's context.campaign source, medium, name).</summary>
public sealed record CampaignTags(string? Source, string? Medium, string? Name);

public sealed record ProductViewed(string Sku, string? Category, string? Brand, decimal? Price) : VisitorEvent;

public sealed record CategoryViewed(string Category) : VisitorEvent;

public sealed record ProductsSearched(string Query) : VisitorEvent;

public sealed record CartItemAdded(string Sku, string? Category, int Quantity, decimal? Price) : VisitorEvent;

public sealed record CartItemRemoved(string Sku, int Quantity) : VisitorEvent;

public sealed record CheckoutStarted(string? CheckoutId, decimal? Total, string? Currency) : VisitorEvent;

public sealed record OrderLine(string Sku, string? Category, int Quantity, decimal Price);

public enum SalesChannel { Online, Store }

public sealed record OrderPlaced(string OrderId, IReadOnlyList<OrderLine> Lines, decimal Total, string Currency, SalesChannel Channel) : VisitorEvent;

/// <summary>A refund; no amount means the whole order (as the Segment spec's Order Refunded allows).</summary>
public sealed record OrderRefunded(string OrderId, decimal? Amount, string Currency) : VisitorEvent;

public enum RegistrationKind { Newsletter, Account }

public sealed record Registered(RegistrationKind Kind) : VisitorEvent;

/// <summary>The visitor told us who they are; traits are what came with it (Segment identify).</summary>
public sealed record Identified(string UserId, IReadOnlyDictionary<string, string> Traits) : VisitorEvent;

public sealed record NewsletterSubscribed(string? Source) : VisitorEvent;

public sealed record NewsletterUnsubscribed(string? Reason, string? Source) : VisitorEvent;

/// <summary>Only the fields present change; a null list or value leaves that preference as it was.</summary>
public sealed record PreferencesUpdated(
    IReadOnlyList<string>? Topics,
    IReadOnlyList<string>? ContentTypes,
    string? Frequency,
    DateTimeOffset? PausedUntil,
    bool ClearPause) : VisitorEvent;

/// <summary>Consent given, with where it was given and which wording the visitor saw (both null in events stored before they were kept).</summary>
public sealed record ConsentGiven(string Channel, string Purpose) : VisitorEvent
{
    /// <summary>Where: "tracking_api" (or the source the shop sent), "preference_centre", "unsubscribe_landing", "one_click".</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Source { get; init; }

    /// <summary>The version of the consent text the visitor agreed to (the shop's "consentVersion").</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? WordingVersion { get; init; }
}

public sealed record ConsentWithdrawn(string Channel, string Purpose) : VisitorEvent
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Source { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? WordingVersion { get; init; }
}

/// <summary>CRM or offline data about the visitor. A null value removes the attribute.</summary>
public sealed record AttributesUpdated(IReadOnlyDictionary<string, string?> Attributes, string Source) : VisitorEvent;

/// <summary>A shop's own track event outside our vocabulary: kept as it came so rules can use it.</summary>
public sealed record BehaviourTracked(string Name, IReadOnlyDictionary<string, string> Properties) : VisitorEvent;

/// <summary>Derived: the lifecycle stage moved, and why.</summary>
public sealed record StageChanged(Stage From, Stage To, LeadKind? LeadKind, string Reason) : VisitorEvent;

/// <summary>
/// Derived: another profile's history was carried into this one (identity stitching). The <see cref="EventCount"/>
/// carried events are the ones stored just before this event, which is how an unmerge finds them again.
/// </summary>
public sealed record ProfilesMerged(string SourceProfileId, int EventCount) : VisitorEvent
{
    /// <summary>The source's stream version this merge covers: a retried merge carries only what came after it.</summary>
    public long? SourceVersion { get; init; }

    /// <summary>Who asked for it, when not a visitor's own login (an explicit merge of two known customers).</summary>
    public string? Actor { get; init; }

    public string? Reason { get; init; }
}

/// <summary>Derived: the last event of a profile whose history now lives in another one.</summary>
public sealed record MergedInto(string TargetProfileId) : VisitorEvent
{
    public string? Actor { get; init; }
    public string? Reason { get; init; }
}

/// <summary>
/// Derived: a device (its alias) now belongs to this profile without its history, because it identified as this
/// customer while it belonged to another one (a shared device).
/// </summary>
public sealed record DeviceLinked(string Alias, string PreviousProfileId) : VisitorEvent;

/// <summary>Derived: a device of this profile now belongs to another customer; what it did until now stays here.</summary>
public sealed record DeviceUnlinked(string Alias, string NextProfileId) : VisitorEvent;

/// <summary>Derived: calls to this ended profile (a device's own) now go to another profile.</summary>
public sealed record ForwardingChanged(string TargetProfileId) : VisitorEvent;

/// <summary>Derived: a merge was undone; the events it carried in no longer count here (they live on in the source).</summary>
public sealed record ProfilesUnmerged(string SourceProfileId, string Actor, string Reason) : VisitorEvent
{
    /// <summary>The orders the merge had carried in, which count here no more (reporting projections subtract them).</summary>
    public IReadOnlyList<string> OrderIdsTakenBack { get; init; } = [];
}

/// <summary>Derived: this profile, once merged into <see cref="TargetProfileId"/>, is its own again.</summary>
public sealed record MergeUndone(string TargetProfileId, string Actor, string Reason) : VisitorEvent
{
    /// <summary>This profile's orders, counted again here (reporting projections had let them go at the merge).</summary>
    public OrderHistory? Orders { get; init; }
}

/// <summary>A profile's orders as reporting needs them: count, net total, latest time, and the latest ids with their totals.</summary>
public sealed record OrderHistory(int Count, decimal NetTotal, DateTimeOffset? LastAt, IReadOnlyList<string> Ids, IReadOnlyList<decimal> Totals);

/// <summary>Derived: the visitor now matches a segment's rule (at that rule version), and why.</summary>
public sealed record SegmentEntered(string SegmentId, int RuleVersion, string Reason) : VisitorEvent;

/// <summary>Derived: the visitor no longer matches a segment (the rule stopped holding, changed, or was archived).</summary>
public sealed record SegmentLeft(string SegmentId, int RuleVersion, string Reason) : VisitorEvent;

/// <summary>
/// Derived: the visitor entered a journey at a version (held out: counted, but sent nothing), and why; by a marketer's
/// trigger, <see cref="TriggerId"/> names it, so a retried trigger recognises the visitor it already let in.
/// </summary>
public sealed record JourneyEntered(string JourneyId, int JourneyVersion, int Occurrence, bool HeldOut, string Reason) : VisitorEvent
{
    public string? TriggerId { get; init; }

    /// <summary>
    /// The step the visitor starts at, and until when it waits there when that step is a wait: the entry places them, so
    /// no step event repeats it (null in streams from before this was recorded, where a <see cref="JourneyStepTaken"/> follows).
    /// </summary>
    public string? StepId { get; init; }

    public DateTimeOffset? WaitUntil { get; init; }
}

/// <summary>
/// Derived: the visitor is now at <see cref="StepId"/> of a journey (null: the passage ended), having left
/// <see cref="FromStepId"/> by <see cref="Outcome"/> ("next", "branch:vip", "split:b", "event", "timeout", "sent"…).
/// <see cref="WaitUntil"/> is set when the new step is a wait: arriving starts the wait, in the same event.
/// </summary>
public sealed record JourneyStepTaken(
    string JourneyId, int JourneyVersion, int Occurrence, string? FromStepId, string Outcome, string? StepId, DateTimeOffset? WaitUntil) : VisitorEvent;

public enum MessageOutcome { Sent, Suppressed, Deferred }

/// <summary>
/// Derived: a message the journey decided, and the policy's verdict with its reason. Written in the same append as the
/// step, so a crash can neither lose nor repeat it; <see cref="MessageKey"/> (profile, journey, version, step,
/// occurrence) is the idempotency key the channels deliver by.
/// </summary>
public sealed record MessageDecided(
    string JourneyId, int JourneyVersion, string StepId, int Occurrence, string Channel, string Template, string? Topic, string? ContentType,
    string Kind, MessageOutcome Outcome, string Reason, string MessageKey, DateTimeOffset? NotBefore) : VisitorEvent;

/// <summary>Derived: the journey's goal event arrived (a conversion, when within the attribution window); the passage ends.</summary>
public sealed record JourneyGoalReached(string JourneyId, int JourneyVersion, int Occurrence, string GoalMessageId, bool WithinAttribution) : VisitorEvent;

/// <summary>Derived: the passage ended without the goal (an exit step, the end of the graph, a segment left, the journey archived).</summary>
public sealed record JourneyExited(string JourneyId, int JourneyVersion, int Occurrence, string Reason) : VisitorEvent;

/// <summary>Derived: the marketer moved visitors inside an older version over to the current one; the visitor goes on from the same step there.</summary>
public sealed record JourneyVersionChanged(string JourneyId, int FromVersion, int ToVersion, int Occurrence, string StepId) : VisitorEvent;

/// <summary>
/// What a channel's provider did with a decided message, reported back into the visitor's stream (message id
/// "{MessageKey}:{outcome}", so a repeated report is a duplicate). Sent, delivered, bounced and failed are our own
/// records (derived: never carried in a merge, not activity); opened and clicked are the visitor's behaviour.
/// </summary>
public abstract record MessageOutcomeEvent(string MessageKey, string Channel) : VisitorEvent
{
    /// <summary>The journey and step that decided the message, where the reporter knows them (for per-journey figures).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? JourneyId { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? StepId { get; init; }
}

/// <summary>The provider accepted the message (SMTP 250, a gateway's 2xx, a push service's 201).</summary>
public sealed record MessageSent(string MessageKey, string Channel, string? ProviderMessageId, int Attempts) : MessageOutcomeEvent(MessageKey, Channel);

/// <summary>The provider reported the message delivered to the visitor's mailbox or device.</summary>
public sealed record MessageDelivered(string MessageKey, string Channel) : MessageOutcomeEvent(MessageKey, Channel);

/// <summary>The address refused the message; a permanent bounce makes the address unusable for the channel.</summary>
public sealed record MessageBounced(string MessageKey, string Channel, string Reason, bool Permanent) : MessageOutcomeEvent(MessageKey, Channel);

/// <summary>Delivery gave up: a permanent refusal by the provider, no address, or the retries ran out.</summary>
public sealed record MessageFailed(string MessageKey, string Channel, string Reason, int Attempts) : MessageOutcomeEvent(MessageKey, Channel);

/// <summary>The visitor opened the message (an email's tracking pixel, a push notification's click-through counts too).</summary>
public sealed record MessageOpened(string MessageKey, string Channel) : MessageOutcomeEvent(MessageKey, Channel);

/// <summary>The visitor followed a tracked link of the message.</summary>
public sealed record MessageClicked(string MessageKey, string Channel, string Url) : MessageOutcomeEvent(MessageKey, Channel);

/// <summary>The visitor closed an on-site message (message id "{MessageKey}:dismissed"); it is not shown again.</summary>
public sealed record MessageDismissed(string MessageKey, string Channel) : MessageOutcomeEvent(MessageKey, Channel);

/// <summary>A browser's web push subscription (the PushSubscription JSON: endpoint and the keys p256dh and auth).</summary>
public sealed record PushSubscribed(string Endpoint, string P256dh, string Auth) : VisitorEvent;

/// <summary>The subscription ended: the visitor turned it off, or the push service answered 404/410 Gone.</summary>
public sealed record PushUnsubscribed(string Endpoint, string Reason) : VisitorEvent;

/// <summary>
/// Derived: the person's data was erased (right to erasure). Everything before this event no longer counts: the profile
/// starts again empty from here, keeping only its id (and user id) so identity and later events still route. The events
/// before it are masked in place, so their count and types (what reports read) stay.
/// </summary>
public sealed record ProfileErased(string Actor) : VisitorEvent;
