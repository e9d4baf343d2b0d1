using Actors.Domain.Tracking;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Actors.Domain.Segments;

namespace Actors.Domain.Journeys;

/// <summary>
/// Reads the journey language. A journey is one object; only name, trigger, start and steps are required:
/// <code>
/// {"name":"Abandoned cart",
///  "trigger":{"event":"cart_item_added","category":"shoes","filter":{…rule…}}     an event (stored name), optionally of a
///          | {"segment":"vip","on":"enter"|"leave"}                                category and if the profile matches
///          | {"manual":true},                                                      the filter; a segment; or by hand
///  "entryCondition":{…rule…},                     checked when the trigger fires
///  "start":"wait1",                               the first step's id
///  "steps":[                                      at most 100; "next" (and the other exits) absent or null: the end
///    {"id":"wait1","wait":{"duration":"PT1H"},"next":"send1"},
///    {"id":"send1","send":{"channel":"email","template":"cart-1","topic":"offers","contentType":"promo",
///                          "kind":"marketing"|"transactional"},"next":"…"},     channel: email, sms, push, web, webhook
///    {"id":"at9","waitUntil":{"time":"09:00","days":["mon","tue"]},"next":"…"},  visitor's time zone; days optional
///    {"id":"w","waitForEvent":{"event":"order_placed","category":"shoes","timeout":"P3D"},"onEvent":"…","onTimeout":"…"},
///    {"id":"b","branch":{"arms":[{"name":"vip","rule":{…rule…},"next":"…"}],"otherwise":"…"}},   first arm that matches
///    {"id":"ab","split":{"arms":[{"name":"a","percent":50,"next":"…"},{"name":"b","percent":50,"next":"…"}]}},
///    {"id":"tag","setAttribute":{"name":"cart_nudged","value":"yes"|null},"next":"…"},          null removes it
///    {"id":"end","exit":true}],
///  "goal":{"event":"order_placed","category":"shoes","attributionWindow":"P7D"},   ends the journey wherever the visitor is
///  "reEntry":"onceEver"|"onceAtATime"|{"afterCoolDown":"P30D"},                    default onceAtATime
///  "exitOnLeavingSegment":"cart-abandoners",
///  "holdoutPercent":10}                                                            0–100, default 0
/// </code>
/// The event that lets a visitor in never counts as their goal (a post-purchase journey's goal is the next order).
/// Rules are the segment language (<see cref="RuleParser"/>). Events are stored names, as in rules; a category only
/// for the events counted by category. Durations are ISO 8601 (<see cref="IsoDuration"/>: a month is 30 days, a year
/// 365) from 1 second to 400 days. Ids, names and templates are at most 100 characters, attribute values 200; no text
/// may hold control characters (PostgreSQL's jsonb refuses NUL). The graph must be whole: every exit names a step,
/// every step is reachable from start, and a loop must pass through a wait, waitUntil or waitForEvent step (else it
/// would spin). Every problem is collected with its path, e.g. "steps[2].wait.duration" or
/// "steps[4].branch.arms[0].rule.all[1].count.atLeast".
/// </summary>
internal sealed partial class JourneyParser
{
    public const int MaxSteps = 100;
    public const int MaxIdLength = 100;
    public const int MaxValueLength = 200;
    public const int MaxBranchArms = 20;
    public const int MaxSplitArms = 10;
    /// <summary>Past this, the rest would only repeat the same mistake; one error says so.</summary>
    public const int MaxErrors = 200;

    public static readonly string[] Channels = ["email", "sms", "push", "web", "webhook"];

    private static readonly string[] TopFields =
        ["name", "trigger", "entryCondition", "start", "steps", "goal", "reEntry", "exitOnLeavingSegment", "holdoutPercent"];

    private static readonly string[] StepKinds = ["send", "wait", "waitUntil", "waitForEvent", "branch", "split", "setAttribute", "exit"];
    private static readonly string[] Exits = ["next", "onEvent", "onTimeout"];
    private static readonly string[] StepFields = ["id", .. StepKinds, .. Exits];

    private static readonly string[] DayNames = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    private static readonly DayOfWeek[] DayValues =
        [DayOfWeek.Monday, DayOfWeek.Tuesday, DayOfWeek.Wednesday, DayOfWeek.Thursday, DayOfWeek.Friday, DayOfWeek.Saturday, DayOfWeek.Sunday];

    private readonly List<JourneyError> errors = [];

    /// <summary>Paths a misspelt field was pointed to ("did you mean"): that field is not reported missing as well.</summary>
    private readonly HashSet<string> suggested = new(StringComparer.Ordinal);

    /// <summary>Every exit read, checked once all step ids are known.</summary>
    private readonly List<(string Path, string Target)> references = [];

    public static JourneyParseResult Parse(JsonElement json, string id, int version)
    {
        var parser = new JourneyParser();
        JourneyDefinition? journey;
        try
        {
            journey = parser.Journey(json, id, version);
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException or JsonException or ArgumentException)
        {
            // e.g. a lone surrogate in a field name: System.Text.Json refuses to read it as text.
            parser.Error("", "could not read the journey: " + e.Message);
            journey = null;
        }
        if (journey is null && parser.errors.Count == 0) parser.Error("", "not a journey");
        return journey is null || parser.errors.Count > 0 ? new JourneyParseResult(null, parser.errors) : new JourneyParseResult(journey, []);
    }

    private void Error(string path, string message)
    {
        if (errors.Count < MaxErrors) errors.Add(new JourneyError(path, message));
        else if (errors.Count == MaxErrors) errors.Add(new JourneyError("", $"more than {MaxErrors} problems; fix these first"));
    }

    private static string Child(string path, string name) => path.Length == 0 ? name : string.Concat(path, ".", name);

    private static string Item(string path, int index) => string.Concat(path, "[", index.ToString(CultureInfo.InvariantCulture), "]");

    // ---- the journey ----

    private JourneyDefinition? Journey(JsonElement json, string id, int version)
    {
        if (string.IsNullOrEmpty(id) || id.Length > MaxIdLength || !IsCleanText(id)) Error("id", $"must be 1 to {MaxIdLength} characters with no control characters");
        if (version < 1) Error("version", "must be 1 or more");
        if (json.ValueKind != JsonValueKind.Object)
        {
            Error("", "must be a journey object, e.g. {\"name\":\"Welcome\",\"trigger\":{…},\"start\":\"send1\",\"steps\":[…]}");
            return null;
        }
        var fields = Fields(json, "", TopFields);

        var name = Required(fields, "name", "", "required: the journey's name") is { } n ? Text(n, "name", MaxIdLength)?.Trim() : null;
        var trigger = Required(fields, "trigger", "", "required: {\"event\":…}, {\"segment\":…} or {\"manual\":true}") is { } t ? Trigger(t, "trigger") : null;
        var entry = Optional(fields, "entryCondition") is { } ec ? Rule(ec, "entryCondition") : null;
        // start first: its reference is checked with the steps' own, once all step ids are known.
        var start = Required(fields, "start", "", "required: the id of the first step") is { } st ? Reference(st, "start") : null;
        var steps = Required(fields, "steps", "", "required: the list of steps") is { } s ? Steps(s, "steps") : null;
        var goal = Optional(fields, "goal") is { } g ? Goal(g, "goal") : null;
        var (reEntry, coolDown) = Optional(fields, "reEntry") is { } r ? ReEntryOf(r, "reEntry") : (ReEntry.OnceAtATime, null);
        var leaving = Optional(fields, "exitOnLeavingSegment") is { } l ? SegmentId(l, "exitOnLeavingSegment") : null;
        var holdout = Optional(fields, "holdoutPercent") is { } h ? Whole(h, "holdoutPercent", 0, 100) : 0;

        if (steps is not null) CheckGraph(steps, start);
        if (errors.Count > 0 || name is null || trigger is null || steps is null || start is null || reEntry is null || holdout is null) return null;
        var byId = new OrderedDictionary<string, JourneyStep>(StringComparer.Ordinal);
        foreach (var (step, _) in steps) byId.Add(step.Id, step);
        return new JourneyDefinition(id, name, version, trigger, entry, byId, start, goal, reEntry.Value, coolDown, leaving, holdout.Value);
    }

    private JourneyTrigger? Trigger(JsonElement v, string at)
    {
        if (v.ValueKind == JsonValueKind.Object)
        {
            if (v.TryGetProperty("event", out _))
            {
                if (Fields(v, at, ["event", "category", "filter"]) is not { } f) return null;
                var before = errors.Count;
                var (eventName, category) = EventAndCategory(f, at);
                var filter = Optional(f, "filter") is { } rule ? Rule(rule, Child(at, "filter")) : null;
                return errors.Count > before || eventName is null ? null : new EventTrigger(eventName, category, filter);
            }
            if (v.TryGetProperty("segment", out _))
            {
                if (Fields(v, at, ["segment", "on"]) is not { } f) return null;
                var segment = SegmentId(f["segment"], Child(at, "segment"));
                var onEnter = true;
                if (Optional(f, "on") is { } on)
                {
                    switch (on.ValueKind == JsonValueKind.String ? on.GetString() : null)
                    {
                        case "enter": break;
                        case "leave": onEnter = false; break;
                        default:
                            Error(Child(at, "on"), "must be \"enter\" or \"leave\"");
                            return null;
                    }
                }
                return segment is null ? null : new SegmentTrigger(segment, onEnter);
            }
            if (v.TryGetProperty("manual", out _))
            {
                if (Fields(v, at, ["manual"]) is not { } f) return null;
                if (f["manual"].ValueKind == JsonValueKind.True) return new ManualTrigger();
                Error(Child(at, "manual"), "must be true (a journey needs a trigger)");
                return null;
            }
        }
        var unknown = v.ValueKind == JsonValueKind.Object ? v.EnumerateObject().Select(p => p.Name).FirstOrDefault() : null;
        var hint = unknown is not null && RuleParser.Closest(unknown, ["event", "segment", "manual"]) is { } best ? $"; did you mean {best}?" : "";
        Error(at, "must be {\"event\":\"cart_item_added\"}, {\"segment\":\"vip\",\"on\":\"enter\"} or {\"manual\":true}" + hint);
        return null;
    }

    private JourneyGoal? Goal(JsonElement v, string at)
    {
        if (Fields(v, at, ["event", "category", "attributionWindow"], "{\"event\":\"order_placed\",\"attributionWindow\":\"P7D\"}") is not { } f) return null;
        var before = errors.Count;
        var (eventName, category) = EventAndCategory(f, at);
        var window = Required(f, "attributionWindow", at, "required: how long after entering a goal counts as a conversion, e.g. \"P7D\"") is { } w
            ? Duration(w, Child(at, "attributionWindow"))
            : null;
        return errors.Count > before || eventName is null || window is null ? null : new JourneyGoal(eventName, category, window.Value);
    }

    private (ReEntry?, TimeSpan?) ReEntryOf(JsonElement v, string at)
    {
        const string Expected = "must be \"onceEver\", \"onceAtATime\" or {\"afterCoolDown\":\"P30D\"}";
        if (v.ValueKind == JsonValueKind.String)
        {
            var text = v.GetString()!;
            switch (text)
            {
                case "onceEver": return (ReEntry.OnceEver, null);
                case "onceAtATime": return (ReEntry.OnceAtATime, null);
                default:
                    var hint = RuleParser.Closest(text, ["onceEver", "onceAtATime", "afterCoolDown"]) is { } best ? $"; did you mean {best}?" : "";
                    Error(at, Expected + hint);
                    return (null, null);
            }
        }
        if (v.ValueKind == JsonValueKind.Object && Fields(v, at, ["afterCoolDown"]) is { } f)
        {
            if (Required(f, "afterCoolDown", at, "required: the time after an entry before the next, e.g. \"P30D\"") is not { } c) return (null, null);
            return Duration(c, Child(at, "afterCoolDown")) is { } coolDown ? (ReEntry.AfterCoolDown, coolDown) : (null, null);
        }
        if (v.ValueKind != JsonValueKind.Object) Error(at, Expected);
        return (null, null);
    }

    // ---- steps ----

    private List<(JourneyStep Step, int Index)>? Steps(JsonElement v, string at)
    {
        if (v.ValueKind != JsonValueKind.Array)
        {
            Error(at, "must be an array of steps");
            return null;
        }
        var count = v.GetArrayLength();
        if (count == 0)
        {
            Error(at, "must list at least one step");
            return null;
        }
        if (count > MaxSteps)
        {
            Error(at, $"must list at most {MaxSteps} steps (this has {count})");
            return null;
        }
        var steps = new List<(JourneyStep, int)>(count);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var ok = true;
        var i = 0;
        foreach (var element in v.EnumerateArray())
        {
            var path = Item(at, i);
            var step = Step(element, path, out var id);
            if (id is not null && !seen.TryAdd(id, i))
            {
                Error(Child(path, "id"), $"duplicate step id \"{id}\": steps[{seen[id]}] has it too");
                ok = false;
            }
            if (step is null) ok = false;
            else steps.Add((step, i));
            i++;
        }
        foreach (var (path, target) in references)
        {
            if (seen.ContainsKey(target)) continue;
            var hint = RuleParser.Closest(target, seen.Keys) is { } best ? $" (did you mean \"{best}\"?)" : "";
            Error(path, $"no step \"{target}\"{hint}");
            ok = false;
        }
        return ok ? steps : null;
    }

    private JourneyStep? Step(JsonElement e, string path, out string? id)
    {
        id = null;
        if (e.ValueKind != JsonValueKind.Object)
        {
            Error(path, "must be a step object, e.g. {\"id\":\"wait1\",\"wait\":{\"duration\":\"PT1H\"},\"next\":\"send1\"}");
            return null;
        }
        string? kind = null;
        var fields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var property in e.EnumerateObject())
        {
            var at = Child(path, property.Name);
            if (Array.IndexOf(StepFields, property.Name) < 0)
            {
                var hint = Suggest(property.Name, StepFields, path);
                Error(at, "unknown field; a step has id, one of " + string.Join(", ", StepKinds) + ", and where to go next" + hint);
            }
            else if (!fields.TryAdd(property.Name, property.Value)) Error(at, "given twice");
            else if (Array.IndexOf(StepKinds, property.Name) >= 0)
            {
                if (kind is null) kind = property.Name;
                else Error(at, $"a step does one thing and this one is a {kind} step; add another step for this");
            }
        }

        if (fields.TryGetValue("id", out var idValue)) id = Text(idValue, Child(path, "id"), MaxIdLength);
        else if (!suggested.Contains(Child(path, "id"))) Error(Child(path, "id"), "required: the step's id, which other steps name to go to it");
        if (kind is null)
        {
            // A misspelt kind ("wiat") was already pointed at; say nothing more.
            if (!StepKinds.Any(k => suggested.Contains(Child(path, k)))) Error(path, "needs what the step does: one of " + string.Join(", ", StepKinds));
            return null;
        }

        var before = errors.Count;
        var allowedExits = kind switch
        {
            "waitForEvent" => (string[])["onEvent", "onTimeout"],
            "branch" or "split" or "exit" => [],
            _ => ["next"],
        };
        foreach (var exit in Exits)
        {
            if (!fields.ContainsKey(exit) || Array.IndexOf(allowedExits, exit) >= 0) continue;
            Error(Child(path, exit), kind switch
            {
                "waitForEvent" => "a waitForEvent step goes on by onEvent or onTimeout",
                "branch" => "a branch step goes on by its arms' next and otherwise",
                "split" => "a split step goes on by its arms' next",
                "exit" => "an exit step ends the journey: it has no next",
                _ => $"a {kind} step goes on by next",
            });
        }

        var body = fields[kind];
        var bodyAt = Child(path, kind);
        string? Next(string name) => fields.TryGetValue(name, out var n) ? Exit(n, Child(path, name)) : null;
        JourneyStep? step = kind switch
        {
            "send" => Send(body, bodyAt, id, Next("next")),
            "wait" => Wait(body, bodyAt, id, Next("next")),
            "waitUntil" => WaitUntil(body, bodyAt, id, Next("next")),
            "waitForEvent" => WaitForEvent(body, bodyAt, id, Next("onEvent"), Next("onTimeout")),
            "branch" => Branch(body, bodyAt, id),
            "split" => Split(body, bodyAt, id),
            "setAttribute" => SetAttribute(body, bodyAt, id, Next("next")),
            _ => ExitOf(body, bodyAt, id),
        };
        return errors.Count > before || id is null ? null : step;
    }

    private SendStep? Send(JsonElement v, string at, string? id, string? next)
    {
        if (Fields(v, at, ["channel", "template", "topic", "contentType", "kind"], "{\"channel\":\"email\",\"template\":\"cart-1\"}") is not { } f)
            return null;
        string? channel = null;
        if (Required(f, "channel", at, "required: one of " + string.Join(", ", Channels)) is { } c && Text(c, Child(at, "channel"), MaxIdLength) is { } name)
        {
            if (Array.IndexOf(Channels, name) >= 0) channel = name;
            else
            {
                var hint = RuleParser.Closest(name, Channels) is { } best ? $"; did you mean {best}?" : "";
                Error(Child(at, "channel"), $"unknown channel '{name}'; expected one of {string.Join(", ", Channels)}{hint}");
            }
        }
        var template = Required(f, "template", at, "required: the id of the message template") is { } t ? Text(t, Child(at, "template"), MaxIdLength) : null;
        var topic = Optional(f, "topic") is { } tp ? Text(tp, Child(at, "topic"), MaxIdLength) : null;
        var contentType = Optional(f, "contentType") is { } ct ? Text(ct, Child(at, "contentType"), MaxIdLength) : null;
        var kind = MessageKind.Marketing;
        if (Optional(f, "kind") is { } k)
        {
            switch (k.ValueKind == JsonValueKind.String ? k.GetString() : null)
            {
                case "marketing": break;
                case "transactional": kind = MessageKind.Transactional; break;
                default: Error(Child(at, "kind"), "must be \"marketing\" or \"transactional\""); break;
            }
        }
        return id is null || channel is null || template is null ? null : new SendStep(id, channel, template, topic, contentType, kind, next);
    }

    private WaitStep? Wait(JsonElement v, string at, string? id, string? next)
    {
        if (Fields(v, at, ["duration"], "{\"duration\":\"PT1H\"}") is not { } f) return null;
        if (Required(f, "duration", at, "required: an ISO 8601 duration, e.g. \"PT1H\" or \"P3D\"") is not { } d) return null;
        return Duration(d, Child(at, "duration")) is { } duration && id is not null ? new WaitStep(id, duration, next) : null;
    }

    private WaitUntilStep? WaitUntil(JsonElement v, string at, string? id, string? next)
    {
        if (Fields(v, at, ["time", "days"], "{\"time\":\"09:00\",\"days\":[\"mon\",\"tue\"]}") is not { } f) return null;
        TimeOnly? time = null;
        if (Required(f, "time", at, "required: a time of day, \"HH:mm\"") is { } t)
        {
            var text = t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
            if (text.Length == 5 && TimeOnly.TryParseExact(text, "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed)) time = parsed;
            else Error(Child(at, "time"), "must be a time of day \"HH:mm\" from \"00:00\" to \"23:59\", e.g. \"09:00\"");
        }
        var days = new List<DayOfWeek>();
        if (Optional(f, "days") is { } d)
        {
            var daysAt = Child(at, "days");
            if (d.ValueKind != JsonValueKind.Array || d.GetArrayLength() == 0)
                Error(daysAt, "must list at least one of " + string.Join(", ", DayNames) + " (leave days out for every day)");
            else
            {
                var i = 0;
                foreach (var day in d.EnumerateArray())
                {
                    var name = day.ValueKind == JsonValueKind.String ? day.GetString()! : null;
                    var index = name is null ? -1 : Array.IndexOf(DayNames, name);
                    if (index >= 0) { if (!days.Contains(DayValues[index])) days.Add(DayValues[index]); }
                    else
                    {
                        var hint = name is not null && RuleParser.Closest(name, DayNames) is { } best ? $"; did you mean {best}?" : "";
                        Error(Item(daysAt, i), "must be one of " + string.Join(", ", DayNames) + hint);
                    }
                    i++;
                }
            }
        }
        // Canonical: Monday first, and every day of the week is the same as no days at all.
        days.Sort((a, b) => Array.IndexOf(DayValues, a).CompareTo(Array.IndexOf(DayValues, b)));
        if (days.Count == 7) days.Clear();
        return time is null || id is null ? null : new WaitUntilStep(id, time.Value, [.. days], next);
    }

    private WaitForEventStep? WaitForEvent(JsonElement v, string at, string? id, string? onEvent, string? onTimeout)
    {
        if (Fields(v, at, ["event", "category", "timeout"], "{\"event\":\"order_placed\",\"timeout\":\"P3D\"}") is not { } f) return null;
        var before = errors.Count;
        var (eventName, category) = EventAndCategory(f, at);
        var timeout = Required(f, "timeout", at, "required: how long to wait for the event, e.g. \"P3D\"") is { } t ? Duration(t, Child(at, "timeout")) : null;
        return errors.Count > before || eventName is null || timeout is null || id is null
            ? null
            : new WaitForEventStep(id, eventName, category, timeout.Value, onEvent, onTimeout);
    }

    private BranchStep? Branch(JsonElement v, string at, string? id)
    {
        if (Fields(v, at, ["arms", "otherwise"], "{\"arms\":[{\"name\":\"vip\",\"rule\":{…},\"next\":\"…\"}],\"otherwise\":\"…\"}") is not { } f) return null;
        var before = errors.Count;
        var arms = new List<BranchArm>();
        if (Required(f, "arms", at, "required: the arms, tried in order") is { } a)
            Arms(a, Child(at, "arms"), MaxBranchArms, 1, ["name", "rule", "next"], (arm, path) =>
            {
                var name = ArmName(arm, path);
                var rule = Required(arm, "rule", path, "required: the segment rule that sends a visitor this way") is { } r ? Rule(r, Child(path, "rule")) : null;
                var next = arm.TryGetValue("next", out var n) ? Exit(n, Child(path, "next")) : null;
                if (name is not null && rule is not null) arms.Add(new BranchArm(name, rule, next));
                return name;
            });
        var otherwise = f.TryGetValue("otherwise", out var o) ? Exit(o, Child(at, "otherwise")) : null;
        return errors.Count > before || id is null ? null : new BranchStep(id, arms, otherwise);
    }

    private SplitStep? Split(JsonElement v, string at, string? id)
    {
        if (Fields(v, at, ["arms"], "{\"arms\":[{\"name\":\"a\",\"percent\":50,\"next\":\"…\"},{\"name\":\"b\",\"percent\":50,\"next\":\"…\"}]}") is not { } f)
            return null;
        var before = errors.Count;
        var arms = new List<SplitArm>();
        var total = 0;
        var allRead = true;
        if (Required(f, "arms", at, "required: at least two arms whose percentages add up to 100") is { } a)
        {
            var armsAt = Child(at, "arms");
            Arms(a, armsAt, MaxSplitArms, 2, ["name", "percent", "next"], (arm, path) =>
            {
                var name = ArmName(arm, path);
                var percent = Required(arm, "percent", path, "required: the share of visitors, 1 to 99") is { } p ? Whole(p, Child(path, "percent"), 1, 99) : null;
                var next = arm.TryGetValue("next", out var n) ? Exit(n, Child(path, "next")) : null;
                if (name is not null && percent is not null) arms.Add(new SplitArm(name, percent.Value, next));
                total += percent ?? 0;
                allRead &= percent is not null;
                return name;
            });
            if (errors.Count == before && allRead && total != 100) Error(armsAt, $"the percentages add up to {total}; they must add up to 100");
        }
        return errors.Count > before || id is null ? null : new SplitStep(id, arms);
    }

    /// <summary>Reads an array of arm objects (names unique) with <paramref name="one"/>, which returns the arm's name.</summary>
    private void Arms(JsonElement v, string at, int max, int min, string[] allowed, Func<Dictionary<string, JsonElement>, string, string?> one)
    {
        if (v.ValueKind != JsonValueKind.Array || v.GetArrayLength() < min || v.GetArrayLength() > max)
        {
            Error(at, $"must be an array of {min} to {max} arms");
            return;
        }
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        var i = 0;
        foreach (var element in v.EnumerateArray())
        {
            var path = Item(at, i);
            if (Fields(element, path, allowed, "{\"name\":\"a\",…}") is { } arm && one(arm, path) is { } name && !names.TryAdd(name, i))
                Error(Child(path, "name"), $"duplicate arm name \"{name}\": {Item(at, names[name])} has it too");
            i++;
        }
    }

    private string? ArmName(Dictionary<string, JsonElement> arm, string path) =>
        Required(arm, "name", path, "required: the arm's name, recorded when a visitor goes this way") is { } n ? Text(n, Child(path, "name"), MaxIdLength) : null;

    private SetAttributeStep? SetAttribute(JsonElement v, string at, string? id, string? next)
    {
        if (Fields(v, at, ["name", "value"], "{\"name\":\"cart_nudged\",\"value\":\"yes\"}") is not { } f) return null;
        var before = errors.Count;
        var name = Required(f, "name", at, "required: the attribute's name") is { } n ? Text(n, Child(at, "name"), MaxIdLength) : null;
        string? value = null;
        if (!f.TryGetValue("value", out var val)) Error(Child(at, "value"), "required: the value to set, or null to remove the attribute");
        else
        {
            var valueAt = Child(at, "value");
            value = val.ValueKind switch
            {
                JsonValueKind.Null => null,
                JsonValueKind.String => Text(val, valueAt, MaxValueLength, allowBlank: true),
                JsonValueKind.Number => val.GetRawText(),
                JsonValueKind.True => "true",
                JsonValueKind.False => "false",
                _ => NotAValue(valueAt),
            };
        }
        return errors.Count > before || name is null || id is null ? null : new SetAttributeStep(id, name, value, next);
    }

    private string? NotAValue(string at)
    {
        Error(at, "must be a string, a number, true, false, or null to remove the attribute");
        return null;
    }

    private ExitStep? ExitOf(JsonElement v, string at, string? id)
    {
        if (v.ValueKind != JsonValueKind.True)
        {
            Error(at, "must be true");
            return null;
        }
        return id is null ? null : new ExitStep(id);
    }

    /// <summary>A step id to go to, or null (JSON null): the end. Checked against the steps once all are read.</summary>
    private string? Exit(JsonElement v, string at) => v.ValueKind == JsonValueKind.Null ? null : Reference(v, at);

    private string? Reference(JsonElement v, string at)
    {
        if (Text(v, at, MaxIdLength) is not { } target) return null;
        references.Add((at, target));
        return target;
    }

    // ---- the graph ----

    /// <summary>
    /// Every step reachable from start, and no loop without a wait: a visitor moves through send, branch, split and
    /// setAttribute steps at once, so such a loop would spin (and send) forever.
    /// </summary>
    private void CheckGraph(List<(JourneyStep Step, int Index)> steps, string? start)
    {
        if (start is null) return; // steps is only given when every step and reference is sound
        var byId = steps.ToDictionary(s => s.Step.Id, StringComparer.Ordinal);

        var reached = new HashSet<string>(StringComparer.Ordinal) { start };
        var queue = new Queue<string>([start]);
        while (queue.TryDequeue(out var id))
            foreach (var next in Targets(byId[id].Step))
                if (reached.Add(next)) queue.Enqueue(next);
        foreach (var (step, index) in steps)
            if (!reached.Contains(step.Id)) Error(Item("steps", index), $"step \"{step.Id}\" cannot be reached from start");

        // A loop among steps that do not wait: depth-first over them, a step met again on the current path closes one.
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1: on the path, 2: done
        var path = new List<string>();
        var reported = new HashSet<string>(StringComparer.Ordinal);
        void Visit(string id)
        {
            state[id] = 1;
            path.Add(id);
            foreach (var next in Targets(byId[id].Step))
            {
                if (Waits(byId[next].Step)) continue;
                if (!state.TryGetValue(next, out var s)) Visit(next);
                else if (s == 1 && reported.Add(next))
                {
                    var loop = path.Skip(path.IndexOf(next)).Append(next);
                    Error(Item("steps", byId[next].Index),
                        $"the steps {string.Join(" → ", loop)} loop without waiting; a loop must pass through a wait, waitUntil or waitForEvent step");
                }
            }
            path.RemoveAt(path.Count - 1);
            state[id] = 2;
        }
        foreach (var (step, _) in steps)
            if (!Waits(step) && !state.ContainsKey(step.Id)) Visit(step.Id);
    }

    private static bool Waits(JourneyStep step) => step is WaitStep or WaitUntilStep or WaitForEventStep;

    /// <summary>The steps a step can go on to, in order (each once).</summary>
    internal static IEnumerable<string> Targets(JourneyStep step)
    {
        IEnumerable<string?> all = step switch
        {
            SendStep s => [s.Next],
            WaitStep w => [w.Next],
            WaitUntilStep u => [u.Next],
            WaitForEventStep e => [e.OnEvent, e.OnTimeout],
            BranchStep b => [.. b.Arms.Select(a => a.Next), b.Otherwise],
            SplitStep s => s.Arms.Select(a => a.Next),
            SetAttributeStep a => [a.Next],
            _ => [],
        };
        return all.OfType<string>().Distinct(StringComparer.Ordinal);
    }

    // ---- parts ----

    /// <summary>The fields of an object, each known one once; unknown or repeated ones are errors.</summary>
    private Dictionary<string, JsonElement>? Fields(JsonElement value, string at, string[] allowed, string? example = null)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            Error(at, example is null ? "must be an object" : "must be an object like " + example);
            return null;
        }
        var fields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var property in value.EnumerateObject())
        {
            var path = Child(at, property.Name);
            if (Array.IndexOf(allowed, property.Name) < 0)
            {
                Error(path, "unknown field; expected " + string.Join(", ", allowed) + Suggest(property.Name, allowed, at));
            }
            else if (!fields.TryAdd(property.Name, property.Value)) Error(path, "given twice");
        }
        return fields;
    }

    private JsonElement? Required(Dictionary<string, JsonElement>? fields, string name, string at, string message)
    {
        if (fields is null) return null;
        if (fields.TryGetValue(name, out var v) && v.ValueKind != JsonValueKind.Null) return v;
        if (!suggested.Contains(Child(at, name))) Error(Child(at, name), message);
        return null;
    }

    /// <summary>"; did you mean channel?" for a near miss of a field of the object at <paramref name="at"/>, else "".</summary>
    private string Suggest(string given, string[] candidates, string at)
    {
        if (RuleParser.Closest(given, candidates) is not { } best) return "";
        suggested.Add(Child(at, best));
        return $"; did you mean {best}?";
    }

    /// <summary>An optional field; JSON null is the same as leaving it out.</summary>
    private static JsonElement? Optional(Dictionary<string, JsonElement>? fields, string name) =>
        fields is not null && fields.TryGetValue(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    private SegmentRule? Rule(JsonElement v, string at)
    {
        var result = SegmentRule.Parse(v);
        foreach (var e in result.Errors)
            Error(e.Path.Length == 0 ? at : e.Path[0] == '[' ? at + e.Path : Child(at, e.Path), e.Message);
        if (result.Rule is null) return null;
        // The rule language bounds lengths but not characters; the journey is stored as jsonb, which refuses NUL.
        return CleanTree(v, at) ? result.Rule : null;
    }

    private bool CleanTree(JsonElement v, string at)
    {
        switch (v.ValueKind)
        {
            case JsonValueKind.String:
                if (IsCleanText(v.GetString()!)) return true;
                Error(at, "must not contain control characters");
                return false;
            case JsonValueKind.Array:
                var ok = true;
                var i = 0;
                foreach (var item in v.EnumerateArray()) ok &= CleanTree(item, Item(at, i++));
                return ok;
            case JsonValueKind.Object:
                var clean = true;
                foreach (var property in v.EnumerateObject()) clean &= CleanTree(property.Value, Child(at, property.Name));
                return clean;
            default:
                return true;
        }
    }

    private (string? Event, string? Category) EventAndCategory(Dictionary<string, JsonElement> fields, string at)
    {
        string? eventName = null, category = null;
        var eventAt = Child(at, "event");
        if (Required(fields, "event", at, "required: a stored event name; expected one of " + string.Join(", ", EventCatalogue.Counted)) is { } e
            && Text(e, eventAt, MaxIdLength) is { } name)
        {
            if (EventCatalogue.IsCounted(name)) eventName = name;
            else if (EventCatalogue.SpecNames.TryGetValue(name, out var ours))
                Error(eventAt, $"'{name}' is a Segment spec name; journeys use stored event names: {ours}");
            else
            {
                var hint = RuleParser.Closest(name, EventCatalogue.Counted) is { } best ? $"; did you mean {best}?" : "";
                Error(eventAt, $"unknown event '{name}'; expected one of {string.Join(", ", EventCatalogue.Counted)}{hint}");
            }
        }
        if (Optional(fields, "category") is { } c && Text(c, Child(at, "category"), MaxIdLength) is { } cat)
        {
            if (eventName is not null && !EventCatalogue.HasCategory(eventName))
                Error(Child(at, "category"), $"{eventName} has no category; only {string.Join(", ", EventCatalogue.WithCategory)} do");
            category = cat.ToLowerInvariant(); // categories are counted lower-case (VisitorProfile.Apply)
        }
        return (eventName, category);
    }

    private TimeSpan? Duration(JsonElement v, string at)
    {
        if (v.ValueKind != JsonValueKind.String)
        {
            Error(at, "must be an ISO 8601 duration string, e.g. \"PT1H\" or \"P3D\"");
            return null;
        }
        var text = v.GetString()!;
        if (!IsoDuration.TryParse(text, out var duration))
        {
            Error(at, $"\"{Shown(text)}\" is not an ISO 8601 duration; write e.g. \"PT30M\", \"P3D\" or \"P1M\"");
            return null;
        }
        if (duration >= IsoDuration.Min && duration <= IsoDuration.Max) return duration;
        Error(at, $"\"{text}\" is out of range: a duration is 1 second to 400 days");
        return null;
    }

    /// <summary>Text quoted back in a message, shortened and with control characters shown as '?'.</summary>
    private static string Shown(string text)
    {
        var shown = text.Length > 40 ? text[..40] + "…" : text;
        return string.Create(shown.Length, shown, (span, s) =>
        {
            for (var i = 0; i < s.Length; i++) span[i] = char.IsControl(s[i]) ? '?' : s[i];
        });
    }

    private string? SegmentId(JsonElement v, string at)
    {
        if (Text(v, at, 64) is not { } id) return null;
        if (SegmentIdPattern().IsMatch(id)) return id;
        Error(at, "must be a segment id: 1-64 characters of a-z, 0-9, '-' or '_', starting with a letter or digit");
        return null;
    }

    /// <summary>Segment ids as the segments API makes them.</summary>
    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,63}$", RegexOptions.CultureInvariant)]
    private static partial Regex SegmentIdPattern();

    private int? Whole(JsonElement v, string at, int min, int max)
    {
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDecimal(out var d) && d == decimal.Truncate(d) && d >= min && d <= max) return (int)d;
        Error(at, $"must be a whole number from {min} to {max}");
        return null;
    }

    /// <summary>A string of at most <paramref name="max"/> characters, valid Unicode with no control characters.</summary>
    private string? Text(JsonElement v, string at, int max, bool allowBlank = false)
    {
        if (v.ValueKind != JsonValueKind.String)
        {
            Error(at, "must be a string");
            return null;
        }
        string s;
        try
        {
            s = v.GetString()!;
        }
        catch (InvalidOperationException)
        {
            Error(at, "must be valid Unicode text (it holds a lone surrogate)");
            return null;
        }
        if (!allowBlank && string.IsNullOrWhiteSpace(s)) Error(at, "must be a non-empty string");
        else if (s.Length > max) Error(at, $"must be at most {max} characters");
        else if (!IsCleanText(s)) Error(at, "must not contain control characters");
        else return s;
        return null;
    }

    /// <summary>No control characters (NUL, newlines, C1) and no lone surrogates.</summary>
    internal static bool IsCleanText(string s) => StoredText.IsClean(s);
}
