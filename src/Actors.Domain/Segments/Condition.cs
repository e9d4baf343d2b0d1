using System.Text;
using System.Text.Json;
using Actors.Domain.Profiles;

namespace Actors.Domain.Segments;

/// <summary>
/// One node of a parsed rule. Implementations are immutable; <see cref="Matches"/> and <see cref="NextChange"/> run on
/// every event for every active segment, so they allocate nothing and use no LINQ.
/// </summary>
internal abstract class Condition
{
    public abstract bool Matches(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm);

    /// <summary>
    /// The first instant after <paramref name="now"/> at which <see cref="Matches"/> could differ from its value at
    /// <paramref name="now"/> with no new event; null when only an event can change it. Never later than the real change,
    /// and nothing changes before it.
    /// </summary>
    public virtual DateTimeOffset? NextChange(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) => null;

    public abstract void Describe(StringBuilder sb);

    /// <summary>Appends the negation in natural words and returns true, or appends nothing and returns false.</summary>
    public virtual bool DescribeNegated(StringBuilder sb) => false;

    /// <summary>What the profile actually shows for this condition, in a few words (whether it holds or not).</summary>
    public abstract void Explain(StringBuilder sb, VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm);

    public abstract void Write(Utf8JsonWriter w);

    /// <summary>True for a combination of several conditions, which needs parentheses inside another one.</summary>
    public virtual bool IsCompound => false;

    protected static DateTimeOffset? Earliest(DateTimeOffset? a, DateTimeOffset? b) =>
        a is null ? b : b is null ? a : a.Value <= b.Value ? a : b;
}

internal sealed class AllOf(Condition[] items) : Condition
{
    public override bool IsCompound => items.Length > 1;

    public override bool Matches(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        foreach (var item in items)
            if (!item.Matches(p, now, rfm)) return false;
        return true;
    }

    public override DateTimeOffset? NextChange(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        DateTimeOffset? next = null;
        foreach (var item in items)
        {
            var change = item.NextChange(p, now, rfm);
            // A part that is false and stays false keeps the whole false.
            if (change is null && !item.Matches(p, now, rfm)) return null;
            next = Earliest(next, change);
        }
        return next;
    }

    public override void Describe(StringBuilder sb) => Join(sb, items, " and ");

    public override void Explain(StringBuilder sb, VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        if (!Matches(p, now, rfm))
        {
            foreach (var item in items)
                if (!item.Matches(p, now, rfm))
                {
                    item.Explain(sb, p, now, rfm);
                    return;
                }
        }
        for (var i = 0; i < items.Length; i++)
        {
            if (i > 0) sb.Append(" and ");
            items[i].Explain(sb, p, now, rfm);
        }
    }

    public override void Write(Utf8JsonWriter w) => WriteList(w, "all", items);

    internal static void WriteList(Utf8JsonWriter w, string name, Condition[] items)
    {
        w.WriteStartObject();
        w.WriteStartArray(name);
        foreach (var item in items) item.Write(w);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    internal static void Join(StringBuilder sb, Condition[] items, string separator)
    {
        for (var i = 0; i < items.Length; i++)
        {
            if (i > 0) sb.Append(separator);
            DescribeInner(sb, items[i]);
        }
    }

    internal static void DescribeInner(StringBuilder sb, Condition c)
    {
        if (!c.IsCompound)
        {
            c.Describe(sb);
            return;
        }
        sb.Append('(');
        c.Describe(sb);
        sb.Append(')');
    }
}

internal sealed class AnyOf(Condition[] items) : Condition
{
    public override bool IsCompound => items.Length > 1;

    public override bool Matches(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        foreach (var item in items)
            if (item.Matches(p, now, rfm)) return true;
        return false;
    }

    public override DateTimeOffset? NextChange(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        DateTimeOffset? next = null;
        foreach (var item in items)
        {
            var change = item.NextChange(p, now, rfm);
            // A part that is true and stays true keeps the whole true.
            if (change is null && item.Matches(p, now, rfm)) return null;
            next = Earliest(next, change);
        }
        return next;
    }

    public override void Describe(StringBuilder sb) => AllOf.Join(sb, items, " or ");

    public override void Explain(StringBuilder sb, VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        foreach (var item in items)
            if (item.Matches(p, now, rfm))
            {
                item.Explain(sb, p, now, rfm);
                return;
            }
        for (var i = 0; i < items.Length; i++)
        {
            if (i > 0) sb.Append(" and ");
            items[i].Explain(sb, p, now, rfm);
        }
    }

    public override void Write(Utf8JsonWriter w) => AllOf.WriteList(w, "any", items);
}

internal sealed class NotOf(Condition inner) : Condition
{
    public override bool Matches(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) => !inner.Matches(p, now, rfm);

    public override DateTimeOffset? NextChange(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) => inner.NextChange(p, now, rfm);

    public override void Describe(StringBuilder sb)
    {
        if (inner.DescribeNegated(sb)) return;
        sb.Append("not (");
        inner.Describe(sb);
        sb.Append(')');
    }

    public override bool DescribeNegated(StringBuilder sb)
    {
        AllOf.DescribeInner(sb, inner);
        return true;
    }

    // The facts are the same whichever way round the rule reads them.
    public override void Explain(StringBuilder sb, VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) => inner.Explain(sb, p, now, rfm);

    public override void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WritePropertyName("not");
        inner.Write(w);
        w.WriteEndObject();
    }
}
