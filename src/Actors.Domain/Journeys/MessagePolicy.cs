using System.Globalization;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Domain.Journeys;

/// <summary>A message a journey step wants to send, before the policy has its say.</summary>
public sealed record MessageRequest(string Channel, string? Topic, string? ContentType, MessageKind Kind);

/// <summary>The shop's rules for every marketing message: a cap across channels, quiet hours, the default time zone.</summary>
public sealed record PolicySettings
{
    /// <summary>At most this many marketing messages in <see cref="CapWindow"/>, all channels together (0: no cap).</summary>
    public int MarketingCap { get; init; } = 3;
    public TimeSpan CapWindow { get; init; } = TimeSpan.FromDays(7);

    /// <summary>Quiet hours in the visitor's time zone, e.g. 21:00 to 08:00 (may wrap midnight); equal: none.</summary>
    public TimeOnly QuietFrom { get; init; } = new(21, 0);
    public TimeOnly QuietUntil { get; init; } = new(8, 0);

    /// <summary>IANA id used when the visitor's time zone is unknown or not a valid id.</summary>
    public string DefaultTimeZone { get; init; } = "UTC";

    /// <summary>
    /// Whether a transactional message needs the visitor's explicit "{channel}:transactional" consent. Off by default: an
    /// order confirmation needs no opt-in, but a withdrawn transactional consent always blocks.
    /// </summary>
    public bool TransactionalNeedsConsent { get; init; }

    /// <summary>A new instance each time: configuration binding writes into the instance it is given.</summary>
    public static PolicySettings Default => new();
}

public enum PolicyOutcome
{
    /// <summary>Send now.</summary>
    Send,

    /// <summary>Not to be sent; the reason says why (no consent, topic not wanted, cap reached, paused…).</summary>
    Suppress,

    /// <summary>Not now (quiet hours): send at <see cref="PolicyDecision.NotBefore"/>, when the policy is asked again.</summary>
    Defer,
}

/// <summary>The policy's answer, with a reason that is recorded in the visitor's stream (e.g. "no_consent:email:marketing").</summary>
public sealed record PolicyDecision(PolicyOutcome Outcome, string Reason, DateTimeOffset? NotBefore = null)
{
    public static PolicyDecision Send(string reason = "allowed") => new(PolicyOutcome.Send, reason);
    public static PolicyDecision Suppress(string reason) => new(PolicyOutcome.Suppress, reason);
    public static PolicyDecision Defer(DateTimeOffset notBefore, string reason) => new(PolicyOutcome.Defer, reason, notBefore);
}

/// <summary>
/// Whether one message may reach one visitor now: a pure function of the profile (consents, newsletter, preferences, the
/// log of sent messages), the message, the clock and the shop's settings. The rules run in a fixed order and the first
/// that objects decides, so a reason names exactly one cause (README, "Message policy", lists them and their reasons).
/// A transactional message answers only to consent; everything after it protects the visitor from marketing.
/// </summary>
public static class MessagePolicy
{
    /// <summary>The visitor attribute holding their IANA time zone, e.g. "Europe/Madrid".</summary>
    public const string TimeZoneAttribute = "timezone";

    private const string MarketingKind = nameof(MessageKind.Marketing);
    private static readonly PolicyDecision Allowed = PolicyDecision.Send(); // immutable: one instance serves every send

    // Every real UTC offset lies within ±14 h (historic local mean times a little beyond): a margin for the search of a DST jump.
    private const long OffsetMargin = 18 * TimeSpan.TicksPerHour;

    public static PolicyDecision Decide(VisitorProfile profile, MessageRequest message, DateTimeOffset now, PolicySettings settings)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(settings);

        if (ConsentObjection(profile, message, settings) is { } consent) return PolicyDecision.Suppress(consent);
        // Nowhere to send it on this channel: known here, from the profile the message would be addressed from, so it is
        // not queued only for the provider to refuse it (a campaign to a segment of anonymous visitors meets thousands).
        if (NoAddress(profile, message.Channel) is { } noAddress) return PolicyDecision.Suppress(noAddress);
        // An address that bounced for good takes no more mail, transactional or not, until the visitor gives another.
        if (message.Channel == "email" && profile.BouncedEmail is { } bounced && string.Equals(bounced, profile.Email, StringComparison.OrdinalIgnoreCase))
            return PolicyDecision.Suppress("email_bounced");
        if (message.Kind == MessageKind.Transactional) return Allowed;

        var preferences = profile.Preferences;
        if (!Wanted(preferences.Topics, message.Topic)) return PolicyDecision.Suppress("topic_not_wanted:" + message.Topic);
        if (!Wanted(preferences.ContentTypes, message.ContentType))
            return PolicyDecision.Suppress("content_type_not_wanted:" + message.ContentType);

        if (preferences.PausedUntil is { } pausedUntil && pausedUntil > now) return PolicyDecision.Suppress("paused_until:" + Iso(pausedUntil));

        // One marketing message per interval: the next one is allowed from exactly one interval after the last.
        if (Frequency(preferences.Frequency) is { } frequency && LastMarketing(profile.Messages) is { } last
            && now < SafeTime.Add(last, frequency.Interval))
            return PolicyDecision.Suppress("frequency:" + frequency.Name);

        // The cap's window is (now - CapWindow, now]: a message sent exactly CapWindow ago no longer counts, as for frequency.
        if (settings.MarketingCap > 0 && settings.CapWindow > TimeSpan.Zero
            && MarketingAfter(profile.Messages, SafeTime.Subtract(now, settings.CapWindow)) >= settings.MarketingCap)
            return PolicyDecision.Suppress(string.Concat("cap:", settings.MarketingCap.ToString(CultureInfo.InvariantCulture), "_per_", Window(settings.CapWindow)));

        if (QuietHoursEnd(profile, now, settings) is { } notBefore) return PolicyDecision.Defer(notBefore, "quiet_hours");
        return Allowed;
    }

    /// <summary>
    /// The reason a channel has no address for the visitor, as its provider would give it (null when it has one). The
    /// message's recipient is built from the same properties when it is decided (<see cref="Channels.MessageRecipient.From"/>),
    /// so the provider could only refuse it.
    /// </summary>
    private static string? NoAddress(VisitorProfile profile, string channel) => channel switch
    {
        "email" when profile.Email is null => "no_email_address",
        "sms" when profile.Phone is null => "no_phone_number",
        "push" when profile.PushSubscriptions.Count == 0 => "no_push_subscription",
        _ => null,
    };

    /// <summary>The visitor's time zone: their "timezone" attribute if it is a known IANA id, else the shop's default, else UTC.</summary>
    public static TimeZoneInfo TimeZoneOf(VisitorProfile profile, PolicySettings settings) =>
        (profile.Attributes.TryGetValue(TimeZoneAttribute, out var id) ? FindZone(id) : null)
        ?? FindZone(settings.DefaultTimeZone)
        ?? TimeZoneInfo.Utc;

    /// <summary>
    /// Marketing needs "{channel}:marketing" given; transactional needs "{channel}:transactional" not withdrawn (given too,
    /// with <see cref="PolicySettings.TransactionalNeedsConsent"/>). Marketing email also needs the newsletter not unsubscribed
    /// since the consent was given.
    /// </summary>
    private static string? ConsentObjection(VisitorProfile profile, MessageRequest message, PolicySettings settings)
    {
        var marketing = message.Kind == MessageKind.Marketing;
        var key = VisitorProfile.ConsentKey(message.Channel, marketing ? "marketing" : "transactional");
        if (profile.WithdrawnConsents.ContainsKey(key)) return "consent_withdrawn:" + key;
        if (profile.Consents.TryGetValue(key, out var givenAt))
        {
            // Unsubscribing means no marketing email, unless the visitor opted in again later (a tie blocks: the safe side).
            if (marketing && key == "email:marketing" && !profile.IsNewsletterSubscriber
                && profile.NewsletterChangedAt is { } unsubscribedAt && unsubscribedAt >= givenAt)
                return "newsletter_unsubscribed";
            return null;
        }
        return marketing || settings.TransactionalNeedsConsent ? "no_consent:" + key : null;
    }

    /// <summary>A message without a topic (or content type) suits everyone; one with, only visitors who chose none or it.</summary>
    private static bool Wanted(List<string> chosen, string? value)
    {
        if (chosen.Count == 0 || string.IsNullOrWhiteSpace(value)) return true;
        foreach (var c in chosen)
            if (string.Equals(c, value, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    private readonly record struct FrequencyRule(string Name, TimeSpan Interval);

    /// <summary>
    /// The frequencies the edge passes through from "Preferences Updated" (any text; these are the ones that mean a limit),
    /// by canonical name. Anything else sets no limit of its own (the cap still applies).
    /// </summary>
    private static FrequencyRule? Frequency(string? value)
    {
        if (value is null) return null;
        var v = value.AsSpan().Trim();
        if (Is(v, "daily")) return new FrequencyRule("daily", TimeSpan.FromDays(1));
        if (Is(v, "weekly")) return new FrequencyRule("weekly", TimeSpan.FromDays(7));
        if (Is(v, "every_two_weeks") || Is(v, "biweekly")) return new FrequencyRule("every_two_weeks", TimeSpan.FromDays(14));
        if (Is(v, "monthly")) return new FrequencyRule("monthly", TimeSpan.FromDays(30)); // fixed: a month must not depend on the zone
        return null;

        static bool Is(ReadOnlySpan<char> v, string name) => v.Equals(name, StringComparison.OrdinalIgnoreCase);
    }

    // Plain loops, not LINQ: this runs on every send a journey makes.
    private static DateTimeOffset? LastMarketing(MessageLog log)
    {
        DateTimeOffset? last = null;
        foreach (var m in log.Sent)
            if (m.Kind == MarketingKind && (last is null || m.At > last)) last = m.At; // the latest, whatever the arrival order
        return last;
    }

    private static int MarketingAfter(MessageLog log, DateTimeOffset since)
    {
        var count = 0;
        foreach (var m in log.Sent)
            if (m.Kind == MarketingKind && m.At > since) count++;
        return count;
    }

    /// <summary>When quiet hours end, if <paramref name="now"/> is inside them in the visitor's zone: [QuietFrom, QuietUntil), possibly across midnight.</summary>
    private static DateTimeOffset? QuietHoursEnd(VisitorProfile profile, DateTimeOffset now, PolicySettings settings)
    {
        long from = settings.QuietFrom.Ticks, until = settings.QuietUntil.Ticks;
        if (from == until) return null;
        var zone = TimeZoneOf(profile, settings);
        var local = ClampTicks(now.UtcTicks, zone.GetUtcOffset(now).Ticks);
        var timeOfDay = local % TimeSpan.TicksPerDay;
        var quiet = from < until ? timeOfDay >= from && timeOfDay < until : timeOfDay >= from || timeOfDay < until;
        if (!quiet) return null;

        // The end is today when we are before it, else (after the start, wrapping midnight) tomorrow.
        var end = ClampTicks(local - timeOfDay + until, timeOfDay < until ? 0 : TimeSpan.TicksPerDay);
        if (end == DateTimeOffset.MaxValue.Ticks) return DateTimeOffset.MaxValue; // the calendar ends first
        return FirstInstantAt(zone, end, now);
    }

    /// <summary>
    /// The first instant after <paramref name="after"/> at which the zone's clock reads <paramref name="localTicks"/>, or
    /// the first it reads later: in spring the clock jumps over a time (the jump is the answer), in autumn reads one twice.
    /// </summary>
    private static DateTimeOffset FirstInstantAt(TimeZoneInfo zone, long localTicks, DateTimeOffset after)
    {
        var local = new DateTime(localTicks, DateTimeKind.Unspecified);
        if (zone.IsAmbiguousTime(local))
        {
            long? first = null, latest = null;
            foreach (var offset in zone.GetAmbiguousTimeOffsets(local))
            {
                var utc = ClampTicks(localTicks, -offset.Ticks);
                if (utc > after.UtcTicks && (first is null || utc < first)) first = utc;
                if (latest is null || utc > latest) latest = utc;
            }
            return Utc(first ?? latest ?? localTicks);
        }
        if (zone.IsInvalidTime(local))
        {
            // Search the instant the clock first reads at least localTicks; the local clock only moves forward around a jump.
            long low = ClampTicks(localTicks, -OffsetMargin), high = ClampTicks(localTicks, OffsetMargin);
            while (high - low > 1)
            {
                var mid = low + (high - low) / 2;
                if (ClampTicks(mid, zone.GetUtcOffset(Utc(mid)).Ticks) >= localTicks) high = mid;
                else low = mid;
            }
            return Utc(high);
        }
        return Utc(ClampTicks(localTicks, -zone.GetUtcOffset(local).Ticks));
    }

    private static TimeZoneInfo? FindZone(string? id)
    {
        if (string.IsNullOrWhiteSpace(id)) return null;
        // Try… rather than Find… and catch: a visitor's attribute is any text, and an exception per decision costs.
        // The catch is for what the lookup may still throw on odd ids or an unreadable zone file.
        try
        {
            return TimeZoneInfo.TryFindSystemTimeZoneById(id.Trim(), out var zone) ? zone : null;
        }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException or ArgumentException
            or IOException or UnauthorizedAccessException or System.Security.SecurityException)
        {
            return null;
        }
    }

    /// <summary><paramref name="ticks"/> + <paramref name="by"/>, kept on the calendar.</summary>
    private static long ClampTicks(long ticks, long by)
    {
        const long min = 0;
        var max = DateTimeOffset.MaxValue.Ticks;
        if (by > 0 && by > max - ticks) return max;
        if (by < 0 && by < min - ticks) return min;
        return ticks + by;
    }

    private static DateTimeOffset Utc(long ticks) => new(ticks, TimeSpan.Zero);

    /// <summary>UTC, seconds, fraction only when there is one: "2026-03-10T00:00:00Z".</summary>
    private static string Iso(DateTimeOffset at) =>
        at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    /// <summary>A window in its largest whole unit: "7d", "12h", "90m", "30s", "1500ms", else ticks.</summary>
    private static string Window(TimeSpan window)
    {
        var t = window.Ticks;
        var (value, unit) = t % TimeSpan.TicksPerDay == 0 ? (t / TimeSpan.TicksPerDay, "d")
            : t % TimeSpan.TicksPerHour == 0 ? (t / TimeSpan.TicksPerHour, "h")
            : t % TimeSpan.TicksPerMinute == 0 ? (t / TimeSpan.TicksPerMinute, "m")
            : t % TimeSpan.TicksPerSecond == 0 ? (t / TimeSpan.TicksPerSecond, "s")
            : t % TimeSpan.TicksPerMillisecond == 0 ? (t / TimeSpan.TicksPerMillisecond, "ms")
            : (t, "ticks");
        return value.ToString(CultureInfo.InvariantCulture) + unit;
    }
}
