using System.Globalization;
using System.Text;

namespace Actors.Domain.Journeys;

/// <summary>
/// ISO 8601 durations as journeys write them: <c>P[nY][nM][nW][nD][T[nH][nM][nS]]</c>, whole numbers, upper-case
/// designators in that order. A duration is a fixed length, not a calendar span: a year is 365 days, a month 30, a
/// week 7, a day 24 hours (waits are timers, not calendar dates). The canonical form is days and time, e.g. "P1DT2H".
/// </summary>
internal static class IsoDuration
{
    public static readonly TimeSpan Min = TimeSpan.FromSeconds(1);

    /// <summary>Counters keep 400 days (RuleParser.MaxWindowDays): no wait, timeout or window goes further.</summary>
    public static readonly TimeSpan Max = TimeSpan.FromDays(400);

    private const int MaxDigits = 9; // 999 999 999 years still fits a long of seconds

    private static readonly (char Designator, long Seconds)[] DateParts = [('Y', 365 * 86400L), ('M', 30 * 86400L), ('W', 7 * 86400L), ('D', 86400L)];
    private static readonly (char Designator, long Seconds)[] TimeParts = [('H', 3600L), ('M', 60L), ('S', 1L)];

    /// <summary>Reads a duration; false when <paramref name="text"/> is not one (its range is the caller's to check).</summary>
    public static bool TryParse(string text, out TimeSpan value)
    {
        value = default;
        if (text.Length < 3 || text[0] != 'P') return false;
        var i = 1;
        long seconds = 0;
        var parts = 0;
        if (!Section(text, ref i, DateParts, ref seconds, ref parts)) return false;
        if (i < text.Length)
        {
            if (text[i++] != 'T') return false;
            var timeParts = 0;
            if (!Section(text, ref i, TimeParts, ref seconds, ref timeParts) || timeParts == 0) return false;
            parts += timeParts;
        }
        if (i != text.Length || parts == 0) return false;
        value = TimeSpan.FromSeconds(seconds);
        return true;
    }

    // Reads "nX" components whose designators come in the order of `designators`, each at most once.
    private static bool Section(string text, ref int i, (char Designator, long Seconds)[] designators, ref long seconds, ref int parts)
    {
        var next = 0;
        while (i < text.Length && text[i] is >= '0' and <= '9')
        {
            var start = i;
            while (i < text.Length && text[i] is >= '0' and <= '9') i++;
            if (i - start > MaxDigits || i == text.Length) return false;
            var n = long.Parse(text.AsSpan(start, i - start), NumberStyles.None, CultureInfo.InvariantCulture);
            while (next < designators.Length && designators[next].Designator != text[i]) next++;
            if (next == designators.Length) return false;
            seconds += n * designators[next++].Seconds;
            parts++;
            i++;
        }
        return true;
    }

    /// <summary>The canonical text: whole days, then hours, minutes and seconds ("P7D", "PT1H30M", "P1DT12H").</summary>
    public static string Format(TimeSpan value)
    {
        var total = (long)value.TotalSeconds;
        var days = total / 86400;
        var rest = total % 86400;
        var sb = new StringBuilder("P");
        if (days > 0) sb.Append(CultureInfo.InvariantCulture, $"{days}D");
        if (rest > 0 || days == 0)
        {
            sb.Append('T');
            if (rest / 3600 > 0) sb.Append(CultureInfo.InvariantCulture, $"{rest / 3600}H");
            if (rest % 3600 / 60 > 0) sb.Append(CultureInfo.InvariantCulture, $"{rest % 3600 / 60}M");
            if (rest % 60 > 0 || rest == 0) sb.Append(CultureInfo.InvariantCulture, $"{rest % 60}S");
        }
        return sb.ToString();
    }

    /// <summary>In English: "1 hour", "7 days", "1 day and 12 hours".</summary>
    public static string Describe(TimeSpan value)
    {
        var total = (long)value.TotalSeconds;
        var parts = new List<string>(4);
        void Part(long n, string unit)
        {
            if (n > 0) parts.Add(n.ToString(CultureInfo.InvariantCulture) + " " + unit + (n == 1 ? "" : "s"));
        }
        Part(total / 86400, "day");
        Part(total % 86400 / 3600, "hour");
        Part(total % 3600 / 60, "minute");
        Part(total % 60, "second");
        if (parts.Count == 0) return "0 seconds";
        return parts.Count == 1 ? parts[0] : string.Join(", ", parts.Take(parts.Count - 1)) + " and " + parts[^1];
    }
}
