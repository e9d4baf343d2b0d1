using System.Text.Json.Serialization;
using Actors.Domain.Lifecycle;
using Actors.Domain.Tracking;

namespace Actors.Domain.Profiles;

/// <summary>
/// What we know of one visitor: the fold of their stream. <see cref="Apply"/> is the only way it changes, it reads no
/// clock and does no I/O, so replaying the same events always gives the same profile.
/// Out-of-order events (event time earlier than one already applied) are applied in arrival order: counters file
/// them under their own day, "last seen" times only move forward, and the stage changes only through
/// <see cref="StageChanged"/> events, so a late event can never move a visitor backwards.
/// </summary>
public sealed class VisitorProfile
{
    public VisitorProfile(string profileId) => ProfileId = profileId;

    [JsonInclude] public string ProfileId { get; private set; }

    /// <summary>Number of events applied; equals the stream version.</summary>
    [JsonInclude] public long Version { get; private set; }

    [JsonInclude] public Stage Stage { get; private set; } = Stage.Anonymous;
    [JsonInclude] public LeadKind? LeadKind { get; private set; }
    [JsonInclude] public DateTimeOffset? StageSince { get; private set; }

    /// <summary>How many times "last activity" moved forward, and how many times it had when the stage last changed.</summary>
    [JsonInclude] public long ActivityCount { get; private set; }
    [JsonInclude] public long ActivityCountAtStage { get; private set; }

    /// <summary>Whether the visitor did anything since the stage last changed (only that can bring them back from at-risk).</summary>
    public bool ActiveSinceStageChange => ActivityCount > ActivityCountAtStage;

    [JsonInclude] public string? UserId { get; private set; }
    [JsonInclude] public DateTimeOffset? FirstSeen { get; private set; }

    /// <summary>Latest event time of anything the visitor did (not CRM updates, not our own decisions).</summary>
    [JsonInclude] public DateTimeOffset? LastActivity { get; private set; }

    /// <summary>Latest event time of any event applied, used as "now" for counter pruning during replay.</summary>
    [JsonInclude] public DateTimeOffset? NewestEventTime { get; private set; }

    [JsonInclude] public bool HasAccount { get; private set; }
    [JsonInclude] public bool IsNewsletterSubscriber { get; private set; }
    [JsonInclude] public DateTimeOffset? NewsletterChangedAt { get; private set; }

    [JsonInclude] public Dictionary<string, string> Attributes { get; private set; } = new(StringComparer.Ordinal);

    /// <summary>Granted consents by "channel:purpose", with when they were given. Withdrawn ones are removed.</summary>
    [JsonInclude] public Dictionary<string, DateTimeOffset> Consents { get; private set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Withdrawn consents by "channel:purpose", with when; giving the consent again removes the entry. Kept so the message
    /// policy can tell "withdrawn" (blocks even a transactional message) from "never given".
    /// </summary>
    [JsonInclude]
    public IReadOnlyDictionary<string, DateTimeOffset> WithdrawnConsents
    {
        get => _withdrawn ?? NoTimes;
        private set => _withdrawn = value.Count == 0 ? null : new Dictionary<string, DateTimeOffset>(value, StringComparer.Ordinal);
    }

    // Collections most visitors never use are made on first use: a profile is held by every active grain, and empty
    // dictionaries cost about 80 bytes each (see the bytes-per-grain benchmark).
    private Dictionary<string, DateTimeOffset>? _withdrawn;
    private Dictionary<string, long>? _absorbedUpTo;
    private Dictionary<string, JourneyPosition>? _journeys;
    private MessageLog? _messages;
    private static readonly IReadOnlyDictionary<string, DateTimeOffset> NoTimes = new Dictionary<string, DateTimeOffset>();
    private static readonly IReadOnlyDictionary<string, long> NoVersions = new Dictionary<string, long>();
    private static readonly IReadOnlyDictionary<string, JourneyPosition> NoJourneys = new Dictionary<string, JourneyPosition>();

    [JsonInclude] public Preferences Preferences { get; private set; } = new();
    [JsonInclude] public OrderSummary Orders { get; private set; } = new();
    [JsonInclude] public CartState Cart { get; private set; } = new();
    [JsonInclude] public ActivityCounters Counters { get; private set; } = new();
    [JsonInclude] public RecentMessageIds RecentMessages { get; private set; } = new();

    /// <summary>Profiles whose history was carried into this one.</summary>
    [JsonInclude] public List<string> MergedFrom { get; private set; } = [];

    /// <summary>For each merged source, the source stream version carried so far (a retried merge carries the rest).</summary>
    [JsonInclude]
    public IReadOnlyDictionary<string, long> AbsorbedUpTo
    {
        get => _absorbedUpTo ?? NoVersions;
        private set => _absorbedUpTo = value.Count == 0 ? null : new Dictionary<string, long>(value, StringComparer.Ordinal);
    }

    /// <summary>The visitor's place in each journey they ever entered, by journey id.</summary>
    [JsonInclude]
    public IReadOnlyDictionary<string, JourneyPosition> Journeys
    {
        get => _journeys ?? NoJourneys;
        private set => _journeys = value.Count == 0 ? null : new Dictionary<string, JourneyPosition>(value, StringComparer.Ordinal);
    }

    /// <summary>Recent messages sent to the visitor (for caps and frequency).</summary>
    [JsonInclude]
    public MessageLog Messages
    {
        get => _messages ?? MessageLog.Empty;
        private set => _messages = value.Sent.Count == 0 ? null : value;
    }

    /// <summary>The visitor's web push subscriptions (browsers that allowed notifications), by endpoint, newest last.</summary>
    [JsonInclude]
    public IReadOnlyList<PushSubscription> PushSubscriptions
    {
        get => _push ?? (IReadOnlyList<PushSubscription>)[];
        private set => _push = value.Count == 0 ? null : [.. value];
    }

    private List<PushSubscription>? _push;

    /// <summary>At most this many push subscriptions are kept (the newest): one per browser the visitor uses.</summary>
    public const int PushSubscriptionsKept = 8;

    /// <summary>
    /// Journeys' on-site messages not dismissed yet, oldest first (at most <see cref="OnSiteMessagesKept"/>); whether
    /// one has expired is the decision's (<see cref="Channels.OnSiteDecisions"/>), which knows the lifetime.
    /// </summary>
    [JsonInclude]
    public IReadOnlyList<OnSiteMessage> OnSiteMessages
    {
        get => _onSite ?? (IReadOnlyList<OnSiteMessage>)[];
        private set => _onSite = value.Count == 0 ? null : [.. value];
    }

    private List<OnSiteMessage>? _onSite;

    public const int OnSiteMessagesKept = 8;

    /// <summary>
    /// The products the visitor viewed last, newest first, one entry per sku (its latest view), at most
    /// <see cref="RecentlyViewedKept"/>: what a message may remind them of. Null (no list) for visitors who viewed nothing.
    /// </summary>
    [JsonInclude]
    public IReadOnlyList<ViewedProduct> RecentlyViewed
    {
        get => _viewed ?? (IReadOnlyList<ViewedProduct>)[];
        private set => _viewed = value.Count == 0 ? null : [.. value.Take(RecentlyViewedKept)];
    }

    private List<ViewedProduct>? _viewed;

    /// <summary>Enough for a "you looked at" block; a profile is held by every active grain, so no more.</summary>
    public const int RecentlyViewedKept = 5;

    /// <summary>Segments the visitor is in, with the rule version that let them in.</summary>
    [JsonInclude] public Dictionary<string, int> Segments { get; private set; } = new(StringComparer.Ordinal);

    /// <summary>Set when this profile's history now lives elsewhere; its stream has ended.</summary>
    [JsonInclude] public string? MergedIntoProfileId { get; private set; }

    /// <summary>
    /// Where calls to this ended profile go: the profile it merged into, unless its device has since been taken over
    /// by another customer. Null while the profile is live.
    /// </summary>
    [JsonInclude] public string? ForwardTo { get; private set; }

    /// <summary>
    /// The email address a mail server refused for good (a permanent bounce), while it is still the visitor's address:
    /// no more email goes to it; a new address (identify, CRM) clears it.
    /// </summary>
    [JsonInclude, JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? BouncedEmail { get; private set; }

    /// <summary>The visitor's email address (the "email" attribute), if any.</summary>
    [JsonIgnore]
    public string? Email => Attributes.TryGetValue("email", out var email) && !string.IsNullOrWhiteSpace(email) ? email : null;

    /// <summary>The visitor's phone number (the "phone" attribute), if any.</summary>
    [JsonIgnore]
    public string? Phone => Attributes.TryGetValue("phone", out var phone) && !string.IsNullOrWhiteSpace(phone) ? phone : null;

    public bool HasSeen(string messageId) => RecentMessages.Contains(messageId);

    public static string ConsentKey(string channel, string purpose) =>
        string.Concat(channel.ToLowerInvariant(), ":", purpose.ToLowerInvariant());

    /// <summary>Counts an event without applying it: one that a later unmerge took back (see <see cref="ProfileFold"/>).</summary>
    internal void Skip() => Version++;

    public void Apply(VisitorEvent e)
    {
        Version++;
        RecentMessages.Remember(e.MessageId);
        if (NewestEventTime is null || e.EventTime > NewestEventTime) NewestEventTime = e.EventTime;
        FirstSeen = FirstSeen is null || e.EventTime < FirstSeen ? e.EventTime : FirstSeen;

        // An order reported twice (online, then by a store import) is one order: it counts once, here too.
        var repeatedOrder = e is OrderPlaced placed && Orders.OrderIds.Contains(placed.OrderId);
        if (CountsAsActivity(e))
        {
            if (LastActivity is null || e.EventTime > LastActivity)
            {
                LastActivity = e.EventTime;
                ActivityCount++; // only activity that moves "last seen" forward counts as coming back
            }
            if (!repeatedOrder) Counters.Add(EventNames.Of(e), e.EventTime, newestSeen: NewestEventTime);
        }
        else if (e is MessageOutcomeEvent)
        {
            // Counted for rules ("opened nothing in 60 days", "3 emails this week") without being a visit to the shop.
            Counters.Add(EventNames.Of(e), e.EventTime, newestSeen: NewestEventTime);
        }

        switch (e)
        {
            case PageViewed p when p.Category is not null:
                Counters.Add(ActivityCounters.KeyFor(EventNames.PageViewed, p.Category), e.EventTime, newestSeen: NewestEventTime);
                break;
            case ProductViewed p:
                if (p.Category is not null)
                    Counters.Add(ActivityCounters.KeyFor(EventNames.ProductViewed, p.Category), e.EventTime, newestSeen: NewestEventTime);
                KeepViewed(p);
                break;
            case CategoryViewed c:
                Counters.Add(ActivityCounters.KeyFor(EventNames.CategoryViewed, c.Category), e.EventTime, newestSeen: NewestEventTime);
                break;
            case CartItemAdded a:
                Cart.Add(a.Sku, a.Quantity, e.EventTime);
                if (a.Category is not null)
                    Counters.Add(ActivityCounters.KeyFor(EventNames.CartItemAdded, a.Category), e.EventTime, newestSeen: NewestEventTime);
                break;
            case BehaviourTracked b:
                // A shop's own events are counted by name too, so rules can use them ("video played 3 times").
                Counters.Add(ActivityCounters.KeyFor(EventNames.BehaviourTracked, b.Name), e.EventTime, newestSeen: NewestEventTime);
                break;
            case CartItemRemoved r:
                Cart.Remove(r.Sku, r.Quantity, e.EventTime);
                break;
            case CheckoutStarted:
                Cart.CheckoutStartedAt = e.EventTime;
                break;
            case OrderPlaced o:
                if (Orders.Record(o))
                {
                    Cart.Clear(e.EventTime);
                    foreach (var category in o.Lines.Select(l => l.Category).OfType<string>().Distinct(StringComparer.OrdinalIgnoreCase))
                        Counters.Add(ActivityCounters.KeyFor(EventNames.OrderPlaced, category), e.EventTime, newestSeen: NewestEventTime);
                }
                break;
            case OrderRefunded r:
                Orders.Refund(r);
                break;
            case Registered r:
                if (r.Kind == RegistrationKind.Account) HasAccount = true;
                else SetNewsletter(true, e.EventTime);
                break;
            case Identified i:
                // A profile belongs to the first user who identified in it: carried history never renames it.
                UserId ??= i.UserId;
                HasAccount = true;
                foreach (var (key, value) in i.Traits) Attributes[key] = value;
                break;
            case NewsletterSubscribed:
                SetNewsletter(true, e.EventTime);
                break;
            case NewsletterUnsubscribed:
                SetNewsletter(false, e.EventTime);
                break;
            case PreferencesUpdated p:
                Preferences.Update(p);
                break;
            case ConsentGiven c:
            {
                var key = ConsentKey(c.Channel, c.Purpose);
                Consents[key] = e.EventTime;
                _withdrawn?.Remove(key);
                (ConsentRecords ??= new(StringComparer.Ordinal))[key] = new ConsentRecord("given", e.EventTime, c.Source, c.WordingVersion);
                break;
            }
            case ConsentWithdrawn c:
            {
                var key = ConsentKey(c.Channel, c.Purpose);
                Consents.Remove(key);
                (_withdrawn ??= new(StringComparer.Ordinal))[key] = e.EventTime;
                (ConsentRecords ??= new(StringComparer.Ordinal))[key] = new ConsentRecord("withdrawn", e.EventTime, c.Source, c.WordingVersion);
                break;
            }
            case AttributesUpdated a:
                foreach (var (key, value) in a.Attributes)
                {
                    if (value is null) Attributes.Remove(key);
                    else Attributes[key] = value;
                }
                break;
            case StageChanged s:
                Stage = s.To;
                LeadKind = s.LeadKind;
                StageSince = e.EventTime;
                ActivityCountAtStage = ActivityCount;
                break;
            case ProfilesMerged m:
                if (!MergedFrom.Contains(m.SourceProfileId)) MergedFrom.Add(m.SourceProfileId);
                // Merges recorded before source versions were kept covered the whole source.
                (_absorbedUpTo ??= new(StringComparer.Ordinal))[m.SourceProfileId] =
                    Math.Max(AbsorbedUpTo.GetValueOrDefault(m.SourceProfileId), m.SourceVersion ?? long.MaxValue);
                break;
            case MergedInto m:
                MergedIntoProfileId = m.TargetProfileId;
                ForwardTo = m.TargetProfileId;
                break;
            case ForwardingChanged f when MergedIntoProfileId is not null: // only an ended profile forwards
                ForwardTo = f.TargetProfileId;
                break;
            case ProfilesUnmerged u:
                MergedFrom.Remove(u.SourceProfileId);
                _absorbedUpTo?.Remove(u.SourceProfileId);
                break;
            case MergeUndone:
                MergedIntoProfileId = null;
                ForwardTo = null;
                break;
            case JourneyEntered j:
            {
                var position = Journey(j.JourneyId);
                position.Version = j.JourneyVersion;
                position.Occurrence = j.Occurrence;
                position.HeldOut = j.HeldOut;
                position.EntryReason = j.Reason;
                position.EnteredAt = e.EventTime;
                position.EnteredByTrigger = j.TriggerId is not null;
                if (j.TriggerId is { } triggerId) position.RecordTrigger(triggerId);
                if (j.StepId is { } first) (position.StepId, position.StepSince, position.WaitUntil) = (first, e.EventTime, j.WaitUntil);
                break;
            }
            case JourneyStepTaken j:
            {
                var position = Journey(j.JourneyId);
                position.StepId = j.StepId;
                position.StepSince = e.EventTime;
                position.WaitUntil = j.WaitUntil;
                if (j.StepId is null) (position.LastExitAt, position.LastExitReason) = (e.EventTime, j.Outcome);
                break;
            }
            case MessageDecided m:
                if (m.Outcome == MessageOutcome.Sent) (_messages ??= new()).Record(m);
                if (m.Outcome == MessageOutcome.Sent && m.Channel == Channels.OnSiteDecisions.Channel) KeepOnSite(m);
                if (m.Outcome == MessageOutcome.Deferred && Journeys.TryGetValue(m.JourneyId, out var deferred)) deferred.WaitUntil = m.NotBefore;
                break;
            case JourneyGoalReached j:
                EndJourney(j.JourneyId, e.EventTime, "goal");
                break;
            case JourneyExited j:
                EndJourney(j.JourneyId, e.EventTime, j.Reason);
                break;
            case JourneyVersionChanged j when _journeys?.GetValueOrDefault(j.JourneyId) is { } moved:
                moved.Version = j.ToVersion;
                break;
            case PushSubscribed p:
                _push ??= [];
                _push.RemoveAll(x => x.Endpoint == p.Endpoint);
                if (_push.Count == PushSubscriptionsKept) _push.RemoveAt(0);
                _push.Add(new PushSubscription(p.Endpoint, p.P256dh, p.Auth, e.EventTime));
                break;
            case MessageBounced { Permanent: true, Channel: "email" }:
                BouncedEmail = Email;
                break;
            case PushUnsubscribed p when _push is not null:
                _push.RemoveAll(x => x.Endpoint == p.Endpoint);
                if (_push.Count == 0) _push = null;
                break;
            case MessageOpened o when _onSite is not null && o.Channel == Channels.OnSiteDecisions.Channel:
            {
                var shown = _onSite.FindIndex(x => x.MessageKey == o.MessageKey);
                if (shown >= 0) _onSite[shown] = _onSite[shown] with { Shown = true };
                break;
            }
            case MessageDismissed d when _onSite is not null && d.Channel == Channels.OnSiteDecisions.Channel:
                _onSite.RemoveAll(x => x.MessageKey == d.MessageKey);
                if (_onSite.Count == 0) _onSite = null;
                break;
            case SegmentEntered s:
                Segments[s.SegmentId] = s.RuleVersion;
                break;
            case SegmentLeft s:
                Segments.Remove(s.SegmentId);
                break;
            case ProfileErased:
                Forget();
                ErasedAtVersion = Version;
                break;
        }
    }

    /// <summary>The latest consent record per "channel:purpose": given or withdrawn, when, where, which wording.</summary>
    [JsonInclude, JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, ConsentRecord>? ConsentRecords { get; private set; }

    /// <summary>The version of the last <see cref="ProfileErased"/>; null when never erased.</summary>
    [JsonInclude, JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] // not in the snapshots of profiles never erased
    public long? ErasedAtVersion { get; private set; }

    /// <summary>
    /// Right to erasure: everything known about the person goes. Kept: the ids (profile, user) and where an ended
    /// profile forwards, so later events still reach one profile, and the dedupe horizon (message ids, not data).
    /// </summary>
    private void Forget()
    {
        Stage = Stage.Anonymous;
        LeadKind = null;
        StageSince = null;
        ActivityCount = 0;
        ActivityCountAtStage = 0;
        FirstSeen = null;
        LastActivity = null;
        NewestEventTime = null;
        HasAccount = false;
        IsNewsletterSubscriber = false;
        NewsletterChangedAt = null;
        Attributes = new(StringComparer.Ordinal);
        Consents = new(StringComparer.Ordinal);
        _withdrawn = null;
        ConsentRecords = null;
        Preferences = new();
        Orders = new();
        Cart = new();
        Counters = new();
        _journeys = null;
        _messages = null;
        _push = null;
        _onSite = null;
        _viewed = null;
        Segments = new(StringComparer.Ordinal);
        BouncedEmail = null;
    }

    private JourneyPosition Journey(string journeyId)
    {
        _journeys ??= new(StringComparer.Ordinal);
        if (!_journeys.TryGetValue(journeyId, out var position)) _journeys[journeyId] = position = new JourneyPosition();
        return position;
    }

    private void KeepOnSite(MessageDecided m)
    {
        _onSite ??= [];
        _onSite.RemoveAll(x => x.MessageKey == m.MessageKey);
        if (_onSite.Count == OnSiteMessagesKept) _onSite.RemoveAt(0);
        _onSite.Add(new OnSiteMessage(m.MessageKey, m.JourneyId, m.Template, m.EventTime, Shown: false));
    }

    /// <summary>
    /// Files a view by its event time, so a late or carried (merged) view lands where it belongs: a sku viewed again
    /// moves up, an older view of a sku already kept changes nothing, and a view older than a full list's last is dropped.
    /// </summary>
    private void KeepViewed(ProductViewed p)
    {
        if (string.IsNullOrEmpty(p.Sku)) return;
        var viewed = _viewed ??= new(RecentlyViewedKept);
        var had = viewed.FindIndex(x => x.Sku == p.Sku);
        if (had >= 0)
        {
            if (viewed[had].ViewedAt >= p.EventTime) return;
            viewed.RemoveAt(had);
        }
        var at = viewed.FindIndex(x => x.ViewedAt < p.EventTime);
        if (at < 0) at = viewed.Count;
        if (at >= RecentlyViewedKept) return;
        viewed.Insert(at, new ViewedProduct(p.Sku, p.Category, p.EventTime));
        if (viewed.Count > RecentlyViewedKept) viewed.RemoveAt(viewed.Count - 1);
    }

    private void EndJourney(string journeyId, DateTimeOffset at, string reason)
    {
        if (!Journeys.TryGetValue(journeyId, out var position)) return;
        (position.StepId, position.WaitUntil, position.LastExitAt, position.LastExitReason) = (null, null, at, reason);
    }

    private void SetNewsletter(bool subscribed, DateTimeOffset at)
    {
        IsNewsletterSubscriber = subscribed;
        NewsletterChangedAt = at;
    }

    /// <summary>Behaviour of the visitor, as opposed to data about them (CRM) or our own decisions.</summary>
    /// <summary>
    /// Opening or clicking a message is engagement, not a visit: it does not bring a lapsed customer back (the visit that
    /// follows a click does); push subscriptions are settings, like attributes.
    /// </summary>
    public static bool CountsAsActivity(VisitorEvent e) =>
        !e.IsDerived && e is not (AttributesUpdated or MessageOutcomeEvent or PushSubscribed or PushUnsubscribed);
}

public sealed class Preferences
{
    [JsonInclude] public List<string> Topics { get; private set; } = [];
    [JsonInclude] public List<string> ContentTypes { get; private set; } = [];
    [JsonInclude] public string? Frequency { get; private set; }
    [JsonInclude] public DateTimeOffset? PausedUntil { get; private set; }

    public bool IsPaused(DateTimeOffset now) => PausedUntil is { } until && until > now;

    internal void Update(PreferencesUpdated p)
    {
        if (p.Topics is not null) Topics = [.. p.Topics.Distinct(StringComparer.OrdinalIgnoreCase)];
        if (p.ContentTypes is not null) ContentTypes = [.. p.ContentTypes.Distinct(StringComparer.OrdinalIgnoreCase)];
        if (p.Frequency is not null) Frequency = p.Frequency;
        if (p.ClearPause) PausedUntil = null;
        else if (p.PausedUntil is not null) PausedUntil = p.PausedUntil;
    }
}

public sealed class OrderSummary
{
    [JsonInclude] public int Count { get; private set; }
    [JsonInclude] public decimal Total { get; private set; }
    [JsonInclude] public decimal Refunded { get; private set; }
    [JsonInclude] public DateTimeOffset? FirstAt { get; private set; }
    [JsonInclude] public DateTimeOffset? LastAt { get; private set; }
    [JsonInclude] public int StoreCount { get; private set; }

    /// <summary>How many recent order ids are remembered for deduplication.</summary>
    public const int OrderIdsKept = 256;

    /// <summary>
    /// Ids of the latest orders, oldest first, so an order reported twice (online and by a store import) counts once.
    /// Bounded: an order reported again after <see cref="OrderIdsKept"/> newer ones would count twice.
    /// </summary>
    [JsonInclude] public List<string> OrderIds { get; private set; } = [];

    /// <summary>The totals of those orders, in the same order (a refund with no amount refunds the whole order).</summary>
    [JsonInclude] public List<decimal> OrderTotals { get; private set; } = [];

    internal bool Record(OrderPlaced o)
    {
        if (OrderIds.Contains(o.OrderId)) return false;
        if (OrderIds.Count == OrderIdsKept)
        {
            OrderIds.RemoveAt(0);
            if (OrderTotals.Count > 0) OrderTotals.RemoveAt(0);
        }
        // Aligned with OrderIds; a profile from before totals were kept has fewer, and refunds of those need an amount.
        if (OrderTotals.Count == OrderIds.Count) OrderTotals.Add(o.Total);
        OrderIds.Add(o.OrderId);
        Count++;
        Total = SafeMoney.Add(Total, o.Total); // saturating: old streams may hold amounts the edge now refuses
        if (o.Channel == SalesChannel.Store) StoreCount++;
        if (FirstAt is null || o.EventTime < FirstAt) FirstAt = o.EventTime;
        if (LastAt is null || o.EventTime > LastAt) LastAt = o.EventTime;
        return true;
    }

    internal void Refund(OrderRefunded r)
    {
        var index = OrderIds.IndexOf(r.OrderId);
        if (index < 0) return;
        if (r.Amount is { } amount) Refunded = SafeMoney.Add(Refunded, amount);
        else if (OrderTotals.Count == OrderIds.Count) Refunded = SafeMoney.Add(Refunded, OrderTotals[index]);
    }
}

public sealed class CartState
{
    [JsonInclude] public Dictionary<string, int> Items { get; private set; } = new(StringComparer.Ordinal);
    [JsonInclude] public DateTimeOffset? LastChangedAt { get; private set; }
    [JsonInclude] public DateTimeOffset? CheckoutStartedAt { get; internal set; }

    internal void Add(string sku, int quantity, DateTimeOffset at)
    {
        // Saturating: an old stream may hold quantities the edge now refuses.
        Items[sku] = (int)Math.Min(int.MaxValue, (long)Items.GetValueOrDefault(sku) + Math.Max(1, quantity));
        LastChangedAt = at;
    }

    internal void Remove(string sku, int quantity, DateTimeOffset at)
    {
        if (!Items.TryGetValue(sku, out var have)) return;
        var left = have - Math.Max(1, quantity);
        if (left > 0) Items[sku] = left;
        else Items.Remove(sku);
        LastChangedAt = at;
    }

    internal void Clear(DateTimeOffset at)
    {
        Items.Clear();
        CheckoutStartedAt = null;
        LastChangedAt = at;
    }
}

/// <summary>A journey's on-site message kept for showing; <see cref="Shown"/> once its impression is recorded.</summary>
public sealed record OnSiteMessage(string MessageKey, string JourneyId, string Template, DateTimeOffset DecidedAt, bool Shown);

/// <summary>A product the visitor viewed, with its category as the shop reported it then, and when (the latest view).</summary>
public sealed record ViewedProduct(string Sku, string? Category, DateTimeOffset ViewedAt);

/// <summary>A browser's web push subscription: where to send, and the keys to encrypt for (RFC 8291).</summary>
public sealed record PushSubscription(string Endpoint, string P256dh, string Auth, DateTimeOffset Since);
