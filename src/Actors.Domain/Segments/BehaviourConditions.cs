using System.Text;
using System.Text.Json;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Domain.Segments;

/// <summary>"at least 3", "between 2 and 5", "at most 1", "no" … for whole counts.</summary>
internal static class Quantity
{
    public static void Describe(StringBuilder sb, int? atLeast, int? atMost, string one, string many)
    {
        switch (atLeast, atMost)
        {
            case ({ } n, null): sb.Append("at least ").Append(Text.Count(n, one, many)); break;
            case (null, 0): sb.Append("no ").Append(many); break;
            case (null, { } m): sb.Append("at most ").Append(Text.Count(m, one, many)); break;
            case ({ } n, { } m) when n == m: sb.Append("exactly ").Append(Text.Count(n, one, many)); break;
            case ({ } n, { } m): sb.Append("between ").Append(Text.Number(n)).Append(" and ").Append(Text.Number(m)).Append(' ').Append(many); break;
        }
    }

    public static bool DescribeNegated(StringBuilder sb, int? atLeast, int? atMost, string one, string many)
    {
        switch (atLeast, atMost)
        {
            case (1, null): sb.Append("no ").Append(many); return true;
            case ({ } n, null): sb.Append("fewer than ").Append(Text.Number(n)).Append(' ').Append(many); return true;
            case (null, 0): sb.Append("at least 1 ").Append(one); return true;
            case (null, { } m): sb.Append("more than ").Append(Text.Count(m, one, many)); return true;
            default: return false;
        }
    }

    public static void Actual(StringBuilder sb, int count, string one, string many)
    {
        if (count == 0) sb.Append("no ").Append(many);
        else sb.Append(Text.Count(count, one, many));
    }

    public static void Write(Utf8JsonWriter w, int? atLeast, int? atMost)
    {
        if (atLeast is { } n) w.WriteNumber("atLeast", n);
        if (atMost is { } m) w.WriteNumber("atMost", m);
    }
}

/// <summary>
/// {"count":{"event":"product_viewed","category":"shoes","atLeast":3,"withinDays":14}}: how many such events lie in the
/// rolling window. Exact for atLeast ≤ 8 and atMost ≤ 7 (exact latest times), by day buckets beyond (see <see cref="Counting"/>).
/// </summary>
internal sealed class EventCount(string eventName, string? category, int? atLeast, int? atMost, Window window) : Condition
{
    private readonly string key = ActivityCounters.KeyFor(eventName, category);

    public override bool Matches(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        var from = now.UtcTicks - window.Ticks;
        if (atLeast is { } n && !Counting.HasAtLeast(p.Counters, key, n, from)) return false;
        if (atMost is { } m && Counting.HasAtLeast(p.Counters, key, m + 1, from)) return false;
        return true;
    }

    public override DateTimeOffset? NextChange(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        DateTimeOffset? next = null;
        // "At least n" can only stop holding; "at most m" can only start holding, when "at least m + 1" stops.
        if (atLeast is { } n) next = Counting.AtLeastEnds(p.Counters, key, n, now.UtcTicks, window.Ticks);
        if (atMost is { } m) next = Earliest(next, Counting.AtLeastEnds(p.Counters, key, m + 1, now.UtcTicks, window.Ticks));
        return next;
    }

    public override void Describe(StringBuilder sb)
    {
        Quantity.Describe(sb, atLeast, atMost, EventCatalogue.One(eventName), EventCatalogue.Many(eventName));
        Tail(sb);
    }

    public override bool DescribeNegated(StringBuilder sb)
    {
        if (!Quantity.DescribeNegated(sb, atLeast, atMost, EventCatalogue.One(eventName), EventCatalogue.Many(eventName))) return false;
        Tail(sb);
        return true;
    }

    private void Tail(StringBuilder sb)
    {
        if (category is not null) sb.Append(" with category ").Append(category);
        Text.Window(sb, window);
    }

    public override void Explain(StringBuilder sb, VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        var count = Counting.CountSince(p.Counters, key, now.UtcTicks - window.Ticks, out _);
        Quantity.Actual(sb, count, EventCatalogue.One(eventName), EventCatalogue.Many(eventName));
        Tail(sb);
    }

    public override void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteStartObject("count");
        w.WriteString("event", eventName);
        if (category is not null) w.WriteString("category", category);
        Quantity.Write(w, atLeast, atMost);
        window.Write(w);
        w.WriteEndObject();
        w.WriteEndObject();
    }
}

/// <summary>{"lastEvent":{"event":"cart_item_added","withinHours":24}}: the latest such event lies in the window (exact).</summary>
internal sealed class LastEventWithin(string eventName, string? category, Window window) : Condition
{
    private readonly string key = ActivityCounters.KeyFor(eventName, category);

    public override bool Matches(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) =>
        Counting.HasAtLeast(p.Counters, key, 1, now.UtcTicks - window.Ticks);

    public override DateTimeOffset? NextChange(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) =>
        Counting.AtLeastEnds(p.Counters, key, 1, now.UtcTicks, window.Ticks);

    public override void Describe(StringBuilder sb) => Tail(sb.Append(EventCatalogue.WithArticle(eventName)));

    public override bool DescribeNegated(StringBuilder sb)
    {
        Tail(sb.Append("no ").Append(EventCatalogue.One(eventName)));
        return true;
    }

    private void Tail(StringBuilder sb)
    {
        if (category is not null) sb.Append(" with category ").Append(category);
        Text.Window(sb, window);
    }

    public override void Explain(StringBuilder sb, VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        var latest = p.Counters.NthLatest(key, 1);
        sb.Append(latest is null ? "no " : "last ").Append(EventCatalogue.One(eventName));
        if (category is not null) sb.Append(" with category ").Append(category);
        sb.Append(' ').Append(latest is { } t ? Text.Ago(now - t) : "yet");
    }

    public override void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteStartObject("lastEvent");
        w.WriteString("event", eventName);
        if (category is not null) w.WriteString("category", category);
        window.Write(w);
        w.WriteEndObject();
        w.WriteEndObject();
    }
}

/// <summary>
/// {"noOrderForDays":90}: the last order is at least 90 days old. A visitor who never ordered qualifies once we have
/// known them (FirstSeen) for 90 days, so a visitor first seen yesterday is not "without an order for 90 days".
/// </summary>
internal sealed class NoOrderFor(int days) : Condition
{
    private long Span => days * TimeSpan.TicksPerDay;

    private static DateTimeOffset? Since(VisitorProfile p) => p.Orders.LastAt ?? p.FirstSeen;

    public override bool Matches(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) =>
        Since(p) is { } since && now.UtcTicks - since.UtcTicks >= Span;

    public override DateTimeOffset? NextChange(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) =>
        Since(p) is { } since && now.UtcTicks - since.UtcTicks < Span ? Counting.At(since.UtcTicks + Span) : null;

    public override void Describe(StringBuilder sb) => sb.Append("no order for ").Append(Text.Count(days, "day", "days"));

    public override void Explain(StringBuilder sb, VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        if (p.Orders.LastAt is { } last) sb.Append("last order ").Append(Text.Ago(now - last));
        else if (p.FirstSeen is { } first) sb.Append("no order since first seen ").Append(Text.Ago(now - first));
        else sb.Append("never seen");
    }

    public override void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteNumber("noOrderForDays", days);
        w.WriteEndObject();
    }
}

/// <summary>
/// {"cartAbandoned":{"afterHours":1,"withinHours":24,"checkoutStarted":true}}: the cart has items, its last change is
/// at least afterHours and less than withinHours ago, no order came since (and checkout was started, if asked).
/// </summary>
internal sealed class CartAbandoned(int afterHours, int? withinHours, bool checkoutStarted) : Condition
{
    private long After => afterHours * TimeSpan.TicksPerHour;

    private bool Candidate(VisitorProfile p, out long changed)
    {
        changed = 0;
        var cart = p.Cart;
        if (cart.Items.Count == 0 || cart.LastChangedAt is not { } last) return false;
        if (checkoutStarted && cart.CheckoutStartedAt is null) return false;
        if (p.Orders.LastAt is { } ordered && ordered >= last) return false;
        changed = last.UtcTicks;
        return true;
    }

    public override bool Matches(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        if (!Candidate(p, out var changed)) return false;
        var age = now.UtcTicks - changed;
        return age >= After && (withinHours is not { } within || age < within * TimeSpan.TicksPerHour);
    }

    public override DateTimeOffset? NextChange(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        if (!Candidate(p, out var changed)) return null;
        var age = now.UtcTicks - changed;
        if (age < After) return Counting.At(changed + After);
        if (withinHours is { } within && age < within * TimeSpan.TicksPerHour) return Counting.At(changed + within * TimeSpan.TicksPerHour);
        return null;
    }

    public override void Describe(StringBuilder sb)
    {
        if (afterHours == 0 && withinHours is null) sb.Append("cart has items");
        else if (afterHours == 0) sb.Append("cart with items changed in the last ").Append(Text.Count(withinHours!.Value, "hour", "hours"));
        else
        {
            sb.Append("cart with items left unchanged for at least ").Append(Text.Count(afterHours, "hour", "hours"));
            if (withinHours is { } within) sb.Append(" but less than ").Append(Text.Count(within, "hour", "hours"));
        }
        if (checkoutStarted) sb.Append(" after starting checkout");
    }

    public override void Explain(StringBuilder sb, VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        var cart = p.Cart;
        if (cart.Items.Count == 0) { sb.Append("cart is empty"); return; }
        if (checkoutStarted && cart.CheckoutStartedAt is null) { sb.Append("checkout not started"); return; }
        if (cart.LastChangedAt is not { } last) { sb.Append("cart has items"); return; }
        if (p.Orders.LastAt is { } ordered && ordered >= last) { sb.Append("ordered since the cart last changed"); return; }
        var units = 0;
        foreach (var (_, quantity) in cart.Items) units += quantity;
        sb.Append("cart with ").Append(Text.Count(units, "item", "items"))
            .Append(now - last < TimeSpan.FromMinutes(1) ? " changed just now" : " unchanged for " + Text.Duration(now - last));
    }

    public override void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteStartObject("cartAbandoned");
        w.WriteNumber("afterHours", afterHours);
        if (withinHours is { } within) w.WriteNumber("withinHours", within);
        if (checkoutStarted) w.WriteBoolean("checkoutStarted", true);
        w.WriteEndObject();
        w.WriteEndObject();
    }
}

/// <summary>
/// {"orders":{"atLeast":2}}: the number of distinct orders (lifetime). With "withinDays", orders placed in the window are
/// counted from the order_placed counter like {"count":…} (an order reported twice, online and by a store import, is
/// counted twice there).
/// </summary>
internal sealed class OrderCount(int? atLeast, int? atMost, Window? window) : Condition
{
    private readonly EventCount? windowed = window is { } w ? new EventCount(EventNames.OrderPlaced, null, atLeast, atMost, w) : null;

    public override bool Matches(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        if (windowed is not null) return windowed.Matches(p, now, rfm);
        var count = p.Orders.Count;
        return (atLeast is not { } n || count >= n) && (atMost is not { } m || count <= m);
    }

    public override DateTimeOffset? NextChange(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) => windowed?.NextChange(p, now, rfm);

    public override void Describe(StringBuilder sb)
    {
        Quantity.Describe(sb, atLeast, atMost, "order", "orders");
        if (window is { } w) Text.Window(sb, w);
    }

    public override bool DescribeNegated(StringBuilder sb)
    {
        if (!Quantity.DescribeNegated(sb, atLeast, atMost, "order", "orders")) return false;
        if (window is { } w) Text.Window(sb, w);
        return true;
    }

    public override void Explain(StringBuilder sb, VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        if (window is { } w)
        {
            var count = Counting.CountSince(p.Counters, EventNames.OrderPlaced, now.UtcTicks - w.Ticks, out _);
            Quantity.Actual(sb, count, "order", "orders");
            Text.Window(sb, w);
        }
        else Quantity.Actual(sb, p.Orders.Count, "order", "orders");
    }

    public override void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteStartObject("orders");
        Quantity.Write(w, atLeast, atMost);
        window?.Write(w);
        w.WriteEndObject();
        w.WriteEndObject();
    }
}

/// <summary>
/// {"ordersTotal":{"atLeast":100,"withinDays":365}}: what the visitor spent, net of refunds (Orders.Total - Refunded).
/// The profile keeps the lifetime total and order times, not each order's amount, so with a window:
/// all orders inside it (FirstAt in the window) → the lifetime net total, exact; none inside (LastAt before it) → 0;
/// some inside → estimated as the average net order value × the orders inside the window (counted from the
/// order_placed counter, between 1 and Count - 1).
/// </summary>
internal sealed class OrdersTotal(decimal? atLeast, decimal? atMost, Window? window) : Condition
{
    private decimal Value(VisitorProfile p, DateTimeOffset now, out bool estimated)
    {
        estimated = false;
        var orders = p.Orders;
        if (orders.Count == 0) return 0m;
        var net = SafeMoney.Subtract(orders.Total, orders.Refunded);
        if (window is not { } w || orders.FirstAt is not { } first || orders.LastAt is not { } last) return net;
        var from = now.UtcTicks - w.Ticks;
        if (first.UtcTicks > from) return net;
        if (last.UtcTicks <= from) return 0m;
        estimated = true;
        var inside = Counting.CountSince(p.Counters, EventNames.OrderPlaced, from, out _);
        inside = Math.Clamp(inside, 1, Math.Max(1, orders.Count - 1));
        return SafeMoney.Share(net, inside, orders.Count);
    }

    public override bool Matches(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        var value = Value(p, now, out _);
        return (atLeast is not { } lo || value >= lo) && (atMost is not { } hi || value <= hi);
    }

    /// <summary>The value only changes when an order leaves the window: those instants, the earliest first.</summary>
    public override DateTimeOffset? NextChange(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        var orders = p.Orders;
        if (window is not { } w || orders.FirstAt is not { } first || orders.LastAt is not { } last) return null;
        var nowTicks = now.UtcTicks;
        var from = nowTicks - w.Ticks;
        var next = long.MaxValue;
        if (first.UtcTicks > from) next = first.UtcTicks;
        else if (last.UtcTicks > from)
        {
            Counting.CountSince(p.Counters, EventNames.OrderPlaced, from, out var counted);
            next = Math.Min(counted, last.UtcTicks);
        }
        return next == long.MaxValue ? null : Counting.At(next + w.Ticks);
    }

    public override void Describe(StringBuilder sb)
    {
        sb.Append("orders worth ");
        switch (atLeast, atMost)
        {
            case ({ } lo, null): sb.Append("at least ").Append(Text.Number(lo)); break;
            case (null, { } hi): sb.Append("at most ").Append(Text.Number(hi)); break;
            case ({ } lo, { } hi): sb.Append("between ").Append(Text.Number(lo)).Append(" and ").Append(Text.Number(hi)); break;
        }
        Tail(sb);
    }

    public override bool DescribeNegated(StringBuilder sb)
    {
        switch (atLeast, atMost)
        {
            case ({ } lo, null): sb.Append("orders worth less than ").Append(Text.Number(lo)); break;
            case (null, { } hi): sb.Append("orders worth more than ").Append(Text.Number(hi)); break;
            default: return false;
        }
        Tail(sb);
        return true;
    }

    private void Tail(StringBuilder sb)
    {
        if (window is { } w) Text.Window(sb, w);
        else sb.Append(" in total");
    }

    public override void Explain(StringBuilder sb, VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        var value = Value(p, now, out var estimated);
        sb.Append("orders worth ").Append(estimated ? "about " : "").Append(Text.Number(decimal.Round(value, 2)));
        Tail(sb);
    }

    public override void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteStartObject("ordersTotal");
        if (atLeast is { } lo) w.WriteNumber("atLeast", lo);
        if (atMost is { } hi) w.WriteNumber("atMost", hi);
        window?.Write(w);
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
