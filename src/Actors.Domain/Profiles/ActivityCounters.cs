using System.Text.Json;
using System.Text.Json.Serialization;

namespace Actors.Domain.Profiles;

/// <summary>
/// Counts of behaviour per key (an event name, or an event name with a category) in day buckets, so that
/// "3 views of shoes in the last 14 days" is answered from memory. Buckets older than the horizon are dropped.
/// </summary>
public sealed class ActivityCounters
{
    public static readonly TimeSpan DefaultHorizon = TimeSpan.FromDays(400);

    // Per key: day numbers (days since 0001-01-01, UTC) ascending, with their counts. Small arrays keep a profile compact.
    [JsonInclude]
    public Dictionary<string, List<DayCount>> Days { get; private set; } = new(StringComparer.Ordinal);

    /// <summary>How many exact event times are kept per key, newest first (for exact time-window exits).</summary>
    public const int ExactTimesKept = 8;

    /// <summary>Per key, the times of its latest events (UTC ticks), newest first, at most <see cref="ExactTimesKept"/>.</summary>
    [JsonInclude]
    public Dictionary<string, long[]> Latest { get; private set; } = new(StringComparer.Ordinal);

    public static string KeyFor(string eventName, string? category = null) =>
        category is null ? eventName : string.Concat(eventName, "|category=", category.ToLowerInvariant());

    /// <summary>Buckets are single days for this long back from the newest event; older ones are merged into months.</summary>
    public const int DailyDays = 62;

    /// <summary>Days per merged bucket beyond <see cref="DailyDays"/>.</summary>
    public const int MonthDays = 30;

    public void Add(string key, DateTimeOffset at, int count = 1, DateTimeOffset? newestSeen = null)
    {
        key = CounterKeys.Share(key);
        RememberTime(key, at.UtcTicks);
        var newestDay = DayNumber(newestSeen ?? at);
        var day = DayNumber(at);
        var oldestKept = newestDay - (int)DefaultHorizon.TotalDays;
        if (day < oldestKept) return;
        if (!Days.TryGetValue(key, out var buckets))
        {
            // Most keys of a visitor have one or two buckets: room for one, grown when needed (a grain holds a dozen keys).
            buckets = new List<DayCount>(1);
            Days[key] = buckets;
        }

        // Old events land in their month's bucket, recent ones in their day's.
        var (start, span) = day <= newestDay - DailyDays ? (MonthStart(day), MonthDays) : (day, 1);
        var i = buckets.Count - 1;
        while (i >= 0 && buckets[i].Day > start) i--;
        if (i >= 0 && buckets[i].Day == start)
            buckets[i] = buckets[i] with { Count = buckets[i].Count + count };
        else
            buckets.Insert(i + 1, new DayCount(start, count, span));

        Compact(buckets, newestDay, oldestKept);
    }

    /// <summary>Drops buckets past the horizon and merges days that have aged past <see cref="DailyDays"/> into months.</summary>
    private static void Compact(List<DayCount> buckets, int newestDay, int oldestKept)
    {
        var stale = 0;
        while (stale < buckets.Count && buckets[stale].Day + buckets[stale].Span - 1 < oldestKept) stale++;
        if (stale > 0) buckets.RemoveRange(0, stale);

        var agedBefore = newestDay - DailyDays;
        if (buckets.Count < 2 || buckets[0].Day > agedBefore || (buckets[0].Span > 1 && (buckets.Count < 2 || buckets[1].Day > agedBefore))) return;
        var merged = new List<DayCount>(buckets.Count);
        foreach (var b in buckets)
        {
            var bucket = b.Span == 1 && b.Day <= agedBefore ? new DayCount(MonthStart(b.Day), b.Count, MonthDays) : b;
            if (merged.Count > 0 && merged[^1].Day == bucket.Day && merged[^1].Span == bucket.Span)
                merged[^1] = merged[^1] with { Count = merged[^1].Count + bucket.Count };
            else
                merged.Add(bucket);
        }
        buckets.Clear();
        buckets.AddRange(merged);
    }

    private static int MonthStart(int day) => day - day % MonthDays;

    private void RememberTime(string key, long ticks)
    {
        Latest.TryGetValue(key, out var times);
        times ??= [];
        var i = 0;
        while (i < times.Length && times[i] >= ticks) i++;
        if (i >= ExactTimesKept) return; // older than every time kept
        var grown = new long[Math.Min(ExactTimesKept, times.Length + 1)];
        Array.Copy(times, 0, grown, 0, i);
        grown[i] = ticks;
        Array.Copy(times, i, grown, i + 1, grown.Length - i - 1);
        Latest[key] = grown;
    }

    /// <summary>
    /// The time of the n-th latest event of the key (n = 1 is the latest), or null when fewer than n are known exactly.
    /// "At least n in the last W" holds exactly until that time + W.
    /// </summary>
    public DateTimeOffset? NthLatest(string key, int n) =>
        n >= 1 && Latest.TryGetValue(key, out var times) && n <= times.Length ? new DateTimeOffset(times[n - 1], TimeSpan.Zero) : null;

    /// <summary>
    /// Events of that key whose day lies in the window [from, to] (both by day, UTC). Exact for the last
    /// <see cref="DailyDays"/> days; a merged month counts when it starts inside the window.
    /// </summary>
    public int Count(string key, DateTimeOffset from, DateTimeOffset to)
    {
        if (!Days.TryGetValue(key, out var buckets)) return 0;
        int first = DayNumber(from), last = DayNumber(to), sum = 0;
        foreach (var b in buckets)
            if (b.Day >= first && b.Day <= last) sum += b.Count;
        return sum;
    }

    public int Total(string key) => Days.TryGetValue(key, out var buckets) ? buckets.Sum(b => b.Count) : 0;

    public static int DayNumber(DateTimeOffset at) => (int)(at.UtcTicks / TimeSpan.TicksPerDay);
}

/// <summary>
/// One string per counter key for the whole silo: every visitor grain counts the same few dozen keys
/// ("product_viewed|category=shoes"), and a copy per grain was about a tenth of an idle grain's memory. Bounded, because
/// categories come from the shops' events: past <see cref="MaxShared"/> keys, new ones are simply not shared, and a key
/// longer than <see cref="MaxSharedLength"/> (a 10 KB "category") never is, so the pool stays a few megabytes at most.
/// </summary>
internal static class CounterKeys
{
    public const int MaxShared = 20_000;
    public const int MaxSharedLength = 200;
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> Shared = new(StringComparer.Ordinal);

    public static string Share(string key)
    {
        if (key.Length > MaxSharedLength) return key;
        if (Shared.TryGetValue(key, out var shared)) return shared;
        return Shared.Count < MaxShared ? Shared.GetOrAdd(key, key) : key;
    }
}

/// <summary>A bucket: events from <see cref="Day"/> for <see cref="Span"/> days (1, or a merged month).</summary>
[JsonConverter(typeof(DayCountJson))]
public readonly record struct DayCount(int Day, int Count, int Span = 1);

/// <summary>A bucket is stored as [day, count] or [day, count, span]: a long history's snapshot stays small.</summary>
public sealed class DayCountJson : JsonConverter<DayCount>
{
    public override DayCount Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.StartObject) return ReadObject(ref reader); // the first, wordier form
        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException("A day bucket is an array [day, count, span?].");
        reader.Read();
        var day = reader.GetInt32();
        reader.Read();
        var count = reader.GetInt32();
        reader.Read();
        var span = 1;
        if (reader.TokenType == JsonTokenType.Number)
        {
            span = reader.GetInt32();
            reader.Read();
        }
        if (reader.TokenType != JsonTokenType.EndArray) throw new JsonException("A day bucket has at most three numbers.");
        return new DayCount(day, count, span);
    }

    private static DayCount ReadObject(ref Utf8JsonReader reader)
    {
        int day = 0, count = 0, span = 1;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString();
            reader.Read();
            switch (name)
            {
                case "d" or "Day": day = reader.GetInt32(); break;
                case "n" or "Count": count = reader.GetInt32(); break;
                case "s" or "Span": span = reader.GetInt32(); break;
                default: reader.Skip(); break;
            }
        }
        return new DayCount(day, count, span);
    }

    public override void Write(Utf8JsonWriter writer, DayCount value, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        writer.WriteNumberValue(value.Day);
        writer.WriteNumberValue(value.Count);
        if (value.Span != 1) writer.WriteNumberValue(value.Span);
        writer.WriteEndArray();
    }
}
