using System.Globalization;
using System.Text.Json;
using Actors.Domain.Lifecycle;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Domain.Segments;

/// <summary>
/// Reads the segment rule language. A rule is one condition object; each object holds exactly one condition key
/// (the attribute condition carries its operator beside it):
/// <code>
/// {"all":[…]}  {"any":[…]}  {"not":{…}}                       combinations, nested at most 10 deep
/// {"stage":"lead"} or {"stage":["lead","customer"]}          anonymous, lead, customer, repeat_customer, at_risk, lapsed
/// {"leadKind":"newsletter"|"account"}
/// {"attribute":"tier","equals":"gold"} | "in":["gold","silver"] | "exists":true|false | "gt"/"gte"/"lt"/"lte":n
/// {"consent":"email:marketing"}  {"topic":"shoes"}  {"contentType":"video"}  {"frequency":"weekly"}
/// {"paused":true|false}  {"newsletter":true|false}
/// {"count":{"event":"product_viewed","category":"shoes","atLeast":3,"atMost":9,"withinDays":14|"withinHours":48}}
/// {"lastEvent":{"event":"cart_item_added","category":"shoes","withinHours":24}}
/// {"noOrderForDays":90}
/// {"cartAbandoned":{"afterHours":1,"withinHours":24,"checkoutStarted":true}}
/// {"orders":{"atLeast":2,"atMost":5,"withinDays":30}}
/// {"ordersTotal":{"atLeast":100,"atMost":1000,"withinDays":365}}
/// {"rfm":{"recency":[4,5],"frequency":[3,4,5],"monetary":5}}  {"rfmCell":"555"} or {"rfmCell":["555","554"]}
/// {"profiles":["user:a","anon:b"]}                           a fixed list of profile ids (a report's drill-down), at most 10,000
/// </code>
/// Every problem is collected (not only the first) with the path of the part at fault, e.g. "all[1].count.atLeast".
/// </summary>
internal sealed class RuleParser
{
    public const int MaxDepth = 10;
    public const int MaxConditions = 200;
    public const int MaxTextLength = 200;
    public const int MaxValues = 100;
    /// <summary>Counters keep day buckets for 400 days (ActivityCounters.DefaultHorizon): windows reach no further.</summary>
    public const int MaxWindowDays = 400;
    private const int MaxCount = 1_000_000;
    private const int MaxNoOrderDays = 3650;
    /// <summary>A saved drill-down lists at most this many profiles; each id at most <see cref="MaxProfileIdLength"/> characters.</summary>
    public const int MaxProfiles = 10_000;
    public const int MaxProfileIdLength = 300;

    private static readonly string[] ConditionNames =
    [
        "all", "any", "not", "stage", "leadKind", "attribute", "consent", "topic", "contentType", "frequency", "paused",
        "newsletter", "count", "lastEvent", "noOrderForDays", "cartAbandoned", "orders", "ordersTotal", "rfm", "rfmCell",
        "profiles",
    ];

    private static readonly Dictionary<string, Stage> Stages = Enum.GetValues<Stage>().ToDictionary(s => s.ToWire(), StringComparer.Ordinal);

    private readonly List<RuleError> errors = [];
    private int conditions;

    public static RuleParseResult Parse(JsonElement json)
    {
        var parser = new RuleParser();
        Condition? root;
        try
        {
            root = parser.Condition(json, "", 0);
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException or JsonException or ArgumentException)
        {
            parser.Error("", "could not read the rule: " + e.Message);
            root = null;
        }
        if (root is null && parser.errors.Count == 0) parser.Error("", "not a rule");
        return root is null || parser.errors.Count > 0 ? new RuleParseResult(null, parser.errors) : new RuleParseResult(new SegmentRule(root), []);
    }

    private void Error(string path, string message) => errors.Add(new RuleError(path, message));

    private static string Child(string path, string name) => path.Length == 0 ? name : string.Concat(path, ".", name);

    private static string Item(string path, int index) => string.Concat(path, "[", index.ToString(CultureInfo.InvariantCulture), "]");

    // ---- conditions ----

    private Condition? Condition(JsonElement e, string path, int depth)
    {
        if (++conditions > MaxConditions)
        {
            if (conditions == MaxConditions + 1) Error(path, $"too many conditions: a rule holds at most {MaxConditions}");
            return null;
        }
        if (e.ValueKind != JsonValueKind.Object)
        {
            Error(path, "must be a condition object, e.g. {\"stage\":[\"lead\"]}");
            return null;
        }
        if (e.TryGetProperty("attribute", out _)) return Attribute(e, path);

        string? name = null;
        var value = default(JsonElement);
        foreach (var property in e.EnumerateObject())
        {
            if (name is null) (name, value) = (property.Name, property.Value);
            else Error(Child(path, property.Name), $"unexpected next to {name}: an object holds one condition; combine several with all or any");
        }
        if (name is null)
        {
            Error(path, "empty condition; expected one of " + string.Join(", ", ConditionNames));
            return null;
        }

        var at = Child(path, name);
        switch (name)
        {
            case "all": return Combination(value, at, depth, all: true);
            case "any": return Combination(value, at, depth, all: false);
            case "not":
                if (!CheckDepth(at, depth)) return null;
                return Condition(value, at, depth + 1) is { } inner ? new NotOf(inner) : null;
            case "stage": return Stage(value, at);
            case "leadKind": return LeadKindOf(value, at);
            case "consent": return Consent(value, at);
            case "topic": return NonEmpty(value, at) is { } topic ? new PreferenceIs(PreferenceKind.Topic, topic) : null;
            case "contentType": return NonEmpty(value, at) is { } type ? new PreferenceIs(PreferenceKind.ContentType, type) : null;
            case "frequency": return NonEmpty(value, at) is { } frequency ? new PreferenceIs(PreferenceKind.Frequency, frequency) : null;
            case "paused": return Bool(value, at) is { } paused ? new IsPaused(paused) : null;
            case "newsletter": return Bool(value, at) is { } subscribed ? new IsNewsletterSubscriber(subscribed) : null;
            case "count": return Count(value, at);
            case "lastEvent": return LastEvent(value, at);
            case "noOrderForDays": return Whole(value, at, 1, MaxNoOrderDays) is { } days ? new NoOrderFor(days) : null;
            case "cartAbandoned": return CartAbandoned(value, at);
            case "orders": return Orders(value, at);
            case "ordersTotal": return OrdersTotal(value, at);
            case "rfm": return RfmScores(value, at);
            case "rfmCell": return RfmCells(value, at);
            case "profiles": return Profiles(value, at);
            default:
                Error(at, "unknown condition; expected one of " + string.Join(", ", ConditionNames) + DidYouMean(name, ConditionNames));
                return null;
        }
    }

    private Condition? Profiles(JsonElement value, string at)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            Error(at, "must be an array of profile ids, e.g. [\"user:42\",\"anon:7f3a\"]");
            return null;
        }
        var count = value.GetArrayLength();
        if (count == 0)
        {
            Error(at, "must list at least one profile id");
            return null;
        }
        if (count > MaxProfiles)
        {
            Error(at, $"lists {count} profile ids; at most {MaxProfiles}");
            return null;
        }
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var ok = true;
        var i = 0;
        foreach (var v in value.EnumerateArray())
        {
            var path = Item(at, i++);
            string? id;
            try { id = v.ValueKind == JsonValueKind.String ? v.GetString() : null; }
            catch (InvalidOperationException) { id = null; }
            if (string.IsNullOrWhiteSpace(id))
                Error(path, "must be a profile id such as \"user:42\"");
            else if (id.Length > MaxProfileIdLength)
                Error(path, $"must be at most {MaxProfileIdLength} characters");
            else if (!StoredText.IsClean(id))
                Error(path, "must not contain control characters");
            else
            {
                ids.Add(id);
                continue;
            }
            ok = false;
        }
        return ok ? new ProfileIn(ids) : null;
    }

    private bool CheckDepth(string at, int depth)
    {
        if (depth < MaxDepth) return true;
        Error(at, $"nested too deeply: at most {MaxDepth} levels of all, any and not");
        return false;
    }

    private Condition? Combination(JsonElement value, string at, int depth, bool all)
    {
        if (!CheckDepth(at, depth)) return null;
        if (value.ValueKind != JsonValueKind.Array)
        {
            Error(at, "must be an array of conditions");
            return null;
        }
        var items = new Condition[value.GetArrayLength()];
        if (items.Length == 0)
        {
            Error(at, "must list at least one condition");
            return null;
        }
        var ok = true;
        var i = 0;
        foreach (var element in value.EnumerateArray())
        {
            var item = Condition(element, Item(at, i), depth + 1);
            if (item is null) ok = false;
            else items[i] = item;
            i++;
        }
        if (!ok) return null;
        return all ? new AllOf(items) : new AnyOf(items);
    }

    private Condition? Stage(JsonElement value, string at)
    {
        var stages = new List<Stage>();
        var ok = true;
        void One(JsonElement v, string path)
        {
            if (NonEmpty(v, path) is not { } wire) ok = false;
            else if (Stages.TryGetValue(wire, out var stage)) { if (!stages.Contains(stage)) stages.Add(stage); }
            else
            {
                ok = false;
                Error(path, $"unknown stage '{wire}'; expected one of {string.Join(", ", Stages.Keys)}{DidYouMean(wire, Stages.Keys)}");
            }
        }

        if (value.ValueKind == JsonValueKind.Array)
        {
            if (value.GetArrayLength() == 0)
            {
                Error(at, "must list at least one stage");
                return null;
            }
            var i = 0;
            foreach (var v in value.EnumerateArray()) One(v, Item(at, i++));
        }
        else One(value, at);
        if (!ok) return null;
        stages.Sort();
        return new StageIs([.. stages]);
    }

    private Condition? LeadKindOf(JsonElement value, string at)
    {
        if (NonEmpty(value, at) is not { } wire) return null;
        switch (wire)
        {
            case "newsletter": return new LeadKindIs(LeadKind.Newsletter);
            case "account": return new LeadKindIs(LeadKind.Account);
            default:
                Error(at, $"unknown lead kind '{wire}'; expected newsletter or account");
                return null;
        }
    }

    private Condition? Consent(JsonElement value, string at)
    {
        if (NonEmpty(value, at) is not { } text) return null;
        var colon = text.IndexOf(':');
        if (colon <= 0 || colon == text.Length - 1 || text.IndexOf(':', colon + 1) >= 0)
        {
            Error(at, "must be \"channel:purpose\", e.g. \"email:marketing\"");
            return null;
        }
        return new HasConsent(VisitorProfile.ConsentKey(text[..colon].Trim(), text[(colon + 1)..].Trim()));
    }

    private Condition? Attribute(JsonElement e, string path)
    {
        const string Operators = "equals, in, exists or a range (gt, gte, lt, lte)";
        string? name = null, mode = null;
        string[]? values = null;
        bool? exists = null;
        decimal? lower = null, upper = null;
        bool lowerInclusive = false, upperInclusive = false, ok = true;

        bool Mode(string at, string wanted)
        {
            if (mode is null || mode == wanted)
            {
                mode = wanted;
                return true;
            }
            Error(at, $"cannot be combined with {mode}; use one of {Operators}");
            return ok = false;
        }

        foreach (var property in e.EnumerateObject())
        {
            var at = Child(path, property.Name);
            var v = property.Value;
            switch (property.Name)
            {
                case "attribute":
                    name = NonEmpty(v, at);
                    ok &= name is not null;
                    break;
                case "equals":
                    if (!Mode(at, "equals")) break;
                    if (Scalar(v, at) is { } single) values = [single];
                    else ok = false;
                    break;
                case "in":
                    if (!Mode(at, "in")) break;
                    values = Scalars(v, at);
                    ok &= values is not null;
                    break;
                case "exists":
                    if (!Mode(at, "exists")) break;
                    exists = Bool(v, at);
                    ok &= exists is not null;
                    break;
                case "gt" or "gte":
                    if (!Mode(at, "a range")) break;
                    if (lower is not null) { Error(at, "use only one of gt and gte"); ok = false; break; }
                    lower = Number(v, at);
                    lowerInclusive = property.Name == "gte";
                    ok &= lower is not null;
                    break;
                case "lt" or "lte":
                    if (!Mode(at, "a range")) break;
                    if (upper is not null) { Error(at, "use only one of lt and lte"); ok = false; break; }
                    upper = Number(v, at);
                    upperInclusive = property.Name == "lte";
                    ok &= upper is not null;
                    break;
                default:
                    Error(at, $"unknown field; an attribute condition takes attribute and one of {Operators}");
                    ok = false;
                    break;
            }
        }

        if (mode is null && ok)
        {
            Error(path, $"an attribute condition needs {Operators}");
            return null;
        }
        if (!ok || name is null) return null;
        switch (mode)
        {
            case "equals" or "in": return new AttributeIn(name, values!, mode == "equals");
            case "exists": return new AttributeExists(name, exists!.Value);
            default:
                if (lower is { } lo && upper is { } hi && (lo > hi || (lo == hi && !(lowerInclusive && upperInclusive))))
                {
                    Error(path, "the range is empty: the lower bound is above the upper one");
                    return null;
                }
                return new AttributeRange(name, lower, lowerInclusive, upper, upperInclusive);
        }
    }

    private Condition? Count(JsonElement value, string at)
    {
        if (Fields(value, at, ["event", "category", "atLeast", "atMost", "withinDays", "withinHours"],
                "{\"event\":\"product_viewed\",\"atLeast\":3,\"withinDays\":14}") is not { } fields) return null;
        var before = errors.Count;
        var (eventName, category) = EventAndCategory(fields, at);
        var (atLeast, atMost) = Bounds(fields, at, minAtLeast: 1);
        var window = WindowOf(fields, at, required: true);
        if (errors.Count > before || eventName is null || window is null) return null;
        return new EventCount(eventName, category, atLeast, atMost, window.Value);
    }

    private Condition? LastEvent(JsonElement value, string at)
    {
        if (Fields(value, at, ["event", "category", "withinDays", "withinHours"], "{\"event\":\"cart_item_added\",\"withinHours\":24}") is not { } fields)
            return null;
        var before = errors.Count;
        var (eventName, category) = EventAndCategory(fields, at);
        var window = WindowOf(fields, at, required: true);
        if (errors.Count > before || eventName is null || window is null) return null;
        return new LastEventWithin(eventName, category, window.Value);
    }

    private Condition? CartAbandoned(JsonElement value, string at)
    {
        if (Fields(value, at, ["afterHours", "withinHours", "checkoutStarted"], "{\"afterHours\":1,\"withinHours\":24}") is not { } fields) return null;
        var before = errors.Count;
        const int maxHours = MaxWindowDays * 24;
        int? after = null, within = null;
        if (fields.TryGetValue("afterHours", out var a)) after = Whole(a, Child(at, "afterHours"), 0, maxHours);
        else Error(Child(at, "afterHours"), "required: hours since the cart last changed, e.g. 1");
        if (fields.TryGetValue("withinHours", out var w)) within = Whole(w, Child(at, "withinHours"), 1, maxHours);
        var checkout = fields.TryGetValue("checkoutStarted", out var c) ? Bool(c, Child(at, "checkoutStarted")) : false;
        if (after is { } x && within is { } y && y <= x) Error(Child(at, "withinHours"), "must be more than afterHours");
        if (errors.Count > before || after is null || checkout is null) return null;
        return new CartAbandoned(after.Value, within, checkout.Value);
    }

    private Condition? Orders(JsonElement value, string at)
    {
        if (Fields(value, at, ["atLeast", "atMost", "withinDays"], "{\"atLeast\":2}") is not { } fields) return null;
        var before = errors.Count;
        var (atLeast, atMost) = Bounds(fields, at, minAtLeast: 1);
        var window = WindowOf(fields, at, required: false);
        return errors.Count > before ? null : new OrderCount(atLeast, atMost, window);
    }

    private Condition? OrdersTotal(JsonElement value, string at)
    {
        if (Fields(value, at, ["atLeast", "atMost", "withinDays"], "{\"atLeast\":100,\"withinDays\":365}") is not { } fields) return null;
        var before = errors.Count;
        decimal? atLeast = fields.TryGetValue("atLeast", out var lo) ? Amount(lo, Child(at, "atLeast")) : null;
        decimal? atMost = fields.TryGetValue("atMost", out var hi) ? Amount(hi, Child(at, "atMost")) : null;
        if (!fields.ContainsKey("atLeast") && !fields.ContainsKey("atMost")) Error(at, "needs atLeast or atMost");
        if (atLeast > atMost) Error(Child(at, "atMost"), "must be at least atLeast");
        var window = WindowOf(fields, at, required: false);
        return errors.Count > before ? null : new OrdersTotal(atLeast, atMost, window);
    }

    private Condition? RfmScores(JsonElement value, string at)
    {
        if (Fields(value, at, ["recency", "frequency", "monetary"], "{\"recency\":[4,5],\"frequency\":[3,4,5]}") is not { } fields) return null;
        var before = errors.Count;
        int[]? Scores(string name)
        {
            if (!fields.TryGetValue(name, out var v)) return null;
            var path = Child(at, name);
            var scores = new List<int>();
            if (v.ValueKind == JsonValueKind.Array)
            {
                if (v.GetArrayLength() == 0) Error(path, "must list at least one score from 1 to 5");
                var i = 0;
                foreach (var s in v.EnumerateArray())
                    if (Whole(s, Item(path, i++), 1, 5, "must be a score from 1 to 5") is { } score && !scores.Contains(score)) scores.Add(score);
            }
            else if (Whole(v, path, 1, 5, "must be a score from 1 to 5, or a list of them") is { } score) scores.Add(score);
            scores.Sort();
            return [.. scores];
        }

        var recency = Scores("recency");
        var frequency = Scores("frequency");
        var monetary = Scores("monetary");
        if (fields.Count == 0) Error(at, "needs recency, frequency or monetary scores");
        return errors.Count > before ? null : new RfmScores(recency, frequency, monetary);
    }

    private Condition? RfmCells(JsonElement value, string at)
    {
        var cells = new List<RfmCell>();
        var ok = true;
        void One(JsonElement v, string path)
        {
            var text = v.ValueKind == JsonValueKind.String ? v.GetString()! : null;
            if (text is { Length: 3 } && text[0] is >= '1' and <= '5' && text[1] is >= '1' and <= '5' && text[2] is >= '1' and <= '5')
            {
                var cell = new RfmCell(text[0] - '0', text[1] - '0', text[2] - '0');
                if (!cells.Contains(cell)) cells.Add(cell);
            }
            else
            {
                Error(path, "must be a cell of three scores from 1 to 5 (recency, frequency, monetary), e.g. \"555\"");
                ok = false;
            }
        }

        if (value.ValueKind == JsonValueKind.Array)
        {
            if (value.GetArrayLength() == 0)
            {
                Error(at, "must list at least one cell");
                return null;
            }
            var i = 0;
            foreach (var v in value.EnumerateArray()) One(v, Item(at, i++));
        }
        else One(value, at);
        if (!ok) return null;
        cells.Sort((a, b) => string.CompareOrdinal(b.ToString(), a.ToString()));
        return new RfmCellIn([.. cells]);
    }

    // ---- parts ----

    /// <summary>The fields of a condition's object, each known one once; unknown or repeated ones are errors.</summary>
    private Dictionary<string, JsonElement>? Fields(JsonElement value, string at, string[] allowed, string example)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            Error(at, "must be an object like " + example);
            return null;
        }
        var fields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var property in value.EnumerateObject())
        {
            var path = Child(at, property.Name);
            if (Array.IndexOf(allowed, property.Name) < 0)
                Error(path, "unknown field; expected " + string.Join(", ", allowed) + DidYouMean(property.Name, allowed));
            else if (!fields.TryAdd(property.Name, property.Value))
                Error(path, "given twice");
        }
        return fields;
    }

    private (string? Event, string? Category) EventAndCategory(Dictionary<string, JsonElement> fields, string at)
    {
        string? eventName = null, category = null;
        var eventAt = Child(at, "event");
        if (!fields.TryGetValue("event", out var e))
            Error(eventAt, "required: a stored event name; expected one of " + string.Join(", ", EventCatalogue.Counted));
        else if (NonEmpty(e, eventAt) is { } name)
        {
            if (EventCatalogue.IsCounted(name)) eventName = name;
            else if (EventCatalogue.SpecNames.TryGetValue(name, out var ours))
                Error(eventAt, $"'{name}' is a Segment spec name; rules use stored event names: {ours}");
            else
                Error(eventAt, $"unknown event '{name}'; expected one of {string.Join(", ", EventCatalogue.Counted)}{DidYouMean(name, EventCatalogue.Counted)}");
        }

        if (fields.TryGetValue("category", out var c) && NonEmpty(c, Child(at, "category")) is { } cat)
        {
            if (eventName is not null && !EventCatalogue.HasCategory(eventName))
                Error(Child(at, "category"), $"{eventName} is not counted by category; only {string.Join(", ", EventCatalogue.WithCategory)} are");
            category = cat.ToLowerInvariant();
        }
        return (eventName, category);
    }

    private (int? AtLeast, int? AtMost) Bounds(Dictionary<string, JsonElement> fields, string at, int minAtLeast)
    {
        int? atLeast = fields.TryGetValue("atLeast", out var lo) ? Whole(lo, Child(at, "atLeast"), minAtLeast, MaxCount) : null;
        int? atMost = fields.TryGetValue("atMost", out var hi) ? Whole(hi, Child(at, "atMost"), 0, MaxCount) : null;
        if (!fields.ContainsKey("atLeast") && !fields.ContainsKey("atMost")) Error(at, "needs atLeast or atMost");
        if (atLeast > atMost) Error(Child(at, "atMost"), "must be at least atLeast");
        return (atLeast, atMost);
    }

    private Window? WindowOf(Dictionary<string, JsonElement> fields, string at, bool required)
    {
        var hasDays = fields.TryGetValue("withinDays", out var days);
        var hasHours = fields.TryGetValue("withinHours", out var hours);
        if (hasDays && hasHours)
        {
            Error(Child(at, "withinHours"), "use either withinDays or withinHours");
            return null;
        }
        const string horizon = " (day counts are kept for 400 days)";
        if (hasDays) return Whole(days, Child(at, "withinDays"), 1, MaxWindowDays, null, horizon) is { } d ? new Window(d, false) : null;
        if (hasHours) return Whole(hours, Child(at, "withinHours"), 1, MaxWindowDays * 24, null, horizon) is { } h ? new Window(h, true) : null;
        if (required) Error(at, "needs withinDays or withinHours");
        return null;
    }

    private int? Whole(JsonElement v, string at, int min, int max, string? message = null, string? whyMax = null)
    {
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDecimal(out var d) && d == decimal.Truncate(d) && d >= min)
        {
            if (d <= max) return (int)d;
            Error(at, message ?? $"must be at most {max}{whyMax}");
            return null;
        }
        Error(at, message ?? $"must be a whole number ≥ {min}");
        return null;
    }

    private decimal? Amount(JsonElement v, string at)
    {
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDecimal(out var d) && d >= 0) return d;
        Error(at, "must be a number ≥ 0");
        return null;
    }

    private decimal? Number(JsonElement v, string at)
    {
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDecimal(out var d)) return d;
        Error(at, "must be a number");
        return null;
    }

    private bool? Bool(JsonElement v, string at)
    {
        if (v.ValueKind is JsonValueKind.True or JsonValueKind.False) return v.GetBoolean();
        Error(at, "must be true or false");
        return null;
    }

    private string? NonEmpty(JsonElement v, string at)
    {
        string? s;
        try
        {
            s = v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        }
        catch (InvalidOperationException)
        {
            Error(at, "must be valid Unicode text (it holds a lone surrogate)");
            return null;
        }
        if (s is null || string.IsNullOrWhiteSpace(s))
        {
            Error(at, "must be a non-empty string");
            return null;
        }
        if (s.Length > MaxTextLength)
        {
            Error(at, $"must be at most {MaxTextLength} characters");
            return null;
        }
        // Rules are stored as jsonb, which refuses NUL; control characters have no place in a rule's text anyway.
        if (!StoredText.IsClean(s))
        {
            Error(at, "must not contain control characters");
            return null;
        }
        return s;
    }

    /// <summary>An attribute value to compare with: a string, or a number or boolean as written.</summary>
    private string? Scalar(JsonElement v, string at) => v.ValueKind switch
    {
        JsonValueKind.String => NonEmpty(v, at),
        JsonValueKind.Number => v.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => ScalarError(at),
    };

    private string? ScalarError(string at)
    {
        Error(at, "must be a string or a number");
        return null;
    }

    private string[]? Scalars(JsonElement v, string at)
    {
        if (v.ValueKind != JsonValueKind.Array || v.GetArrayLength() == 0)
        {
            Error(at, "must be a non-empty array of values");
            return null;
        }
        if (v.GetArrayLength() > MaxValues)
        {
            Error(at, $"must list at most {MaxValues} values");
            return null;
        }
        var values = new List<string>();
        var ok = true;
        var i = 0;
        foreach (var item in v.EnumerateArray())
        {
            if (Scalar(item, Item(at, i++)) is { } s) { if (!values.Contains(s)) values.Add(s); }
            else ok = false;
        }
        return ok ? [.. values] : null;
    }

    /// <summary>"; did you mean count?" for a near miss (case, or a couple of letters), else "".</summary>
    private static string DidYouMean(string given, IEnumerable<string> candidates) =>
        Closest(given, candidates) is { } best ? $"; did you mean {best}?" : "";

    /// <summary>The candidate <paramref name="given"/> is a near miss of (case, or a couple of letters), or null. Journeys use it too.</summary>
    internal static string? Closest(string given, IEnumerable<string> candidates)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            var distance = string.Equals(given, candidate, StringComparison.OrdinalIgnoreCase) ? 0 : Distance(given.ToLowerInvariant(), candidate.ToLowerInvariant());
            if (distance < bestDistance) (best, bestDistance) = (candidate, distance);
        }
        return best is not null && bestDistance <= Math.Max(1, Math.Min(3, best.Length / 3)) ? best : null;
    }

    private static int Distance(string a, string b)
    {
        if (a.Length > 64 || b.Length > 64) return int.MaxValue;
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        var beforePrevious = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
                // Two letters swapped ("wiat", "sned") is the commonest slip: one edit, not two.
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) current[j] = Math.Min(current[j], beforePrevious[j - 2] + 1);
            }
            (beforePrevious, previous, current) = (previous, current, beforePrevious);
        }
        return previous[b.Length];
    }
}
