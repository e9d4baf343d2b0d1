using System.Globalization;
using System.Text;
using Actors.Domain.Segments;
using Actors.Domain.Tracking;

namespace Actors.Domain.Journeys;

/// <summary>
/// A journey in English, e.g. "When a visitor adds shoes to the cart: wait 1 hour, send email 'cart-1' (offers); ends
/// on an order (conversion within 7 days); once at a time; 10% held out." Steps are told from start, depth first; a
/// step that is gone to from elsewhere is labelled with its id ("[nudge] send …") and named in "go to nudge".
/// </summary>
internal static class JourneyDescription
{
    /// <summary>What a visitor does, for a trigger; {0} is the category.</summary>
    private static readonly Dictionary<string, (string Any, string Of)> Verbs = new(StringComparer.Ordinal)
    {
        [EventNames.PageViewed] = ("views a page", "views a page in {0}"),
        [EventNames.ProductViewed] = ("views a product", "views a product in {0}"),
        [EventNames.CategoryViewed] = ("views a category", "views the {0} category"),
        [EventNames.ProductsSearched] = ("searches the shop", ""),
        [EventNames.CartItemAdded] = ("adds to the cart", "adds {0} to the cart"),
        [EventNames.CartItemRemoved] = ("removes from the cart", ""),
        [EventNames.CheckoutStarted] = ("starts a checkout", ""),
        [EventNames.OrderPlaced] = ("places an order", "orders {0}"),
        [EventNames.OrderRefunded] = ("gets a refund", ""),
        [EventNames.Registered] = ("registers", ""),
        [EventNames.Identified] = ("signs in", ""),
        [EventNames.NewsletterSubscribed] = ("subscribes to the newsletter", ""),
        [EventNames.NewsletterUnsubscribed] = ("unsubscribes from the newsletter", ""),
        [EventNames.PreferencesUpdated] = ("updates their preferences", ""),
        [EventNames.ConsentGiven] = ("gives consent", ""),
        [EventNames.ConsentWithdrawn] = ("withdraws consent", ""),
        [EventNames.BehaviourTracked] = ("does a custom event", "does '{0}'"),
    };

    public static string Describe(JourneyDefinition journey)
    {
        var sb = new StringBuilder("When ");
        Trigger(sb, journey.Trigger);
        if (journey.EntryCondition is { } entry) sb.Append(" (only if ").Append(entry.Describe()).Append(')');
        sb.Append(": ");
        Steps(sb, journey);
        if (journey.Goal is { } goal)
            sb.Append("; ends on ").Append(Event(goal.EventName, goal.Category))
                .Append(" (conversion within ").Append(IsoDuration.Describe(goal.AttributionWindow)).Append(')');
        if (journey.ExitOnLeavingSegment is { } segment) sb.Append("; ends on leaving segment '").Append(segment).Append('\'');
        sb.Append(journey.ReEntry switch
        {
            ReEntry.OnceEver => "; once ever",
            ReEntry.AfterCoolDown => "; again " + IsoDuration.Describe(journey.CoolDown ?? TimeSpan.Zero) + " after entering",
            _ => "; once at a time",
        });
        if (journey.HoldoutPercent > 0) sb.Append("; ").Append(journey.HoldoutPercent.ToString(CultureInfo.InvariantCulture)).Append("% held out");
        return sb.Append('.').ToString();
    }

    private static void Trigger(StringBuilder sb, JourneyTrigger trigger)
    {
        switch (trigger)
        {
            case EventTrigger e:
                // A parsed journey only holds catalogued events; a hand-made one still gets a description.
                var (any, of) = Verbs.TryGetValue(e.EventName, out var verb) ? verb : ("does " + e.EventName, "does " + e.EventName + " ({0})");
                sb.Append("a visitor ").Append(e.Category is not null && of.Length > 0 ? string.Format(CultureInfo.InvariantCulture, of, e.Category) : any);
                if (e.Filter is { } filter) sb.Append(", given ").Append(filter.Describe());
                break;
            case SegmentTrigger s:
                sb.Append("a visitor ").Append(s.OnEnter ? "enters" : "leaves").Append(" segment '").Append(s.SegmentId).Append('\'');
                break;
            default:
                sb.Append("added by hand");
                break;
        }
    }

    /// <summary>"an order", "a product view with category shoes", "'video played'" (as rules say it).</summary>
    private static string Event(string eventName, string? category) =>
        eventName == EventNames.BehaviourTracked && category is not null ? $"'{category}'"
        : !EventCatalogue.IsCounted(eventName) ? eventName + (category is null ? "" : $" with category {category}")
        : category is null ? EventCatalogue.WithArticle(eventName)
        : $"{EventCatalogue.WithArticle(eventName)} with category {category}";

    private static void Steps(StringBuilder sb, JourneyDefinition journey)
    {
        // Depth first from start, so a straight line reads in order.
        var order = new List<JourneyStep>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>([journey.FirstStep]);
        while (stack.TryPop(out var id))
        {
            if (!seen.Add(id) || !journey.Steps.TryGetValue(id, out var step)) continue;
            order.Add(step);
            foreach (var next in JourneyParser.Targets(step).Reverse()) stack.Push(next);
        }

        if (order.Count == 0)
        {
            sb.Append("no steps"); // only a hand-made journey: a parsed one always starts at a step
            return;
        }

        // A step is labelled when it is not simply the one after its only predecessor.
        var incoming = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var step in order)
            foreach (var next in JourneyParser.Targets(step))
                incoming[next] = incoming.GetValueOrDefault(next) + 1;
        var labelled = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < order.Count; i++)
        {
            var id = order[i].Id;
            var fallsThrough = i > 0 && SingleNext(order[i - 1]) == id && incoming[id] == 1;
            if (!fallsThrough && (i > 0 || incoming.ContainsKey(id))) labelled.Add(id);
        }

        string To(string? id) => id is null ? "end" : "go to " + id;
        for (var i = 0; i < order.Count; i++)
        {
            var step = order[i];
            var after = i + 1 < order.Count ? order[i + 1].Id : null;
            if (i > 0) sb.Append(SingleNext(order[i - 1]) == step.Id && !labelled.Contains(step.Id) ? ", " : "; ");
            if (labelled.Contains(step.Id)) sb.Append('[').Append(step.Id).Append("] ");
            switch (step)
            {
                case SendStep s:
                    sb.Append("send ").Append(s.Channel).Append(" '").Append(s.Template).Append('\'');
                    var details = new[] { s.Topic, s.ContentType, s.Kind == MessageKind.Transactional ? "transactional" : null }.OfType<string>().ToList();
                    if (details.Count > 0) sb.Append(" (").Append(string.Join(", ", details)).Append(')');
                    break;
                case WaitStep s:
                    sb.Append("wait ").Append(IsoDuration.Describe(s.Duration));
                    break;
                case WaitUntilStep s:
                    sb.Append("wait until ").Append(s.TimeOfDay.ToString("HH:mm", CultureInfo.InvariantCulture));
                    if (s.Days.Count > 0) sb.Append(" on ").Append(string.Join(", ", s.Days.Select(d => CultureInfo.InvariantCulture.DateTimeFormat.GetAbbreviatedDayName(d))));
                    break;
                case WaitForEventStep s:
                    sb.Append("wait up to ").Append(IsoDuration.Describe(s.Timeout)).Append(" for ").Append(Event(s.EventName, s.Category))
                        .Append(", then ").Append(To(s.OnEvent)).Append(" if it comes, else ").Append(To(s.OnTimeout));
                    break;
                case BranchStep s:
                    foreach (var arm in s.Arms) sb.Append("if ").Append(arm.Rule.Describe()).Append(" (").Append(arm.Name).Append(") ").Append(To(arm.Next)).Append(", ");
                    sb.Append("otherwise ").Append(To(s.Otherwise));
                    break;
                case SplitStep s:
                    sb.Append("split at random: ")
                        .Append(string.Join(", ", s.Arms.Select(a => $"{a.Name} {a.Percent.ToString(CultureInfo.InvariantCulture)}% {To(a.Next)}")));
                    break;
                case SetAttributeStep s:
                    if (s.Value is null) sb.Append("remove attribute ").Append(s.Attribute);
                    else sb.Append("set ").Append(s.Attribute).Append(" to '").Append(s.Value).Append('\'');
                    break;
                default:
                    sb.Append("exit");
                    break;
            }
            // A one-exit step says where it goes unless that is simply the next step told.
            if (step is SendStep or WaitStep or WaitUntilStep or SetAttributeStep && SingleNext(step) is var next)
            {
                if (next is null) { if (after is not null) sb.Append(", then end"); }
                else if (next != after || labelled.Contains(next)) sb.Append(", then go to ").Append(next);
            }
        }
    }

    private static string? SingleNext(JourneyStep step) => step switch
    {
        SendStep s => s.Next,
        WaitStep s => s.Next,
        WaitUntilStep s => s.Next,
        SetAttributeStep s => s.Next,
        _ => null,
    };
}
