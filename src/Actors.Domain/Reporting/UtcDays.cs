using System.Globalization;

namespace Actors.Domain.Reporting;

/// <summary>Reports count by UTC day: no shop time zone is assumed, so a day means the same on every node.</summary>
public static class UtcDays
{
    public const int DefaultSpan = 30;

    /// <summary>Most days one report spans, so a hostile range cannot make an answer of millions of rows.</summary>
    public const int MaxSpan = 3_660;

    /// <summary>Days a report may name: wide enough for any shop's history, narrow enough that a day's end and a default span never leave the calendar.</summary>
    public static readonly DateOnly MinDay = new(1900, 1, 1), MaxDay = new(9998, 12, 31);

    public static DateOnly Of(DateTimeOffset at) => DateOnly.FromDateTime(at.UtcDateTime);

    public static string Format(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>The first instant after the day (its end, exclusive).</summary>
    public static DateTimeOffset EndOf(DateOnly day) => new(day.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

    public static DateTimeOffset StartOf(DateOnly day) => new(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

    /// <summary>
    /// The inclusive range from the query's <c>from</c>/<c>to</c> (yyyy-MM-dd); both optional, defaulting to the last
    /// <see cref="DefaultSpan"/> days up to today. The error names the field at fault.
    /// </summary>
    public static (DayRange? Range, string? Field, string? Error) Parse(string? from, string? to, DateTimeOffset now)
    {
        DateOnly? end = null, start = null;
        if (!string.IsNullOrEmpty(to))
        {
            if (!TryParse(to, out var t)) return (null, "to", "must be a date as yyyy-MM-dd");
            if (t < MinDay || t > MaxDay) return (null, "to", OutOfCalendar);
            end = t;
        }
        if (!string.IsNullOrEmpty(from))
        {
            if (!TryParse(from, out var f)) return (null, "from", "must be a date as yyyy-MM-dd");
            if (f < MinDay || f > MaxDay) return (null, "from", OutOfCalendar);
            start = f;
        }
        var last = end ?? (start is { } s0 && s0 > Of(now) ? s0.AddDays(DefaultSpan - 1) : Of(now));
        var first = start ?? last.AddDays(-(DefaultSpan - 1));
        if (first > last) return (null, "from", "must not be after 'to'");
        if (last.DayNumber - first.DayNumber + 1 > MaxSpan) return (null, "from", $"the range spans more than {MaxSpan} days");
        return (new DayRange(first, last), null, null);
    }

    private static readonly string OutOfCalendar = $"must be a day from {Format(MinDay)} to {Format(MaxDay)}";

    private static bool TryParse(string text, out DateOnly day) =>
        DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out day);
}

/// <summary>Days <see cref="First"/> to <see cref="Last"/>, both included.</summary>
public readonly record struct DayRange(DateOnly First, DateOnly Last)
{
    public DateTimeOffset Start => UtcDays.StartOf(First);

    /// <summary>Exclusive end: the first instant after the last day.</summary>
    public DateTimeOffset End => UtcDays.EndOf(Last);

    public bool Contains(DateTimeOffset at) => at >= Start && at < End;

    public IEnumerable<DateOnly> Days()
    {
        for (var d = First; d <= Last; d = d.AddDays(1)) yield return d;
    }
}
