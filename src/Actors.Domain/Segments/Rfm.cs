using System.Text;
using System.Text.Json;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Domain.Segments;

/// <summary>
/// Population cut points for RFM scores: 4 ascending values per dimension (the 20th, 40th, 60th and 80th percentiles)
/// that split customers into quintiles. Recency is in days since the last order; monetary is net of refunds.
/// </summary>
public sealed record RfmThresholds(decimal[] RecencyDays, decimal[] Frequency, decimal[] Monetary, DateTimeOffset ComputedAt);

/// <summary>Scores 1..5 per dimension, 5 best (most recent, most orders, most spent). Prints as "555".</summary>
public readonly record struct RfmCell(int Recency, int Frequency, int Monetary)
{
    public override string ToString() => $"{Recency}{Frequency}{Monetary}";
}

/// <summary>
/// RFM (recency, frequency, monetary) scoring by population quintiles.
/// <para>
/// Cut point k (k = 1..4) of a dimension is the value at rank ⌈k·n/5⌉ of the n customers sorted ascending (nearest
/// rank). Frequency and monetary score 1 + the number of cut points the value exceeds; recency scores 5 − the number of
/// cut points the days since the last order exceed. So the 20 % with the fewest orders score frequency 1, the 20 % who
/// ordered most recently score recency 5, and equal values always score the same. Equivalently, a value scores
/// 1 + ⌊5·(customers with a smaller value)/n⌋ (at most 5), and recency 5 − ⌊5·(customers with fewer days)/n⌋.
/// </para>
/// </summary>
public static class Rfm
{
    /// <summary>
    /// Cut points from the population of customers (those with at least one order; others are ignored). Recency is
    /// (now − last order) in days; monetary should be net of refunds, as <see cref="Cell"/> scores it. With no customer,
    /// every cut point is 0.
    /// </summary>
    public static RfmThresholds Thresholds(IEnumerable<(double RecencyDays, int Frequency, decimal Monetary)> customers, DateTimeOffset now)
    {
        var recency = new List<decimal>();
        var frequency = new List<decimal>();
        var monetary = new List<decimal>();
        foreach (var (days, orders, spent) in customers)
        {
            if (orders < 1 || double.IsNaN(days)) continue;
            recency.Add(ToDecimal(days));
            frequency.Add(orders);
            monetary.Add(spent);
        }
        return new RfmThresholds(CutPoints(recency), CutPoints(frequency), CutPoints(monetary), now);
    }

    private static decimal ToDecimal(double days) =>
        days >= (double)decimal.MaxValue ? decimal.MaxValue : days <= (double)decimal.MinValue ? decimal.MinValue : (decimal)days;

    private static decimal[] CutPoints(List<decimal> values)
    {
        var cuts = new decimal[4];
        var n = values.Count;
        if (n == 0) return cuts;
        values.Sort();
        for (var k = 1; k <= 4; k++)
            cuts[k - 1] = values[(k * n + 4) / 5 - 1]; // rank ⌈k·n/5⌉, 1-based
        return cuts;
    }

    /// <summary>The visitor's cell at <paramref name="now"/>, or null when they have no order.</summary>
    public static RfmCell? Cell(VisitorProfile profile, RfmThresholds thresholds, DateTimeOffset now)
    {
        var orders = profile.Orders;
        if (orders.Count == 0 || orders.LastAt is not { } last) return null;
        return CellOf(last, orders.Count, SafeMoney.Subtract(orders.Total, orders.Refunded), thresholds, now);
    }

    /// <summary>The cell of a customer known by their last order, order count and net spend (reports read these from the customer-value projection).</summary>
    public static RfmCell CellOf(DateTimeOffset lastOrder, int orders, decimal netSpend, RfmThresholds thresholds, DateTimeOffset now) =>
        new(RecencyScore(RecencyDays(lastOrder, now), thresholds.RecencyDays),
            MoreIsBetter(orders, thresholds.Frequency),
            MoreIsBetter(netSpend, thresholds.Monetary));

    internal static decimal RecencyDays(DateTimeOffset lastOrder, DateTimeOffset now) =>
        (decimal)(now.UtcTicks - lastOrder.UtcTicks) / TimeSpan.TicksPerDay;

    private static int MoreIsBetter(decimal value, decimal[] cuts)
    {
        var score = 1;
        foreach (var cut in cuts)
            if (value > cut) score++;
        return Math.Min(score, 5);
    }

    internal static int RecencyScore(decimal days, decimal[] cuts)
    {
        var score = 5;
        foreach (var cut in cuts)
            if (days > cut) score--;
        return Math.Max(score, 1);
    }

    /// <summary>
    /// When the recency score next drops as the last order ages (the first instant the days exceed the next cut point),
    /// or null when it cannot drop any more.
    /// </summary>
    internal static DateTimeOffset? NextRecencyChange(VisitorProfile profile, RfmThresholds thresholds, DateTimeOffset now)
    {
        if (profile.Orders.Count == 0 || profile.Orders.LastAt is not { } last) return null;
        var elapsed = now.UtcTicks - last.UtcTicks;
        long? next = null;
        foreach (var cut in thresholds.RecencyDays)
        {
            // days > cut  ⇔  elapsed ticks > cut · ticks per day  ⇔  elapsed ≥ ⌊cut · ticks per day⌋ + 1
            if (cut < 0 || cut > 1_000_000m) continue;
            var boundary = (long)decimal.Floor(cut * TimeSpan.TicksPerDay) + 1;
            if (boundary > elapsed && (next is null || boundary < next)) next = boundary;
        }
        return next is { } ticks ? Counting.At(last.UtcTicks + ticks) : null;
    }
}

/// <summary>{"rfm":{"recency":[4,5],"frequency":[3,4,5]}}: each listed dimension's score is among those given.</summary>
internal sealed class RfmScores(int[]? recency, int[]? frequency, int[]? monetary) : Condition
{
    private readonly int recencyMask = Mask(recency), frequencyMask = Mask(frequency), monetaryMask = Mask(monetary);

    private static int Mask(int[]? scores)
    {
        if (scores is null) return 0b111110;
        var mask = 0;
        foreach (var s in scores) mask |= 1 << s;
        return mask;
    }

    public override bool Matches(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) =>
        rfm is not null && Rfm.Cell(p, rfm, now) is { } cell
        && (recencyMask & (1 << cell.Recency)) != 0
        && (frequencyMask & (1 << cell.Frequency)) != 0
        && (monetaryMask & (1 << cell.Monetary)) != 0;

    public override DateTimeOffset? NextChange(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) =>
        recency is null || rfm is null ? null : Rfm.NextRecencyChange(p, rfm, now);

    public override void Describe(StringBuilder sb)
    {
        sb.Append("RFM");
        var first = true;
        Part(sb, "recency", recency, ref first);
        Part(sb, "frequency", frequency, ref first);
        Part(sb, "monetary", monetary, ref first);
    }

    private static void Part(StringBuilder sb, string name, int[]? scores, ref bool first)
    {
        if (scores is null) return;
        sb.Append(first ? " " : " and ").Append(name).Append(' ');
        first = false;
        if (scores.Length > 1 && scores[^1] - scores[0] == scores.Length - 1)
            sb.Append(scores[0]).Append(" to ").Append(scores[^1]);
        else
            for (var i = 0; i < scores.Length; i++)
                sb.Append(i == 0 ? "" : i == scores.Length - 1 ? " or " : ", ").Append(scores[i]);
    }

    public override void Explain(StringBuilder sb, VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) => RfmCellIn.ExplainCell(sb, p, now, rfm);

    public override void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteStartObject("rfm");
        WriteScores(w, "recency", recency);
        WriteScores(w, "frequency", frequency);
        WriteScores(w, "monetary", monetary);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteScores(Utf8JsonWriter w, string name, int[]? scores)
    {
        if (scores is null) return;
        w.WriteStartArray(name);
        foreach (var s in scores) w.WriteNumberValue(s);
        w.WriteEndArray();
    }
}

/// <summary>{"rfmCell":"555"} or {"rfmCell":["555","554"]}: the visitor's cell is one of these.</summary>
internal sealed class RfmCellIn(RfmCell[] cells) : Condition
{
    private readonly UInt128 mask = MaskOf(cells);

    private static int Index(RfmCell c) => (c.Recency - 1) * 25 + (c.Frequency - 1) * 5 + (c.Monetary - 1);

    private static UInt128 MaskOf(RfmCell[] cells)
    {
        UInt128 mask = 0;
        foreach (var c in cells) mask |= UInt128.One << Index(c);
        return mask;
    }

    public override bool Matches(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) =>
        rfm is not null && Rfm.Cell(p, rfm, now) is { } cell && ((mask >> Index(cell)) & UInt128.One) != 0;

    public override DateTimeOffset? NextChange(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) =>
        rfm is null ? null : Rfm.NextRecencyChange(p, rfm, now);

    public override void Describe(StringBuilder sb)
    {
        sb.Append("RFM cell ");
        for (var i = 0; i < cells.Length; i++)
            sb.Append(i == 0 ? "" : i == cells.Length - 1 ? " or " : ", ").Append(cells[i].ToString());
    }

    public override void Explain(StringBuilder sb, VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) => ExplainCell(sb, p, now, rfm);

    internal static void ExplainCell(StringBuilder sb, VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        if (rfm is null) sb.Append("no RFM scores computed yet");
        else if (Rfm.Cell(p, rfm, now) is { } cell) sb.Append("RFM cell ").Append(cell.ToString());
        else sb.Append("no order, so no RFM cell");
    }

    public override void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        if (cells.Length == 1) w.WriteString("rfmCell", cells[0].ToString());
        else
        {
            w.WriteStartArray("rfmCell");
            foreach (var c in cells) w.WriteStringValue(c.ToString());
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }
}
