namespace Actors.Domain.Tracking;

/// <summary>
/// Saturating date arithmetic: the domain never throws on a time at the calendar's edges. Streams written before the
/// edge bounded event times can hold 0001-01-01 or 9999-12-31; adding a window to those must stay on the calendar.
/// Results are in UTC.
/// </summary>
public static class SafeTime
{
    private static readonly long MinTicks = DateTimeOffset.MinValue.UtcTicks;
    private static readonly long MaxTicks = DateTimeOffset.MaxValue.UtcTicks;

    /// <summary><paramref name="at"/> + <paramref name="span"/>, clamped to [MinValue, MaxValue].</summary>
    public static DateTimeOffset Add(DateTimeOffset at, TimeSpan span)
    {
        var ticks = at.UtcTicks;
        var by = span.Ticks;
        // Compared with the room left (MaxTicks - ticks, MinTicks - ticks: never overflow), so even TimeSpan.Min/MaxValue clamp.
        if (by > 0 && by > MaxTicks - ticks) return DateTimeOffset.MaxValue;
        if (by < 0 && by < MinTicks - ticks) return DateTimeOffset.MinValue;
        return new DateTimeOffset(ticks + by, TimeSpan.Zero);
    }

    /// <summary><paramref name="at"/> - <paramref name="span"/>, clamped to [MinValue, MaxValue].</summary>
    public static DateTimeOffset Subtract(DateTimeOffset at, TimeSpan span) =>
        span == TimeSpan.MinValue ? DateTimeOffset.MaxValue : Add(at, span.Negate());

    /// <summary>The value within [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static DateTimeOffset Clamp(DateTimeOffset value, DateTimeOffset min, DateTimeOffset max) =>
        value < min ? min : value > max ? max : value;
}

/// <summary>
/// Saturating sums of amounts: a profile's totals never overflow a decimal, whatever an old stream holds (the edge now
/// refuses amounts above <see cref="EventBounds.MaxAmount"/>, but streams written before it may hold 5e28).
/// </summary>
public static class SafeMoney
{
    public static decimal Add(decimal a, decimal b)
    {
        // Overflow is only possible when both have the same sign.
        if (a > 0 && b > 0 && a > decimal.MaxValue - b) return decimal.MaxValue;
        if (a < 0 && b < 0 && a < decimal.MinValue - b) return decimal.MinValue;
        return a + b;
    }

    public static decimal Subtract(decimal a, decimal b) => Add(a, -b);

    /// <summary><paramref name="value"/> × <paramref name="times"/> / <paramref name="of"/> (0 ≤ times ≤ of), without overflowing.</summary>
    public static decimal Share(decimal value, int times, int of)
    {
        if (of <= 0) return value;
        // Multiply first for precision while it fits; a value that large loses nothing that matters by dividing first.
        return Math.Abs(value) <= decimal.MaxValue / Math.Max(1, times) ? value * times / of : value / of * times;
    }

    /// <summary>Price × quantity, saturating.</summary>
    public static decimal Times(decimal price, int quantity) =>
        quantity != 0 && Math.Abs(price) > decimal.MaxValue / Math.Abs((decimal)quantity)
            ? (price < 0 == quantity < 0 ? decimal.MaxValue : decimal.MinValue)
            : price * quantity;
}

/// <summary>
/// What the edge lets in, in one place (README, "Event time"). The domain's arithmetic is safe beyond these bounds too;
/// they keep the data meaningful.
/// </summary>
public static class EventBounds
{
    /// <summary>How far ahead of our receive time an event may be dated after skew correction (clock drift, not intent).</summary>
    public static readonly TimeSpan MaxFuture = TimeSpan.FromMinutes(5);

    /// <summary>How far back an event may be dated: imports of old orders are fine, 0001-01-01 is a client bug.</summary>
    public static readonly TimeSpan MaxPast = TimeSpan.FromDays(3653); // 10 years

    /// <summary>The largest amount (price, total, refund) accepted; decimal sums of many of them stay exact.</summary>
    public const decimal MaxAmount = 1_000_000_000_000m; // 1e12

    /// <summary>The largest quantity of one line or cart change; with <see cref="MaxAmount"/>, price × quantity ≤ 1e18.</summary>
    public const int MaxQuantity = 1_000_000;

    /// <summary>
    /// The event time we store, from what the client sent (Segment's rule): with both timestamp and sentAt, the skew of
    /// the client's clock is corrected as receivedAt - (sentAt - timestamp); else timestamp, else originalTimestamp,
    /// else receivedAt. The result is clamped to [receivedAt - MaxPast, receivedAt + MaxFuture].
    /// <paramref name="clientTime"/> is the client's own time when the stored one differs from it (kept on the event).
    /// </summary>
    public static DateTimeOffset EventTime(
        DateTimeOffset receivedAt, DateTimeOffset? timestamp, DateTimeOffset? sentAt, DateTimeOffset? originalTimestamp,
        out DateTimeOffset? clientTime)
    {
        var client = timestamp ?? originalTimestamp;
        clientTime = null;
        if (client is not { } sent) return receivedAt;
        // A difference of two instants always fits a TimeSpan; only applying it to receivedAt can leave the calendar.
        var time = sentAt is { } s ? SafeTime.Subtract(receivedAt, s - sent) : sent;
        time = Clamp(time, receivedAt);
        if (time != sent) clientTime = sent;
        return time;
    }

    /// <summary>A time clamped to the window around <paramref name="receivedAt"/> that an event may be dated in.</summary>
    public static DateTimeOffset Clamp(DateTimeOffset time, DateTimeOffset receivedAt) =>
        SafeTime.Clamp(time, SafeTime.Subtract(receivedAt, MaxPast), SafeTime.Add(receivedAt, MaxFuture));

    /// <summary>Whether a time lies in the window an event may be dated in (imports refuse rather than clamp).</summary>
    public static bool InWindow(DateTimeOffset time, DateTimeOffset receivedAt) => Clamp(time, receivedAt) == time;
}
