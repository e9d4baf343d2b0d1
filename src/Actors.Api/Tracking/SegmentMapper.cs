using System.Collections.Frozen;
using System.Globalization;
using System.Text.Json;
using Actors.Domain.Tracking;

namespace Actors.Api.Tracking;

/// <summary>One problem with a message: the path of the field at fault (e.g. "batch[3].properties.order_id") and what is wrong.</summary>
public sealed record FieldError(string Field, string Message);

/// <summary>
/// A valid message: its type (lower case, as in the spec), who it is about, and the domain events it stands for
/// (none for an alias, whose only effect is to join two identities).
/// </summary>
public sealed record MappedMessage(string Type, string? AnonymousId, string? UserId, string? PreviousId, IReadOnlyList<VisitorEvent> Events);

/// <summary>Either a mapped message, or every problem found in it.</summary>
public sealed record MappingResult(MappedMessage? Message, IReadOnlyList<FieldError> Errors)
{
    public bool IsValid => Message is not null && Errors.Count == 0;
}

/// <summary>
/// Turns one message of the Segment tracking spec (track, identify, page, screen, alias, group), with the names of the
/// Segment e-commerce spec v2 and our own vocabulary, into domain events. Pure: no I/O, no clock but the one given.
/// A message is taken whole or refused whole, and a refusal lists every field at fault, not only the first.
/// </summary>
/// <remarks>
/// Lenient where SDKs differ (ids and numbers may be JSON numbers or strings, names match regardless of case, nulls mean
/// "not sent"), strict where a wrong value would corrupt a profile (a price that is not a number, a quantity of 2.5).
/// </remarks>
public static class SegmentMapper
{
    /// <summary>The longest id we keep (anonymousId, userId, messageId, product and order ids ...).</summary>
    public const int MaxIdLength = 200;

    /// <summary>Where a consent came from when the shop names no source: its tracking API.</summary>
    public const string ConsentSource = "tracking_api";

    /// <summary>The currency of an order or refund that names none.</summary>
    public const string DefaultCurrency = "USD";

    private const string AnyType = "one of track, identify, page, screen, alias, group";
    private static readonly string[] Types = ["track", "identify", "page", "screen", "alias", "group"];

    /// <summary>The track event names we understand, and the e-commerce v1 names Segment still aliases to them.</summary>
    private static readonly FrozenDictionary<string, Known> TrackNames = new Dictionary<string, Known>(StringComparer.OrdinalIgnoreCase)
    {
        ["Product Viewed"] = Known.ProductViewed,
        ["Viewed Product"] = Known.ProductViewed,
        ["Product List Viewed"] = Known.ProductListViewed,
        ["Product Category Viewed"] = Known.ProductListViewed,
        ["Viewed Product Category"] = Known.ProductListViewed,
        ["Products Searched"] = Known.ProductsSearched,
        ["Product Added"] = Known.ProductAdded,
        ["Added Product"] = Known.ProductAdded,
        ["Product Removed"] = Known.ProductRemoved,
        ["Removed Product"] = Known.ProductRemoved,
        ["Checkout Started"] = Known.CheckoutStarted,
        ["Started Order"] = Known.CheckoutStarted,
        ["Order Completed"] = Known.OrderCompleted,
        ["Completed Order"] = Known.OrderCompleted,
        ["Order Refunded"] = Known.OrderRefunded,
        ["Signed Up"] = Known.SignedUp,
        ["Newsletter Subscribed"] = Known.NewsletterSubscribed,
        ["Newsletter Unsubscribed"] = Known.NewsletterUnsubscribed,
        ["Preferences Updated"] = Known.PreferencesUpdated,
        ["Consent Given"] = Known.ConsentGiven,
        ["Consent Withdrawn"] = Known.ConsentWithdrawn,
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    private enum Known
    {
        ProductViewed, ProductListViewed, ProductsSearched, ProductAdded, ProductRemoved, CheckoutStarted, OrderCompleted,
        OrderRefunded, SignedUp, NewsletterSubscribed, NewsletterUnsubscribed, PreferencesUpdated, ConsentGiven, ConsentWithdrawn,
    }

    /// <param name="message">One Segment message.</param>
    /// <param name="typeFromRoute">The type a route fixes (/v1/track: "track"), or null when the message's own "type" decides.</param>
    /// <param name="receivedAt">When we received it: every event's ReceivedTime, and its EventTime when the message has none.</param>
    /// <param name="fieldPrefix">Put before every error's field path, e.g. "batch[3]."; "" for a message on its own.</param>
    /// <param name="routeAnonymousId">On a per-visitor route, the visitor's anonymous id: it replaces the message's.</param>
    /// <param name="routeUserId">On a per-visitor route for a known customer ("user:42"), the user id: it replaces the message's.</param>
    /// <param name="batchSentAt">The batch's own sentAt (server SDKs set it there, not on each message), for skew correction.</param>
    public static MappingResult Map(JsonElement message, string? typeFromRoute, DateTimeOffset receivedAt, string fieldPrefix = "",
        string? routeAnonymousId = null, string? routeUserId = null, DateTimeOffset? batchSentAt = null)
    {
        var m = new Mapping(fieldPrefix, receivedAt);
        if (message.ValueKind != JsonValueKind.Object)
        {
            m.AddWhole("A message must be a JSON object.");
            return m.Refused();
        }

        // Every string and property name, read or not, before anything else: PostgreSQL's jsonb cannot hold a NUL and
        // .NET cannot read a lone surrogate, and such a message must be refused here, not fail its batch in the store.
        if (!JsonText.Check(message, "", (field, problem) => { if (field == "body") m.AddWhole(problem); else m.Add(field, problem); }))
            return m.Refused();

        var type = m.Type(message, typeFromRoute);
        // A malformed id is reported as such, not also as missing.
        var errors = m.ErrorCount;
        var anonymousId = m.Text(message, "anonymousId", Scope.Root, MaxIdLength);
        var anonymousIdMalformed = m.ErrorCount > errors;
        errors = m.ErrorCount;
        var userId = m.Text(message, "userId", Scope.Root, MaxIdLength);
        var userIdMalformed = m.ErrorCount > errors;
        if (routeAnonymousId is not null) (anonymousId, anonymousIdMalformed) = (routeAnonymousId, false);
        if (routeUserId is not null) (userId, userIdMalformed) = (routeUserId, false);
        m.MessageId = m.ReadMessageId(message);
        m.EventTime = m.ReadEventTime(message, batchSentAt);
        m.ExpectObject(message, "context");
        var properties = m.OptionalObject(message, "properties");
        var traits = m.OptionalObject(message, "traits");
        // RudderStack's SDKs send an identify's traits as context.traits (Segment's at the root): the root wins.
        if (type == "identify" && traits.ValueKind != JsonValueKind.Object && message.TryGetProperty("context", out var context)
            && context.ValueKind == JsonValueKind.Object && context.TryGetProperty("traits", out var contextTraits) && contextTraits.ValueKind == JsonValueKind.Object)
            traits = contextTraits;

        string? previousId = null;
        if (type == "alias")
        {
            previousId = m.Required(message, "previousId", Scope.Root, MaxIdLength, "Required for an alias: the id the visitor had before.");
            if (userId is null && !userIdMalformed) m.Add("userId", "Required for an alias: the id the visitor has now.");
        }
        else if (anonymousId is null && userId is null && !anonymousIdMalformed && !userIdMalformed)
        {
            m.Add("anonymousId", "Either anonymousId or userId is required.");
        }

        var mapped = type switch
        {
            "track" => m.Track(message, properties),
            "identify" => m.Identify(userId, traits),
            "page" or "screen" => m.Page(message, properties),
            "group" => m.Group(message, traits),
            _ => null, // alias: no event; unknown type: already an error
        };

        if (m.ErrorCount > 0) return m.Refused();
        // The client's own time is kept when the stored one differs (skew corrected, or clamped).
        if (mapped is not null && m.ClientTime is not null) mapped = mapped with { ClientTime = m.ClientTime };
        IReadOnlyList<VisitorEvent> events = mapped is null ? [] : [mapped];
        return new MappingResult(new MappedMessage(type!, anonymousId, userId, previousId, events), []);
    }

    /// <summary>
    /// Where a field sits below the message: "properties", or the element of an array ("properties.products", 2).
    /// Paths are only put together when there is an error to report.
    /// </summary>
    private readonly struct Scope(string parent, int index = -1)
    {
        public static readonly Scope Root = new("");
        public static readonly Scope Properties = new("properties");

        public string Field(string name) =>
            index >= 0 ? $"{parent}[{index}].{name}" : parent.Length == 0 ? name : string.Concat(parent, ".", name);

        public string Self => index >= 0 ? $"{parent}[{index}]" : parent;
    }

    /// <summary>The state of mapping one message: its errors so far and what every event it yields is stamped with.</summary>
    private sealed class Mapping(string prefix, DateTimeOffset receivedAt)
    {
        private static readonly IReadOnlyDictionary<string, string> NoTraits = FrozenDictionary<string, string>.Empty;
        private static readonly string[] TimeFormats =
        [
            "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK",
            "yyyy-MM-dd'T'HH:mmK",
            "yyyy-MM-dd' 'HH:mm:ss.FFFFFFFK",
            "yyyy-MM-dd",
        ];

        private List<FieldError>? errors;
        private int eventCount;

        public string MessageId { get; set; } = "";
        public DateTimeOffset EventTime { get; set; }
        public DateTimeOffset? ClientTime { get; private set; }
        public int ErrorCount => errors?.Count ?? 0;

        public void Add(string field, string message) => (errors ??= []).Add(new FieldError(prefix + field, message));
        public void Add(in Scope scope, string name, string message) => Add(scope.Field(name), message);
        public void AddWhole(string message) => (errors ??= []).Add(new FieldError(prefix.Length == 0 ? "body" : prefix.TrimEnd('.'), message));
        public MappingResult Refused() => new(null, errors!);

        /// <summary>The message id of the next event: the message's own, then "id:1", "id:2" should a message yield several.</summary>
        private string NextMessageId() => eventCount++ == 0 ? MessageId : string.Concat(MessageId, ":", (eventCount - 1).ToString(CultureInfo.InvariantCulture));

        // ---- common fields ----

        public string? Type(JsonElement message, string? typeFromRoute)
        {
            if (typeFromRoute is not null)
            {
                var fixedType = Canonical(typeFromRoute);
                if (fixedType is null) Add("type", $"'{typeFromRoute}' is not a message type; expected {AnyType}.");
                return fixedType;
            }

            if (!Get(message, "type", out var value))
            {
                Add("type", $"Required: {AnyType}.");
                return null;
            }
            var type = value.ValueKind == JsonValueKind.String ? Canonical(value.GetString()) : null;
            if (type is null) Add("type", $"Must be {AnyType}.");
            return type;
        }

        private static string? Canonical(ReadOnlySpan<char> type)
        {
            type = type.Trim();
            foreach (var known in Types)
            {
                if (type.Equals(known, StringComparison.OrdinalIgnoreCase)) return known;
            }
            return null;
        }

        /// <summary>The client's idempotency key; without one we make one up, and such a message cannot be recognised as a retry.</summary>
        public string ReadMessageId(JsonElement message)
        {
            if (Get(message, "messageId", out var value))
            {
                if (value.ValueKind != JsonValueKind.String) Add("messageId", "Must be a string.");
                else
                {
                    var id = value.GetString()!.Trim();
                    if (id.Length > MaxIdLength) Add("messageId", $"Must be at most {MaxIdLength} characters.");
                    else if (id.Length > 0) return id;
                }
            }
            return "gen-" + Guid.NewGuid().ToString("N");
        }

        /// <summary>
        /// timestamp, else originalTimestamp (the client's clock), else when we received it; with sentAt, corrected for
        /// the client clock's skew; clamped to the window around receipt (<see cref="EventBounds.EventTime"/>).
        /// </summary>
        public DateTimeOffset ReadEventTime(JsonElement message, DateTimeOffset? batchSentAt)
        {
            var before = ErrorCount;
            var timestamp = Time(message, "timestamp", Scope.Root);
            if (ErrorCount > before) return receivedAt; // sent but wrong: that is the error, whatever originalTimestamp says
            var original = timestamp is null ? Time(message, "originalTimestamp", Scope.Root) : null;
            var sentAt = Time(message, "sentAt", Scope.Root) ?? batchSentAt;
            if (ErrorCount > before) return receivedAt;
            var time = EventBounds.EventTime(receivedAt, timestamp, sentAt, original, out var client);
            ClientTime = client;
            return time;
        }

        public void ExpectObject(JsonElement message, string name)
        {
            if (Get(message, name, out var value) && value.ValueKind != JsonValueKind.Object) Add(name, "Must be an object.");
        }

        /// <summary>The object under <paramref name="name"/>, or an undefined element when absent (every reader treats that as empty).</summary>
        public JsonElement OptionalObject(JsonElement message, string name)
        {
            if (!Get(message, name, out var value)) return default;
            if (value.ValueKind == JsonValueKind.Object) return value;
            Add(name, "Must be an object.");
            return default;
        }

        // ---- message types ----

        public VisitorEvent? Track(JsonElement message, JsonElement p)
        {
            string? name = null;
            if (!Get(message, "event", out var value)) Add("event", "Required for a track call: the name of the action, e.g. \"Order Completed\".");
            else if (value.ValueKind != JsonValueKind.String) Add("event", "Must be a string.");
            else if ((name = value.GetString()!.Trim()).Length == 0)
            {
                Add("event", "Must not be empty.");
                name = null;
            }
            if (name is null) return null;
            if (!TrackNames.TryGetValue(name, out var known)) return Behaviour(name, p);

            var props = Scope.Properties;
            switch (known)
            {
                case Known.ProductViewed:
                {
                    var sku = Sku(p, props);
                    var category = Text(p, "category", props);
                    var brand = Text(p, "brand", props);
                    var price = Money(p, "price", props);
                    return sku is null ? null : new ProductViewed(sku, category, brand, price) { MessageId = NextMessageId(), EventTime = EventTime, ReceivedTime = receivedAt };
                }
                case Known.ProductListViewed:
                {
                    // A list with no category (search results, "hot deals") is not a category view: keep it as behaviour.
                    var before = ErrorCount;
                    var category = Text(p, "category", props);
                    if (category is null) return ErrorCount == before ? Behaviour(name, p) : null;
                    return new CategoryViewed(category) { MessageId = NextMessageId(), EventTime = EventTime, ReceivedTime = receivedAt };
                }
                case Known.ProductsSearched:
                {
                    // The spec allows a structured query (an object); we keep its JSON text.
                    var query = Get(p, "query", out var q) && q.ValueKind == JsonValueKind.Object
                        ? q.GetRawText()
                        : Required(p, "query", props, int.MaxValue, "Required: what the visitor searched for.");
                    return query is null ? null : new ProductsSearched(query) { MessageId = NextMessageId(), EventTime = EventTime, ReceivedTime = receivedAt };
                }
                case Known.ProductAdded:
                {
                    var sku = Sku(p, props);
                    var category = Text(p, "category", props);
                    var quantity = Quantity(p, props);
                    var price = Money(p, "price", props);
                    return sku is null ? null : new CartItemAdded(sku, category, quantity, price) { MessageId = NextMessageId(), EventTime = EventTime, ReceivedTime = receivedAt };
                }
                case Known.ProductRemoved:
                {
                    var sku = Sku(p, props);
                    var quantity = Quantity(p, props);
                    return sku is null ? null : new CartItemRemoved(sku, quantity) { MessageId = NextMessageId(), EventTime = EventTime, ReceivedTime = receivedAt };
                }
                case Known.CheckoutStarted:
                {
                    var checkoutId = Text(p, "checkout_id", props, MaxIdLength) ?? Text(p, "order_id", props, MaxIdLength);
                    var total = Money(p, "total", props) ?? Money(p, "revenue", props) ?? Money(p, "value", props);
                    var currency = Currency(p, props);
                    return new CheckoutStarted(checkoutId, total, currency) { MessageId = NextMessageId(), EventTime = EventTime, ReceivedTime = receivedAt };
                }
                case Known.OrderCompleted:
                    return Order(p);
                case Known.OrderRefunded:
                {
                    var orderId = Required(p, "order_id", props, MaxIdLength, "Required: the id of the refunded order.");
                    // No amount: the whole order was refunded (the spec needs only the order id).
                    var amount = Money(p, "total", props) ?? Money(p, "revenue", props) ?? Money(p, "value", props);
                    var currency = Currency(p, props) ?? DefaultCurrency;
                    return orderId is null ? null
                        : new OrderRefunded(orderId, amount, currency) { MessageId = NextMessageId(), EventTime = EventTime, ReceivedTime = receivedAt };
                }
                case Known.SignedUp:
                    return new Registered(RegistrationKind.Account) { MessageId = NextMessageId(), EventTime = EventTime, ReceivedTime = receivedAt };
                case Known.NewsletterSubscribed:
                    return new NewsletterSubscribed(Text(p, "source", props)) { MessageId = NextMessageId(), EventTime = EventTime, ReceivedTime = receivedAt };
                case Known.NewsletterUnsubscribed:
                {
                    var reason = Text(p, "reason", props);
                    var source = Text(p, "source", props);
                    return new NewsletterUnsubscribed(reason, source) { MessageId = NextMessageId(), EventTime = EventTime, ReceivedTime = receivedAt };
                }
                case Known.PreferencesUpdated:
                {
                    var topics = TextList(p, "topics", props);
                    var contentTypes = TextList(p, "content_types", props);
                    var frequency = Text(p, "frequency", props);
                    var pausedUntil = Time(p, "paused_until", props);
                    var clearPause = Flag(p, "clear_pause", props);
                    return new PreferencesUpdated(topics, contentTypes, frequency, pausedUntil, clearPause) { MessageId = NextMessageId(), EventTime = EventTime, ReceivedTime = receivedAt };
                }
                case Known.ConsentGiven:
                case Known.ConsentWithdrawn:
                {
                    var channel = Required(p, "channel", props, MaxIdLength, "Required: the channel consented to, e.g. \"email\".");
                    var purpose = Required(p, "purpose", props, MaxIdLength, "Required: the purpose consented to, e.g. \"marketing\".");
                    // Where and under which wording: the shop's own names when it sends them, else the API it came through.
                    var source = Text(p, "source", props, MaxIdLength) ?? ConsentSource;
                    var wording = Text(p, "consentVersion", props, MaxIdLength) ?? Text(p, "consent_version", props, MaxIdLength);
                    if (channel is null || purpose is null) return null;
                    return known == Known.ConsentGiven
                        ? new ConsentGiven(channel, purpose) { MessageId = NextMessageId(), EventTime = EventTime, ReceivedTime = receivedAt, Source = source, WordingVersion = wording }
                        : new ConsentWithdrawn(channel, purpose) { MessageId = NextMessageId(), EventTime = EventTime, ReceivedTime = receivedAt, Source = source, WordingVersion = wording };
                }
                default:
                    throw new InvalidOperationException($"Unhandled track event {known}.");
            }
        }

        private OrderPlaced? Order(JsonElement p)
        {
            var props = Scope.Properties;
            var orderId = Required(p, "order_id", props, MaxIdLength, "Required: the order's id.");
            var lines = Lines(p, out var linesTotal);
            var sent = Money(p, "total", props) ?? Money(p, "revenue", props);
            if (sent is null && linesTotal > EventBounds.MaxAmount)
                Add(props, "products", $"The products add up to more than {EventBounds.MaxAmount.ToString(CultureInfo.InvariantCulture)}; send properties.total.");
            var total = sent ?? linesTotal;
            var currency = Currency(p, props) ?? DefaultCurrency;
            var channel = Text(p, "channel", props) is { } c
                && (c.Equals("store", StringComparison.OrdinalIgnoreCase) || c.Equals("offline", StringComparison.OrdinalIgnoreCase) || c.Equals("pos", StringComparison.OrdinalIgnoreCase))
                ? SalesChannel.Store
                : SalesChannel.Online;
            return orderId is null ? null
                : new OrderPlaced(orderId, lines, total, currency, channel) { MessageId = NextMessageId(), EventTime = EventTime, ReceivedTime = receivedAt };
        }

        /// <summary>properties.products as order lines (price 0 and quantity 1 when not given), and what they add up to.</summary>
        private OrderLine[] Lines(JsonElement p, out decimal total)
        {
            total = 0;
            if (!Get(p, "products", out var products)) return [];
            if (products.ValueKind != JsonValueKind.Array)
            {
                Add(Scope.Properties, "products", "Must be an array of products.");
                return [];
            }

            var lines = new OrderLine[products.GetArrayLength()];
            var i = 0;
            foreach (var product in products.EnumerateArray())
            {
                var scope = new Scope("properties.products", i);
                if (product.ValueKind != JsonValueKind.Object)
                {
                    Add(scope.Self, "Must be an object (a product).");
                    lines[i++] = new OrderLine("", null, 1, 0);
                    continue;
                }
                var sku = Sku(product, scope) ?? "";
                var category = Text(product, "category", scope);
                var quantity = Quantity(product, scope);
                var price = Money(product, "price", scope) ?? 0;
                total += price * quantity; // each at most 1e12 × 1e6, and a message holds few enough lines for a decimal
                lines[i++] = new OrderLine(sku, category, quantity, price);
            }
            return lines;
        }

        public VisitorEvent? Identify(string? userId, JsonElement traits)
        {
            if (userId is not null)
            {
                // Identified carries no removals, so null traits are left out.
                var known = traits.ValueKind == JsonValueKind.Object ? Flattened(traits, null, keepNulls: false) : NoTraits;
                return new Identified(userId, known) { MessageId = NextMessageId(), EventTime = EventTime, ReceivedTime = receivedAt };
            }

            // Traits of a visitor we cannot name yet: a null trait removes that attribute.
            if (traits.ValueKind != JsonValueKind.Object) return null;
            var attributes = new Dictionary<string, string?>(StringComparer.Ordinal);
            Flatten(traits, null, attributes, keepNulls: true);
            return attributes.Count == 0 ? null
                : new AttributesUpdated(attributes, "identify") { MessageId = NextMessageId(), EventTime = EventTime, ReceivedTime = receivedAt };
        }

        public VisitorEvent Page(JsonElement message, JsonElement p)
        {
            var props = Scope.Properties;
            var name = Text(message, "name", Scope.Root) ?? Text(p, "name", props);
            var category = Text(p, "category", props) ?? Text(message, "category", Scope.Root);
            var url = Text(p, "url", props);
            var referrer = Text(p, "referrer", props);
            return new PageViewed(name, category, url, referrer)
            {
                MessageId = NextMessageId(), EventTime = EventTime, ReceivedTime = receivedAt, Campaign = CampaignOf(message),
            };
        }

        /// <summary>
        /// context.campaign's source, medium and name, for the first-touch report. Optional context: values that are not
        /// text are ignored and long ones cut (a page view is not refused for its campaign tags).
        /// </summary>
        private static CampaignTags? CampaignOf(JsonElement message)
        {
            if (!message.TryGetProperty("context", out var context) || context.ValueKind != JsonValueKind.Object
                || !context.TryGetProperty("campaign", out var campaign) || campaign.ValueKind != JsonValueKind.Object)
                return null;
            static string? Tag(JsonElement c, string name) =>
                c.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && v.GetString()!.Trim() is { Length: > 0 } t
                    ? (t.Length <= Domain.Reporting.TrafficSource.MaxLength ? t : t[..Domain.Reporting.TrafficSource.MaxLength])
                    : null;
            var tags = new CampaignTags(Tag(campaign, "source"), Tag(campaign, "medium"), Tag(campaign, "name"));
            return tags is { Source: null, Medium: null, Name: null } ? null : tags;
        }

        public VisitorEvent? Group(JsonElement message, JsonElement traits)
        {
            var groupId = Required(message, "groupId", Scope.Root, MaxIdLength, "Required for a group call: the id of the account or company.");
            if (groupId is null) return null;
            var attributes = new Dictionary<string, string?>(StringComparer.Ordinal) { ["group_id"] = groupId };
            if (traits.ValueKind == JsonValueKind.Object) Flatten(traits, "group", attributes, keepNulls: true);
            return new AttributesUpdated(attributes, "group") { MessageId = NextMessageId(), EventTime = EventTime, ReceivedTime = receivedAt };
        }

        private BehaviourTracked Behaviour(string name, JsonElement p)
        {
            var properties = p.ValueKind == JsonValueKind.Object ? Flattened(p, null, keepNulls: false) : NoTraits;
            return new BehaviourTracked(name, properties) { MessageId = NextMessageId(), EventTime = EventTime, ReceivedTime = receivedAt };
        }

        // ---- field readers: each reports its own errors, and returns null (or the default) for absent or wrong values ----

        /// <summary>A string (trimmed, empty counts as absent) or a number (as its invariant text).</summary>
        public string? Text(JsonElement obj, string name, in Scope scope, int maxLength = int.MaxValue)
        {
            if (!Get(obj, name, out var value)) return null;
            string text;
            switch (value.ValueKind)
            {
                case JsonValueKind.String:
                    text = value.GetString()!.Trim();
                    break;
                case JsonValueKind.Number:
                    text = NumberText(value);
                    break;
                default:
                    Add(scope, name, "Must be a string or a number.");
                    return null;
            }
            if (text.Length == 0) return null;
            if (text.Length > maxLength)
            {
                Add(scope, name, $"Must be at most {maxLength} characters.");
                return null;
            }
            return text;
        }

        /// <summary>Like <see cref="Text"/>, and an error (<paramref name="missing"/>) when absent.</summary>
        public string? Required(JsonElement obj, string name, in Scope scope, int maxLength, string missing)
        {
            var before = ErrorCount;
            var text = Text(obj, name, scope, maxLength);
            if (text is null && ErrorCount == before) Add(scope, name, missing);
            return text;
        }

        /// <summary>The spec's sku, else its product_id (they may be the same); one of them is required.</summary>
        private string? Sku(JsonElement obj, in Scope scope)
        {
            var before = ErrorCount;
            var sku = Text(obj, "sku", scope, MaxIdLength) ?? Text(obj, "product_id", scope, MaxIdLength);
            if (sku is null && ErrorCount == before) Add(scope, "product_id", "Required: the product's product_id or sku.");
            return sku;
        }

        /// <summary>A JSON number or a numeric string in invariant culture ("12.50", "1e3"); an empty string counts as absent.</summary>
        private decimal? Number(JsonElement obj, string name, in Scope scope)
        {
            if (!Get(obj, name, out var value)) return null;
            if (value.ValueKind == JsonValueKind.Number && value.TryGetDecimal(out var number)) return number;
            if (value.ValueKind == JsonValueKind.String)
            {
                var text = value.GetString().AsSpan().Trim();
                if (text.IsEmpty) return null;
                if (decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out number)) return number;
            }
            Add(scope, name, "Must be a number (a JSON number, or a string such as \"12.50\").");
            return null;
        }

        private decimal? Money(JsonElement obj, string name, in Scope scope)
        {
            var amount = Number(obj, name, scope);
            if (amount < 0)
            {
                Add(scope, name, "Must not be negative.");
                return null;
            }
            if (amount > EventBounds.MaxAmount)
            {
                Add(scope, name, AmountTooLarge);
                return null;
            }
            return amount;
        }

        private static readonly string AmountTooLarge =
            $"Must be at most {EventBounds.MaxAmount.ToString(CultureInfo.InvariantCulture)}.";

        /// <summary>A whole number from 1 to <see cref="EventBounds.MaxQuantity"/>; 1 when absent.</summary>
        private int Quantity(JsonElement obj, in Scope scope)
        {
            var quantity = Number(obj, "quantity", scope);
            if (quantity is not { } q) return 1;
            if (q < 1 || q > EventBounds.MaxQuantity || decimal.Truncate(q) != q)
            {
                Add(scope, "quantity", QuantityRange);
                return 1;
            }
            return (int)q;
        }

        private static readonly string QuantityRange =
            $"Must be a whole number from 1 to {EventBounds.MaxQuantity.ToString(CultureInfo.InvariantCulture)}.";

        /// <summary>A three-letter code, upper-cased; null when absent.</summary>
        private string? Currency(JsonElement obj, in Scope scope)
        {
            var code = Text(obj, "currency", scope);
            if (code is null) return null;
            if (code.Length != 3 || !char.IsAsciiLetter(code[0]) || !char.IsAsciiLetter(code[1]) || !char.IsAsciiLetter(code[2]))
            {
                Add(scope, "currency", "Must be a three-letter ISO 4217 currency code, e.g. \"EUR\".");
                return null;
            }
            return code.ToUpperInvariant();
        }

        /// <summary>An ISO-8601 date or date-time string; without an offset it is taken as UTC.</summary>
        private DateTimeOffset? Time(JsonElement obj, string name, in Scope scope)
        {
            if (!Get(obj, name, out var value)) return null;
            if (value.ValueKind == JsonValueKind.String)
            {
                var text = value.GetString().AsSpan().Trim();
                if (text.IsEmpty) return null;
                if (TryParseTime(text, out var time)) return time;
            }
            Add(scope, name, "Must be an ISO-8601 date-time string, e.g. \"2024-05-01T12:30:00Z\".");
            return null;
        }

        internal static bool TryParseTime(ReadOnlySpan<char> text, out DateTimeOffset time)
        {
            const DateTimeStyles styles = DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal;
            if (DateTimeOffset.TryParseExact(text, TimeFormats, CultureInfo.InvariantCulture, styles, out time)) return true;

            // Go and Java clients send nanoseconds; .NET parses at most 7 fractional digits, so drop the rest.
            const int keep = 7;
            var dot = text.IndexOf('.');
            if (dot < 0 || text.Length > 64) return false;
            var end = dot + 1;
            while (end < text.Length && char.IsAsciiDigit(text[end])) end++;
            if (end - dot - 1 <= keep) return false;
            Span<char> shortened = stackalloc char[64];
            text[..(dot + 1 + keep)].CopyTo(shortened);
            text[end..].CopyTo(shortened[(dot + 1 + keep)..]);
            return DateTimeOffset.TryParseExact(shortened[..(dot + 1 + keep + text.Length - end)], TimeFormats, CultureInfo.InvariantCulture, styles, out time);
        }

        /// <summary>true/false, or the strings "true"/"false"; false when absent.</summary>
        private bool Flag(JsonElement obj, string name, in Scope scope)
        {
            if (!Get(obj, name, out var value)) return false;
            switch (value.ValueKind)
            {
                case JsonValueKind.True:
                    return true;
                case JsonValueKind.False:
                    return false;
                case JsonValueKind.String when bool.TryParse(value.GetString().AsSpan().Trim(), out var flag):
                    return flag;
                default:
                    Add(scope, name, "Must be true or false.");
                    return false;
            }
        }

        /// <summary>An array of strings (trimmed, empty ones dropped); null when absent, so "leave as it was" differs from "none".</summary>
        private List<string>? TextList(JsonElement obj, string name, in Scope scope)
        {
            if (!Get(obj, name, out var value)) return null;
            if (value.ValueKind != JsonValueKind.Array)
            {
                Add(scope, name, "Must be an array of strings.");
                return null;
            }
            var list = new List<string>(value.GetArrayLength());
            var i = 0;
            foreach (var item in value.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.String)
                {
                    var text = item.GetString()!.Trim();
                    if (text.Length > 0) list.Add(text);
                }
                else Add($"{scope.Field(name)}[{i}]", "Must be a string.");
                i++;
            }
            return list;
        }
    }

    /// <summary>
    /// A batch's sentAt, or null when absent or unreadable: it only corrects skew, so a batch is not refused for it
    /// (each message's own timestamp is still checked).
    /// </summary>
    public static DateTimeOffset? BatchSentAt(JsonElement batch) =>
        batch.ValueKind == JsonValueKind.Object && batch.TryGetProperty("sentAt", out var value) && value.ValueKind == JsonValueKind.String
        && JsonText.TryGetString(value, out _) is { } text && Mapping.TryParseTime(text.AsSpan().Trim(), out var time) ? time : null;

    // ---- JSON helpers ----

    /// <summary>The property's value when present and not null; a null counts as not sent.</summary>
    private static bool Get(JsonElement obj, string name, out JsonElement value)
    {
        if (obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null) return true;
        value = default;
        return false;
    }

    private static string NumberText(JsonElement number) =>
        number.TryGetInt64(out var whole) ? whole.ToString(CultureInfo.InvariantCulture)
        : number.TryGetDecimal(out var fraction) ? fraction.ToString(CultureInfo.InvariantCulture)
        : number.GetRawText();

    /// <summary>Flattened without nulls, for the events whose values cannot be null.</summary>
    private static IReadOnlyDictionary<string, string> Flattened(JsonElement obj, string? keyPrefix, bool keepNulls)
    {
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        Flatten(obj, keyPrefix, values, keepNulls);
        // Without keepNulls no value is null, so the nullable annotation is all that differs.
        return values!;
    }

    /// <summary>
    /// Nested objects become dotted keys ("address.city"), arrays their JSON text, numbers their invariant text,
    /// booleans "true"/"false"; nulls are kept (meaning "remove") or skipped.
    /// </summary>
    private static void Flatten(JsonElement obj, string? keyPrefix, Dictionary<string, string?> into, bool keepNulls)
    {
        foreach (var property in obj.EnumerateObject())
        {
            var key = keyPrefix is null ? property.Name : string.Concat(keyPrefix, ".", property.Name);
            var value = property.Value;
            switch (value.ValueKind)
            {
                case JsonValueKind.Object:
                    Flatten(value, key, into, keepNulls);
                    break;
                case JsonValueKind.Array:
                    into[key] = value.GetRawText();
                    break;
                case JsonValueKind.String:
                    into[key] = value.GetString();
                    break;
                case JsonValueKind.Number:
                    into[key] = NumberText(value);
                    break;
                case JsonValueKind.True:
                    into[key] = "true";
                    break;
                case JsonValueKind.False:
                    into[key] = "false";
                    break;
                case JsonValueKind.Null when keepNulls:
                    into[key] = null;
                    break;
            }
        }
    }
}
