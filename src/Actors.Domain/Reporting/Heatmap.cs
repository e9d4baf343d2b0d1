namespace Actors.Domain.Reporting;

/// <summary>A week's grid of UTC hours: weekday 0 is Monday (ISO), hour 0..23.</summary>
public static class Heatmap
{
    public const int Cells = 7 * 24;

    public static (int Weekday, int Hour) CellOf(DateTimeOffset at)
    {
        var utc = at.UtcDateTime;
        // .NET's DayOfWeek starts on Sunday; the report's week starts on Monday.
        var weekday = ((int)utc.DayOfWeek + 6) % 7;
        return (weekday, utc.Hour);
    }

    /// <summary>Counts per cell, every one of the 168 present (zero-filled), Monday 00h first.</summary>
    public static int[,] Count(IEnumerable<DateTimeOffset> times)
    {
        var grid = new int[7, 24];
        foreach (var t in times)
        {
            var (w, h) = CellOf(t);
            grid[w, h]++;
        }
        return grid;
    }
}
