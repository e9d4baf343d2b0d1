using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Domain.Channels;

/// <summary>
/// What a visitor submitted on the preference centre, already reduced to the offered choices (the edge refuses anything
/// else). <see cref="Pause"/> is "30", "60", "90" (days), "resume", or null to leave the pause as it is.
/// </summary>
public sealed record PreferenceForm(
    IReadOnlyCollection<string> Topics,
    IReadOnlyCollection<string> ContentTypes,
    string? Frequency,
    string? Pause,
    bool Newsletter,
    IReadOnlyCollection<string> ConsentChannels);

/// <summary>The events a choice records, or why it records none (a choice the domain cannot express).</summary>
public sealed record PreferenceOutcome(IReadOnlyList<VisitorEvent> Events, string? Error = null)
{
    public static PreferenceOutcome Refused(string error) => new([], error);
}

/// <summary>
/// The visitor-facing choices of the preference centre, the unsubscribe landing and the one-click unsubscribe, turned
/// into events of the visitor's stream. Pure: the caller passes the profile as read, the time and the message-id prefix
/// (made from the link and a per-page nonce, so a double submit repeats the same ids and the grain keeps one copy).
/// </summary>
public static class PreferenceChoices
{
    /// <summary>The frequencies offered, as <see cref="Journeys.MessagePolicy"/> reads them.</summary>
    public static readonly IReadOnlyList<string> Frequencies = ["weekly", "every_two_weeks", "monthly"];

    /// <summary>The pauses offered, in days.</summary>
    public static readonly IReadOnlyList<int> PauseDays = [30, 60, 90];

    public const string Resume = "resume";

    /// <summary>The channels a visitor can allow or refuse marketing on.</summary>
    public static readonly IReadOnlyList<string> Channels = ["email", "sms", "push"];

    public const string Marketing = "marketing";

    public const string PreferenceCentreSource = "preference_centre";
    public const string LandingSource = "unsubscribe_landing";
    public const string OneClickSource = "one_click";

    /// <summary>The shop's configured values, then those the visitor has that the shop no longer lists (never lost by saving).</summary>
    public static IReadOnlyList<string> Offered(IEnumerable<string> configured, IEnumerable<string> current)
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var offered = new List<string>();
        foreach (var value in configured.Concat(current))
            if (!string.IsNullOrWhiteSpace(value) && seen.Add(value.Trim())) offered.Add(value.Trim());
        return offered;
    }

    /// <summary>
    /// The values shown ticked: the visitor's own list, or all offered when it is empty (no choice means everything, as the
    /// message policy reads it).
    /// </summary>
    public static IReadOnlyCollection<string> Ticked(IReadOnlyList<string> chosen, IReadOnlyList<string> offered) =>
        chosen.Count == 0 ? offered : chosen;

    /// <summary>The channel a link is about: its own when it names one we offer, else email.</summary>
    public static string ChannelOf(string? linkChannel) =>
        linkChannel is not null && Channels.Contains(linkChannel.ToLowerInvariant()) ? linkChannel.ToLowerInvariant() : "email";

    public static bool HasConsent(ProfileView profile, string channel) =>
        profile.Consents.Contains(VisitorProfile.ConsentKey(channel, Marketing), StringComparer.Ordinal);

    private static bool Withdrew(ProfileView profile, string channel) =>
        profile.WithdrawnConsents.Contains(VisitorProfile.ConsentKey(channel, Marketing), StringComparer.Ordinal);

    public static bool IsPaused(ProfileView profile, DateTimeOffset now) => profile.Preferences.PausedUntil is { } until && until > now;

    /// <summary>
    /// The preference centre's save: one <see cref="PreferencesUpdated"/> with the fields that differ, then the newsletter
    /// and each channel's marketing consent where they differ. Nothing changed: no events.
    /// </summary>
    public static PreferenceOutcome Save(ProfileView profile, PreferenceForm form, IReadOnlyList<string> offeredTopics,
        IReadOnlyList<string> offeredContentTypes, DateTimeOffset now, string idPrefix)
    {
        var preferences = profile.Preferences;
        if (offeredTopics.Count > 0 && form.Topics.Count == 0)
            return PreferenceOutcome.Refused("Choose at least one topic, or unsubscribe from everything.");
        if (offeredContentTypes.Count > 0 && form.ContentTypes.Count == 0)
            return PreferenceOutcome.Refused("Choose at least one kind of content, or unsubscribe from everything.");

        var topics = SameSet(form.Topics, Ticked(preferences.Topics, offeredTopics)) ? null : Distinct(form.Topics);
        var contentTypes = SameSet(form.ContentTypes, Ticked(preferences.ContentTypes, offeredContentTypes)) ? null : Distinct(form.ContentTypes);
        var frequency = form.Frequency is { } f && !string.Equals(f, preferences.Frequency, StringComparison.OrdinalIgnoreCase) ? f : null;
        DateTimeOffset? pausedUntil = null;
        var clearPause = false;
        if (form.Pause == Resume) clearPause = IsPaused(profile, now);
        else if (form.Pause is { } days && int.TryParse(days, out var n) && PauseDays.Contains(n)) pausedUntil = now.AddDays(n);

        var events = new List<VisitorEvent>();
        if (topics is not null || contentTypes is not null || frequency is not null || pausedUntil is not null || clearPause)
            events.Add(new PreferencesUpdated(topics, contentTypes, frequency, pausedUntil, clearPause) { MessageId = idPrefix + ":preferences", EventTime = now, ReceivedTime = now });

        if (form.Newsletter && !profile.NewsletterSubscriber)
            events.Add(new NewsletterSubscribed(PreferenceCentreSource) { MessageId = idPrefix + ":newsletter", EventTime = now, ReceivedTime = now });
        else if (!form.Newsletter && profile.NewsletterSubscriber)
            events.Add(new NewsletterUnsubscribed(null, PreferenceCentreSource) { MessageId = idPrefix + ":newsletter", EventTime = now, ReceivedTime = now });

        foreach (var channel in Channels)
        {
            var wanted = form.ConsentChannels.Contains(channel, StringComparer.OrdinalIgnoreCase);
            if (wanted == HasConsent(profile, channel)) continue;
            events.Add(wanted
                ? new ConsentGiven(channel, Marketing) { MessageId = $"{idPrefix}:consent:{channel}", EventTime = now, ReceivedTime = now, Source = PreferenceCentreSource }
                : new ConsentWithdrawn(channel, Marketing) { MessageId = $"{idPrefix}:consent:{channel}", EventTime = now, ReceivedTime = now, Source = PreferenceCentreSource });
        }
        return new PreferenceOutcome(events);
    }

    /// <summary>
    /// "Unsubscribe from everything" on the preference centre: the newsletter, and the marketing consent of every channel
    /// that has one (a consent never given already blocks marketing).
    /// </summary>
    public static PreferenceOutcome UnsubscribeAll(ProfileView profile, DateTimeOffset now, string idPrefix)
    {
        var events = new List<VisitorEvent>();
        if (profile.NewsletterSubscriber || profile.NewsletterChangedAt is null)
            events.Add(new NewsletterUnsubscribed(null, PreferenceCentreSource) { MessageId = idPrefix + ":newsletter", EventTime = now, ReceivedTime = now });
        foreach (var channel in Channels)
            if (HasConsent(profile, channel))
                events.Add(new ConsentWithdrawn(channel, Marketing) { MessageId = $"{idPrefix}:consent:{channel}", EventTime = now, ReceivedTime = now, Source = PreferenceCentreSource });
        return new PreferenceOutcome(events);
    }

    /// <summary>The landing's "Unsubscribe": always recorded, since it is the visitor's explicit choice (the nonce keeps it once per page).</summary>
    public static PreferenceOutcome Unsubscribe(string channel, DateTimeOffset now, string idPrefix) => new(
    [
        new NewsletterUnsubscribed(null, LandingSource) { MessageId = idPrefix + ":newsletter", EventTime = now, ReceivedTime = now },
        new ConsentWithdrawn(channel, Marketing) { MessageId = $"{idPrefix}:consent:{channel}", EventTime = now, ReceivedTime = now, Source = LandingSource },
    ]);

    /// <summary>
    /// The landing's "Restore my preferences": messages resume (the pause is cleared), and what an unsubscribe took away
    /// comes back: the newsletter if it was unsubscribed, the link's channel's consent if it was withdrawn.
    /// </summary>
    public static PreferenceOutcome Restore(ProfileView profile, string channel, DateTimeOffset now, string idPrefix)
    {
        var events = new List<VisitorEvent>
        {
            // Always recorded, paused or not: it is the visitor's choice to stay, which the "recovered" segment reads.
            new PreferencesUpdated(null, null, null, null, ClearPause: true) { MessageId = idPrefix + ":preferences", EventTime = now, ReceivedTime = now },
        };
        if (!profile.NewsletterSubscriber && profile.NewsletterChangedAt is not null)
            events.Add(new NewsletterSubscribed(LandingSource) { MessageId = idPrefix + ":newsletter", EventTime = now, ReceivedTime = now });
        if (Withdrew(profile, channel))
            events.Add(new ConsentGiven(channel, Marketing) { MessageId = $"{idPrefix}:consent:{channel}", EventTime = now, ReceivedTime = now, Source = LandingSource });
        return new PreferenceOutcome(events);
    }

    /// <summary>
    /// RFC 8058 one-click: the link's channel's marketing consent withdrawn and, for email, the newsletter unsubscribed,
    /// each only if not already so, so a repeated POST adds nothing.
    /// </summary>
    public static PreferenceOutcome OneClick(ProfileView profile, string channel, DateTimeOffset now, string idPrefix)
    {
        var events = new List<VisitorEvent>();
        if (!Withdrew(profile, channel))
            events.Add(new ConsentWithdrawn(channel, Marketing) { MessageId = $"{idPrefix}:consent:{channel}", EventTime = now, ReceivedTime = now, Source = OneClickSource });
        if (channel == "email" && profile.NewsletterSubscriber)
            events.Add(new NewsletterUnsubscribed(null, OneClickSource) { MessageId = idPrefix + ":newsletter", EventTime = now, ReceivedTime = now });
        return new PreferenceOutcome(events);
    }

    private static bool SameSet(IReadOnlyCollection<string> a, IReadOnlyCollection<string> b) =>
        new HashSet<string>(a, StringComparer.OrdinalIgnoreCase).SetEquals(b);

    private static List<string> Distinct(IReadOnlyCollection<string> values) => [.. values.Distinct(StringComparer.OrdinalIgnoreCase)];
}
