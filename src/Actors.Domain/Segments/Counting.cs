using System.Text.Json;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Domain.Segments;

/// <summary>A rolling window as a rule writes it: withinDays or withinHours.</summary>
internal readonly record struct Window(int Amount, bool InHours)
{
    public long Ticks => Amount * (InHours ? TimeSpan.TicksPerHour : TimeSpan.TicksPerDay);

    public void Write(Utf8JsonWriter w) => w.WriteNumber(InHours ? "withinHours" : "withinDays", Amount);
}

/// <summary>
/// Questions about "events of a key in the window (now - W, now]" answered from <see cref="ActivityCounters"/>, without
/// allocating. An event counts while its time is after now - W, so "at least n" holds exactly until the n-th latest
/// event time + W. Events dated after now (client clocks running ahead) count as inside the window.
/// <para>
/// Exact when the question can be answered from the exact latest times (<see cref="ActivityCounters.ExactTimesKept"/>
/// per key). Otherwise the buckets answer, and a bucket counts while its first day is not before the UTC day of
/// now - W (as <see cref="ActivityCounters.Count"/> does). For day buckets that means a whole UTC day counts as soon as
/// any part of it lies in the window: the window is up to one day longer than asked and closes at a UTC midnight (+ W).
/// Buckets older than <see cref="ActivityCounters.DailyDays"/> days (before the newest event) are merged into
/// 30-day buckets, which count only while their first day is in the window: windows reaching that far back may end
/// up to 29 days early.
/// </para>
/// </summary>
internal static class Counting
{
    private const int Exact = ActivityCounters.ExactTimesKept;

    private static int DayOf(long ticks) => (int)(ticks / TimeSpan.TicksPerDay);

    /// <summary>At least <paramref name="n"/> events of the key after <paramref name="from"/> (ticks, UTC).</summary>
    public static bool HasAtLeast(ActivityCounters c, string key, int n, long from)
    {
        if (n <= Exact)
            return c.Latest.TryGetValue(key, out var times) && n <= times.Length && times[n - 1] > from;
        return NthLatestDay(c, key, n, DayOf(from)) is not null;
    }

    /// <summary>
    /// When "at least n after now - W" stops holding with no new event (the n-th latest event leaves the window), or
    /// null when it does not hold now.
    /// </summary>
    public static DateTimeOffset? AtLeastEnds(ActivityCounters c, string key, int n, long now, long window)
    {
        var from = now - window;
        if (n <= Exact)
        {
            if (!c.Latest.TryGetValue(key, out var times) || n > times.Length || times[n - 1] <= from) return null;
            return At(times[n - 1] + window);
        }
        return NthLatestDay(c, key, n, DayOf(from)) is { } day ? At((day + 1) * TimeSpan.TicksPerDay + window) : null;
    }

    /// <summary>
    /// The first day of the bucket holding the n-th latest event, if it is not before <paramref name="firstDay"/>.
    /// Buckets are kept in order of their first day, so walking back from the end meets the newest first.
    /// </summary>
    private static long? NthLatestDay(ActivityCounters c, string key, int n, int firstDay)
    {
        if (!c.Days.TryGetValue(key, out var buckets)) return null;
        var sum = 0;
        for (var i = buckets.Count - 1; i >= 0; i--)
        {
            var b = buckets[i];
            if (b.Day < firstDay) return null;
            sum += b.Count;
            if (sum >= n) return b.Day;
        }
        return null;
    }

    /// <summary>
    /// How many events of the key lie after <paramref name="from"/>: exact while the kept times cover the window,
    /// else by day buckets. <paramref name="changes"/> is when that answer next goes down (ticks; long.MaxValue: never),
    /// without + W: the caller adds the window.
    /// </summary>
    public static int CountSince(ActivityCounters c, string key, long from, out long changes)
    {
        changes = long.MaxValue;
        var exact = 0;
        if (c.Latest.TryGetValue(key, out var times))
        {
            while (exact < times.Length && times[exact] > from) exact++;
            if (exact > 0) changes = times[exact - 1];
            // Every event in the window is among the kept times when a kept one is already outside, or all are kept.
            if (exact < times.Length || times.Length < Exact) return exact;
        }

        if (!c.Days.TryGetValue(key, out var buckets)) return exact;
        var firstDay = DayOf(from);
        int sum = 0, oldestDay = int.MaxValue;
        for (var i = buckets.Count - 1; i >= 0 && buckets[i].Day >= firstDay; i--)
        {
            sum += buckets[i].Count;
            oldestDay = buckets[i].Day;
        }
        if (oldestDay != int.MaxValue) changes = Math.Min(changes, (oldestDay + 1) * TimeSpan.TicksPerDay);
        return Math.Max(sum, exact);
    }

    /// <summary>An instant from UTC ticks; null beyond the calendar (nothing changes after year 9999).</summary>
    public static DateTimeOffset? At(long ticks) =>
        ticks >= 0 && ticks <= DateTimeOffset.MaxValue.UtcTicks ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;
}

/// <summary>Stored event names a rule may count, and how to say them in English.</summary>
internal static class EventCatalogue
{
    /// <summary>Every name counted under its own key: all activity (not derived events, not CRM attribute updates).</summary>
    public static readonly string[] Counted =
    [
        EventNames.PageViewed, EventNames.ProductViewed, EventNames.CategoryViewed, EventNames.ProductsSearched,
        EventNames.CartItemAdded, EventNames.CartItemRemoved, EventNames.CheckoutStarted, EventNames.OrderPlaced,
        EventNames.OrderRefunded, EventNames.Registered, EventNames.Identified, EventNames.NewsletterSubscribed,
        EventNames.NewsletterUnsubscribed, EventNames.PreferencesUpdated, EventNames.ConsentGiven, EventNames.ConsentWithdrawn,
        EventNames.BehaviourTracked,
    ];

    /// <summary>
    /// Names also counted per category (VisitorProfile.Apply). For behaviour_tracked (a shop's own track events) the
    /// "category" is the event's name, so {"event":"behaviour_tracked","category":"video played"} counts those.
    /// </summary>
    public static readonly string[] WithCategory =
        [EventNames.PageViewed, EventNames.ProductViewed, EventNames.CategoryViewed, EventNames.CartItemAdded, EventNames.OrderPlaced, EventNames.BehaviourTracked];

    private static readonly Dictionary<string, (string One, string Many)> Nouns = new(StringComparer.Ordinal)
    {
        [EventNames.PageViewed] = ("page view", "page views"),
        [EventNames.ProductViewed] = ("product view", "product views"),
        [EventNames.CategoryViewed] = ("category view", "category views"),
        [EventNames.ProductsSearched] = ("search", "searches"),
        [EventNames.CartItemAdded] = ("cart addition", "cart additions"),
        [EventNames.CartItemRemoved] = ("cart removal", "cart removals"),
        [EventNames.CheckoutStarted] = ("checkout start", "checkout starts"),
        [EventNames.OrderPlaced] = ("order", "orders"),
        [EventNames.OrderRefunded] = ("refund", "refunds"),
        [EventNames.Registered] = ("registration", "registrations"),
        [EventNames.Identified] = ("sign-in", "sign-ins"),
        [EventNames.NewsletterSubscribed] = ("newsletter subscription", "newsletter subscriptions"),
        [EventNames.NewsletterUnsubscribed] = ("newsletter unsubscription", "newsletter unsubscriptions"),
        [EventNames.PreferencesUpdated] = ("preference update", "preference updates"),
        [EventNames.ConsentGiven] = ("consent grant", "consent grants"),
        [EventNames.ConsentWithdrawn] = ("consent withdrawal", "consent withdrawals"),
        [EventNames.BehaviourTracked] = ("custom event", "custom events"),
    };

    /// <summary>Segment spec names people are likely to write, and the stored name to use instead.</summary>
    public static readonly Dictionary<string, string> SpecNames = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Product Viewed"] = EventNames.ProductViewed,
        ["Product List Viewed"] = EventNames.CategoryViewed,
        ["Product Category Viewed"] = EventNames.CategoryViewed,
        ["Products Searched"] = EventNames.ProductsSearched,
        ["Product Added"] = EventNames.CartItemAdded,
        ["Product Removed"] = EventNames.CartItemRemoved,
        ["Checkout Started"] = EventNames.CheckoutStarted,
        ["Order Completed"] = EventNames.OrderPlaced,
        ["Order Refunded"] = EventNames.OrderRefunded,
        ["Signed Up"] = EventNames.Registered,
        ["Newsletter Subscribed"] = EventNames.NewsletterSubscribed,
        ["Newsletter Unsubscribed"] = EventNames.NewsletterUnsubscribed,
        ["Preferences Updated"] = EventNames.PreferencesUpdated,
        ["Consent Given"] = EventNames.ConsentGiven,
        ["Consent Withdrawn"] = EventNames.ConsentWithdrawn,
        ["page"] = EventNames.PageViewed,
        ["screen"] = EventNames.PageViewed,
        ["identify"] = EventNames.Identified,
    };

    public static bool IsCounted(string name) => Nouns.ContainsKey(name);

    public static bool HasCategory(string name) => Array.IndexOf(WithCategory, name) >= 0;

    public static string Noun(string name, long count) => count == 1 ? Nouns[name].One : Nouns[name].Many;

    public static string One(string name) => Nouns[name].One;

    public static string Many(string name) => Nouns[name].Many;

    /// <summary>"a product view", "an order".</summary>
    public static string WithArticle(string name)
    {
        var one = Nouns[name].One;
        return ("aeiou".Contains(one[0]) ? "an " : "a ") + one;
    }
}
