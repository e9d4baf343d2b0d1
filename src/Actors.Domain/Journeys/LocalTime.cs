using Actors.Domain.Tracking;

namespace Actors.Domain.Journeys;

/// <summary>Moments in the visitor's own time zone (IANA ids such as "Europe/Madrid"), safe across daylight-saving changes.</summary>
public static class LocalTime
{
    /// <summary>The zone for an IANA id; UTC for an unknown or invalid one (a bad attribute must not break a journey).</summary>
    public static TimeZoneInfo Zone(string? id)
    {
        if (string.IsNullOrWhiteSpace(id)) return TimeZoneInfo.Utc;
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(id);
        }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException or ArgumentException)
        {
            return TimeZoneInfo.Utc;
        }
    }

    /// <summary>
    /// The first instant after <paramref name="now"/> at which the local clock shows <paramref name="time"/> on one of
    /// <paramref name="days"/> (any day when empty). A local time skipped by a spring-forward change is taken just after
    /// the gap; one that occurs twice in autumn is taken the first time.
    /// </summary>
    public static DateTimeOffset NextAt(DateTimeOffset now, TimeOnly time, IReadOnlyList<DayOfWeek> days, string? zoneId)
    {
        var zone = Zone(zoneId);
        if (now.UtcDateTime > DateTime.MaxValue.AddDays(-9)) return DateTimeOffset.MaxValue; // nothing later to find
        var local = TimeZoneInfo.ConvertTime(now, zone);
        for (var d = 0; d <= 8; d++)
        {
            var date = DateOnly.FromDateTime(local.DateTime).AddDays(d);
            if (days.Count > 0 && !days.Contains(date.DayOfWeek)) continue;
            var candidate = ToInstant(date.ToDateTime(time), zone);
            if (candidate > now) return candidate;
        }
        return SafeTime.Add(now, TimeSpan.FromDays(7));
    }

    /// <summary>A local wall-clock time as an instant in the zone.</summary>
    public static DateTimeOffset ToInstant(DateTime localWallClock, TimeZoneInfo zone)
    {
        var wall = DateTime.SpecifyKind(localWallClock, DateTimeKind.Unspecified);
        // Spring forward: the wall time does not exist; move past the gap (an hour in every zone that has one today).
        while (zone.IsInvalidTime(wall)) wall = wall.AddMinutes(15);
        var offset = zone.IsAmbiguousTime(wall) ? zone.GetAmbiguousTimeOffsets(wall).Max() : zone.GetUtcOffset(wall);
        return new DateTimeOffset(wall, offset);
    }
}
