using System.Globalization;
using System.Text;
using System.Text.Json;
using Actors.Domain.Lifecycle;
using Actors.Domain.Profiles;

namespace Actors.Domain.Segments;

/// <summary>{"stage":["lead","customer"]}: the lifecycle stage is one of these.</summary>
internal sealed class StageIs(Stage[] stages) : Condition
{
    private readonly int mask = MaskOf(stages);

    private static int MaskOf(Stage[] stages)
    {
        var mask = 0;
        foreach (var s in stages) mask |= 1 << (int)s;
        return mask;
    }

    public override bool Matches(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) => (mask & (1 << (int)p.Stage)) != 0;

    public override void Describe(StringBuilder sb) => Text.List(sb.Append("stage is "), stages, " or ");

    public override bool DescribeNegated(StringBuilder sb)
    {
        if (stages.Length == 1) sb.Append("stage is not ").Append(stages[0].ToWire());
        else if (stages.Length == 2) sb.Append("stage is neither ").Append(stages[0].ToWire()).Append(" nor ").Append(stages[1].ToWire());
        else Text.List(sb.Append("stage is none of "), stages, ", ");
        return true;
    }

    public override void Explain(StringBuilder sb, VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) =>
        sb.Append("stage is ").Append(p.Stage.ToWire());

    public override void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteStartArray("stage");
        foreach (var s in stages) w.WriteStringValue(s.ToWire());
        w.WriteEndArray();
        w.WriteEndObject();
    }
}

/// <summary>{"leadKind":"newsletter"}.</summary>
internal sealed class LeadKindIs(LeadKind kind) : Condition
{
    private string Wire => ((LeadKind?)kind).ToWire()!;

    public override bool Matches(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) => p.LeadKind == kind;

    public override void Describe(StringBuilder sb) => sb.Append("lead kind is ").Append(Wire);

    public override bool DescribeNegated(StringBuilder sb)
    {
        sb.Append("lead kind is not ").Append(Wire);
        return true;
    }

    public override void Explain(StringBuilder sb, VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        if (p.LeadKind is null) sb.Append("no lead kind");
        else sb.Append("lead kind is ").Append(p.LeadKind.ToWire());
    }

    public override void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("leadKind", Wire);
        w.WriteEndObject();
    }
}

/// <summary>{"attribute":"tier","exists":true}.</summary>
internal sealed class AttributeExists(string name, bool exists) : Condition
{
    public override bool Matches(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) => p.Attributes.ContainsKey(name) == exists;

    public override void Describe(StringBuilder sb) => sb.Append("attribute ").Append(name).Append(exists ? " is set" : " is not set");

    public override bool DescribeNegated(StringBuilder sb)
    {
        sb.Append("attribute ").Append(name).Append(exists ? " is not set" : " is set");
        return true;
    }

    public override void Explain(StringBuilder sb, VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) =>
        sb.Append("attribute ").Append(name).Append(p.Attributes.ContainsKey(name) ? " is set" : " is not set");

    public override void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("attribute", name);
        w.WriteBoolean("exists", exists);
        w.WriteEndObject();
    }
}

/// <summary>
/// {"attribute":"tier","equals":"gold"} or "in":[…]. Compared as numbers when both sides read as invariant decimals
/// ("10" equals "10.0"), otherwise as ordinal strings.
/// </summary>
internal sealed class AttributeIn(string name, string[] values, bool isEquals) : Condition
{
    private readonly decimal?[] numbers = ParseAll(values);

    private static decimal?[] ParseAll(string[] values)
    {
        var numbers = new decimal?[values.Length];
        for (var i = 0; i < values.Length; i++)
            numbers[i] = Text.TryNumber(values[i], out var d) ? d : null;
        return numbers;
    }

    public override bool Matches(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) =>
        p.Attributes.TryGetValue(name, out var actual) && Contains(actual);

    private bool Contains(string actual)
    {
        var isNumber = Text.TryNumber(actual, out var number);
        for (var i = 0; i < values.Length; i++)
        {
            if (isNumber && numbers[i] is { } n) { if (n == number) return true; }
            else if (string.Equals(actual, values[i], StringComparison.Ordinal)) return true;
        }
        return false;
    }

    public override void Describe(StringBuilder sb)
    {
        sb.Append("attribute ").Append(name);
        if (values.Length == 1) sb.Append(" is ").Append(values[0]);
        else Text.List(sb.Append(" is one of "), values, ", ");
    }

    public override bool DescribeNegated(StringBuilder sb)
    {
        sb.Append("attribute ").Append(name);
        if (values.Length == 1) sb.Append(" is not ").Append(values[0]);
        else Text.List(sb.Append(" is none of "), values, ", ");
        return true;
    }

    // Attribute values can be personal data: the reason names only what the rule itself names.
    public override void Explain(StringBuilder sb, VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        if (!p.Attributes.TryGetValue(name, out var actual)) sb.Append("attribute ").Append(name).Append(" is not set");
        else if (Contains(actual)) Describe(sb);
        else DescribeNegated(sb);
    }

    public override void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("attribute", name);
        if (isEquals && values.Length == 1) w.WriteString("equals", values[0]);
        else
        {
            w.WriteStartArray("in");
            foreach (var v in values) w.WriteStringValue(v);
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }
}

/// <summary>{"attribute":"age","gte":18,"lt":30}: false when the attribute is missing or not a number.</summary>
internal sealed class AttributeRange(string name, decimal? lower, bool lowerInclusive, decimal? upper, bool upperInclusive) : Condition
{
    public override bool Matches(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) =>
        p.Attributes.TryGetValue(name, out var actual) && Text.TryNumber(actual, out var n) && InRange(n);

    private bool InRange(decimal n)
    {
        if (lower is { } lo && (lowerInclusive ? n < lo : n <= lo)) return false;
        if (upper is { } hi && (upperInclusive ? n > hi : n >= hi)) return false;
        return true;
    }

    public override void Describe(StringBuilder sb)
    {
        sb.Append("attribute ").Append(name).Append(" is ");
        DescribeRange(sb);
    }

    private void DescribeRange(StringBuilder sb)
    {
        if (lower is { } lo) sb.Append(lowerInclusive ? "at least " : "more than ").Append(Text.Number(lo));
        if (lower is not null && upper is not null) sb.Append(" and ");
        if (upper is { } hi) sb.Append(upperInclusive ? "at most " : "less than ").Append(Text.Number(hi));
    }

    public override void Explain(StringBuilder sb, VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        sb.Append("attribute ").Append(name);
        if (!p.Attributes.TryGetValue(name, out var actual)) sb.Append(" is not set");
        else if (!Text.TryNumber(actual, out var n)) sb.Append(" is not a number");
        else if (InRange(n)) { sb.Append(" is "); DescribeRange(sb); }
        else { sb.Append(" is outside "); DescribeRange(sb); }
    }

    public override void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("attribute", name);
        if (lower is { } lo) w.WriteNumber(lowerInclusive ? "gte" : "gt", lo);
        if (upper is { } hi) w.WriteNumber(upperInclusive ? "lte" : "lt", hi);
        w.WriteEndObject();
    }
}

/// <summary>{"consent":"email:marketing"}: that consent is granted (keys are lower case "channel:purpose").</summary>
internal sealed class HasConsent(string key) : Condition
{
    public override bool Matches(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) => p.Consents.ContainsKey(key);

    public override void Describe(StringBuilder sb) => sb.Append("has consent ").Append(key);

    public override bool DescribeNegated(StringBuilder sb)
    {
        sb.Append("has no consent ").Append(key);
        return true;
    }

    public override void Explain(StringBuilder sb, VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        if (p.Consents.ContainsKey(key)) Describe(sb);
        else DescribeNegated(sb);
    }

    public override void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("consent", key);
        w.WriteEndObject();
    }
}

internal enum PreferenceKind { Topic, ContentType, Frequency }

/// <summary>{"topic":"shoes"}, {"contentType":"video"}, {"frequency":"weekly"}: case-insensitive, as preferences are kept.</summary>
internal sealed class PreferenceIs(PreferenceKind kind, string value) : Condition
{
    public override bool Matches(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        var prefs = p.Preferences;
        switch (kind)
        {
            case PreferenceKind.Frequency:
                return string.Equals(prefs.Frequency, value, StringComparison.OrdinalIgnoreCase);
            default:
                var list = kind == PreferenceKind.Topic ? prefs.Topics : prefs.ContentTypes;
                for (var i = 0; i < list.Count; i++)
                    if (string.Equals(list[i], value, StringComparison.OrdinalIgnoreCase)) return true;
                return false;
        }
    }

    public override void Describe(StringBuilder sb) => sb.Append(kind switch
    {
        PreferenceKind.Topic => "interested in topic ",
        PreferenceKind.ContentType => "wants content type ",
        _ => "preferred frequency is ",
    }).Append(value);

    public override bool DescribeNegated(StringBuilder sb)
    {
        sb.Append(kind switch
        {
            PreferenceKind.Topic => "not interested in topic ",
            PreferenceKind.ContentType => "does not want content type ",
            _ => "preferred frequency is not ",
        }).Append(value);
        return true;
    }

    public override void Explain(StringBuilder sb, VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        if (Matches(p, now, rfm)) Describe(sb);
        else if (kind == PreferenceKind.Frequency && p.Preferences.Frequency is { } f) sb.Append("preferred frequency is ").Append(f);
        else DescribeNegated(sb);
    }

    public override void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString(kind switch { PreferenceKind.Topic => "topic", PreferenceKind.ContentType => "contentType", _ => "frequency" }, value);
        w.WriteEndObject();
    }
}

/// <summary>{"paused":true}: messages are paused now (PausedUntil lies ahead); the pause ends by itself at PausedUntil.</summary>
internal sealed class IsPaused(bool paused) : Condition
{
    public override bool Matches(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) => p.Preferences.IsPaused(now) == paused;

    public override DateTimeOffset? NextChange(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) =>
        p.Preferences.PausedUntil is { } until && until > now ? until : null;

    public override void Describe(StringBuilder sb) => sb.Append(paused ? "messages are paused" : "messages are not paused");

    public override bool DescribeNegated(StringBuilder sb)
    {
        sb.Append(paused ? "messages are not paused" : "messages are paused");
        return true;
    }

    public override void Explain(StringBuilder sb, VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        if (p.Preferences.IsPaused(now)) sb.Append("messages are paused until ").Append(Text.Instant(p.Preferences.PausedUntil!.Value));
        else sb.Append("messages are not paused");
    }

    public override void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteBoolean("paused", paused);
        w.WriteEndObject();
    }
}

/// <summary>{"newsletter":true}: subscribed to the newsletter now.</summary>
internal sealed class IsNewsletterSubscriber(bool subscribed) : Condition
{
    public override bool Matches(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) => p.IsNewsletterSubscriber == subscribed;

    public override void Describe(StringBuilder sb) => sb.Append(subscribed ? "subscribed to the newsletter" : "not subscribed to the newsletter");

    public override bool DescribeNegated(StringBuilder sb)
    {
        sb.Append(subscribed ? "not subscribed to the newsletter" : "subscribed to the newsletter");
        return true;
    }

    public override void Explain(StringBuilder sb, VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm)
    {
        if (p.IsNewsletterSubscriber) sb.Append("subscribed to the newsletter");
        else if (p.NewsletterChangedAt is { } at) sb.Append("unsubscribed from the newsletter ").Append(Text.Ago(now - at));
        else sb.Append("never subscribed to the newsletter");
    }

    public override void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteBoolean("newsletter", subscribed);
        w.WriteEndObject();
    }
}

/// <summary>Small English helpers shared by the conditions (invariant culture throughout).</summary>
internal static class Text
{
    private const NumberStyles NumberStyle = NumberStyles.Float;

    /// <summary>An attribute value as a number, invariant culture ("1.5", "-3", "2e3"), without allocating.</summary>
    public static bool TryNumber(string s, out decimal value) => decimal.TryParse(s, NumberStyle, CultureInfo.InvariantCulture, out value);

    public static string Number(decimal d) => d.ToString(CultureInfo.InvariantCulture);

    public static string Number(int i) => i.ToString(CultureInfo.InvariantCulture);

    public static string Instant(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);

    public static StringBuilder List(StringBuilder sb, Stage[] stages, string lastSeparator)
    {
        for (var i = 0; i < stages.Length; i++)
        {
            if (i > 0) sb.Append(i == stages.Length - 1 ? lastSeparator : ", ");
            sb.Append(stages[i].ToWire());
        }
        return sb;
    }

    public static StringBuilder List(StringBuilder sb, IReadOnlyList<string> values, string lastSeparator)
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (i > 0) sb.Append(i == values.Count - 1 ? lastSeparator : ", ");
            sb.Append(values[i]);
        }
        return sb;
    }

    /// <summary>"3 hours ago", "95 days ago"; "just now" within a minute either way.</summary>
    public static string Ago(TimeSpan span)
    {
        if (span < TimeSpan.Zero) return span > TimeSpan.FromMinutes(-1) ? "just now" : "in the future";
        return span < TimeSpan.FromMinutes(1) ? "just now" : Duration(span) + " ago";
    }

    /// <summary>A rough duration: "45 minutes", "3 hours", "95 days".</summary>
    public static string Duration(TimeSpan span)
    {
        if (span < TimeSpan.FromHours(1)) return Count((int)span.TotalMinutes, "minute", "minutes");
        if (span < TimeSpan.FromDays(2)) return Count((int)span.TotalHours, "hour", "hours");
        return Count((int)span.TotalDays, "day", "days");
    }

    public static string Count(int n, string one, string many) => string.Concat(Number(n), " ", n == 1 ? one : many);

    /// <summary>" in the last 14 days", " in the last hour".</summary>
    public static StringBuilder Window(StringBuilder sb, Window window)
    {
        sb.Append(" in the last ");
        if (window.Amount != 1) sb.Append(Number(window.Amount)).Append(' ');
        return sb.Append(window.InHours ? (window.Amount == 1 ? "hour" : "hours") : (window.Amount == 1 ? "day" : "days"));
    }
}

/// <summary>{"profiles":["user:a","anon:b"]}: the profile is one of a fixed list (a report's drill-down saved as a segment).</summary>
internal sealed class ProfileIn(IReadOnlySet<string> ids) : Condition
{
    private const int Shown = 3;

    public override bool Matches(VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) => ids.Contains(p.ProfileId);

    public override void Describe(StringBuilder sb)
    {
        var sorted = ids.Order(StringComparer.Ordinal).ToList();
        if (sorted.Count == 1) sb.Append("profile ").Append(sorted[0]);
        else
        {
            sb.Append("one of ").Append(sorted.Count).Append(" listed profiles (").AppendJoin(", ", sorted.Take(Shown));
            sb.Append(sorted.Count > Shown ? ", …)" : ")");
        }
    }

    public override void Explain(StringBuilder sb, VisitorProfile p, DateTimeOffset now, RfmThresholds? rfm) =>
        sb.Append(ids.Contains(p.ProfileId) ? "listed" : "not listed").Append(" by id (").Append(p.ProfileId).Append(')');

    public override void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteStartArray("profiles");
        foreach (var id in ids.Order(StringComparer.Ordinal)) w.WriteStringValue(id);
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
