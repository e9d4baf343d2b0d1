using Actors.Channels.Links;
using Actors.Domain.Channels;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;
using Actors.Grains.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Actors.Api.Channels;

/// <summary>
/// The topics and content types the preference centre offers (Actors:Messages:Topics, Actors:Messages:ContentTypes);
/// a visitor also sees those they already have.
/// </summary>
public sealed record PreferenceCentreSettings(IReadOnlyList<string> Topics, IReadOnlyList<string> ContentTypes)
{
    public static PreferenceCentreSettings From(IConfiguration configuration) => new(
        configuration.GetSection("Actors:Messages:Topics").Get<string[]>() ?? [],
        configuration.GetSection("Actors:Messages:ContentTypes").Get<string[]>() ?? []);
}

/// <summary>
/// The visitor-facing preference centre (/m/p/{token}), unsubscribe landing and RFC 8058 one-click unsubscribe
/// (/m/u/{token}). No API key: the signed, expiring link is the permission, and it names one profile. Every choice is
/// events in that visitor's stream, sent through the visitor's grain (which forwards when the profile was merged).
/// </summary>
public static partial class PreferenceCentreApi
{
    private const string LogCategory = "Actors.Api.Channels.PreferenceCentre";

    public static IEndpointRouteBuilder MapPreferenceCentre(this IEndpointRouteBuilder app)
    {
        var pages = app.MapGroup("/m").WithTags("Preference centre").ExcludeFromDescription().DisableAntiforgery();
        pages.MapGet("/p/{token}", PreferencesPage);
        pages.MapPost("/p/{token}", SavePreferences);
        pages.MapGet("/u/{token}", LandingPage);
        pages.MapPost("/u/{token}", Unsubscribe);
        return app;
    }

    private static async Task<IResult> PreferencesPage(string token, string? saved, MessageLinks links, VisitorDirectory directory,
        PreferenceCentreSettings settings, TimeProvider clock)
    {
        if (await PreferencesClaims(links, token) is not { } claims) return MessagePages.LinkNotFound();
        if (await ProfileOf(directory, claims.ProfileId) is not { } profile) return MessagePages.LinkNotFound();
        var notice = saved switch
        {
            "1" => "Your preferences are saved.",
            "unsubscribed" => "You are unsubscribed from all our marketing messages. You can change this here at any time.",
            _ => null,
        };
        return MessagePages.Preferences(Model(token, profile, settings, clock.GetUtcNow(), notice, error: null));
    }

    private static async Task<IResult> SavePreferences(string token, HttpRequest request, MessageLinks links, VisitorDirectory directory,
        PreferenceCentreSettings settings, TimeProvider clock, ILoggerFactory loggers)
    {
        if (await PreferencesClaims(links, token) is not { } claims) return MessagePages.LinkNotFound();
        if (await ProfileOf(directory, claims.ProfileId) is not { } profile) return MessagePages.LinkNotFound();
        var (form, refusal) = await MessageForms.ReadAsync(request);
        if (refusal is not null) return refusal;
        if (!MessageForms.TrySingle(form!, "nonce", out var nonce) || !MessageForms.IsNonce(nonce)
            || !MessageForms.TrySingle(form!, "action", out var action))
            return Tampered();

        var now = clock.GetUtcNow();
        var prefix = MessageForms.IdPrefix("pc", token, nonce!);
        PreferenceOutcome outcome;
        switch (action)
        {
            case "unsubscribe_all":
                outcome = PreferenceChoices.UnsubscribeAll(profile, now, prefix);
                break;
            case null or "save":
                var model = Model(token, profile, settings, now, notice: null, error: null);
                if (ReadChoices(form!, model) is not { } choices) return Tampered();
                outcome = PreferenceChoices.Save(profile, choices, model.Topics, model.ContentTypes, now, prefix);
                if (outcome.Error is not null)
                    return MessagePages.Preferences(model with { Error = outcome.Error }, StatusCodes.Status400BadRequest);
                break;
            default:
                return Tampered();
        }

        await RecordAsync(directory, profile, outcome, action ?? "save", loggers);
        return new SeeOther($"/m/p/{Uri.EscapeDataString(token)}?saved={(action == "unsubscribe_all" ? "unsubscribed" : "1")}");
    }

    private static async Task<IResult> LandingPage(string token, string? done, MessageLinks links, VisitorDirectory directory)
    {
        if (await links.ReadAsync(token, LinkPurpose.Unsubscribe) is not { } claims) return MessagePages.LinkNotFound();
        if (await ProfileOf(directory, claims.ProfileId) is null) return MessagePages.LinkNotFound();
        var notice = done switch
        {
            "unsubscribed" => "You are unsubscribed. We will not send you marketing messages here any more.",
            "restored" => "Your preferences are restored: you will keep receiving our messages as you chose.",
            _ => null,
        };
        return Landing(token, claims, notice);
    }

    /// <summary>
    /// The landing's two choices (a form with "choice"), or the RFC 8058 one-click POST (body "List-Unsubscribe=One-Click"),
    /// which mailbox providers send without showing any page: it answers 200 with a short text.
    /// </summary>
    private static async Task<IResult> Unsubscribe(string token, HttpRequest request, MessageLinks links, VisitorDirectory directory,
        TimeProvider clock, ILoggerFactory loggers)
    {
        if (await links.ReadAsync(token, LinkPurpose.Unsubscribe) is not { } claims) return MessagePages.LinkNotFound();
        if (await ProfileOf(directory, claims.ProfileId) is not { } profile) return MessagePages.LinkNotFound();
        var (form, refusal) = await MessageForms.ReadAsync(request);
        if (refusal is not null) return refusal;
        if (!MessageForms.TrySingle(form!, "List-Unsubscribe", out var oneClick) || !MessageForms.TrySingle(form!, "choice", out var choice)
            || !MessageForms.TrySingle(form!, "nonce", out var nonce))
            return Tampered();

        var channel = PreferenceChoices.ChannelOf(claims.Channel);
        var now = clock.GetUtcNow();
        if (oneClick is not null)
        {
            if (oneClick != "One-Click") return Tampered();
            // The profile version tells this unsubscribe from one after a restore; two POSTs racing share it, and so their ids.
            var prefix = MessageForms.IdPrefix("oc", token, profile.Version.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await RecordAsync(directory, profile, PreferenceChoices.OneClick(profile, channel, now, prefix), "one_click", loggers);
            return Results.Text("You are unsubscribed.", "text/plain; charset=utf-8");
        }

        if (!MessageForms.IsNonce(nonce)) return Tampered();
        var landingPrefix = MessageForms.IdPrefix("mu", token, nonce!);
        var outcome = choice switch
        {
            "unsubscribe" => PreferenceChoices.Unsubscribe(channel, now, landingPrefix),
            "restore" => PreferenceChoices.Restore(profile, channel, now, landingPrefix),
            _ => null,
        };
        if (outcome is null) return Tampered();
        await RecordAsync(directory, profile, outcome, choice!, loggers);
        return new SeeOther($"/m/u/{Uri.EscapeDataString(token)}?done={(choice == "unsubscribe" ? "unsubscribed" : "restored")}");
    }

    /// <summary>The preference centre opens from its own link and from an unsubscribe link (the landing links to it).</summary>
    private static async Task<LinkClaims?> PreferencesClaims(MessageLinks links, string token) =>
        await links.ReadAsync(token, LinkPurpose.Preferences) ?? await links.ReadAsync(token, LinkPurpose.Unsubscribe);

    /// <summary>The profile the link names, where it lives now (a merged profile's grain forwards); null for one with no events.</summary>
    private static async Task<ProfileView?> ProfileOf(VisitorDirectory directory, string profileId)
    {
        var view = (await directory.Visitor(profileId).GetProfile()).Value;
        return view.Version == 0 ? null : view;
    }

    private static MessagePages.PreferencesModel Model(string token, ProfileView profile, PreferenceCentreSettings settings, DateTimeOffset now,
        string? notice, string? error)
    {
        var preferences = profile.Preferences;
        var frequencies = PreferenceChoices.Frequencies.ToList();
        if (preferences.Frequency is { Length: > 0 } current && !frequencies.Contains(current, StringComparer.OrdinalIgnoreCase)) frequencies.Insert(0, current);
        return new MessagePages.PreferencesModel(
            $"/m/p/{Uri.EscapeDataString(token)}", MessageForms.NewNonce(), profile,
            PreferenceChoices.Offered(settings.Topics, preferences.Topics),
            PreferenceChoices.Offered(settings.ContentTypes, preferences.ContentTypes),
            frequencies, now, notice, error);
    }

    /// <summary>The submitted choices, each one of those the page offered (matched to its spelling); null for anything else.</summary>
    private static PreferenceForm? ReadChoices(IFormCollection form, MessagePages.PreferencesModel model)
    {
        if (Pick(form, "topic", model.Topics) is not { } topics || Pick(form, "content_type", model.ContentTypes) is not { } contentTypes
            || Pick(form, "consent", PreferenceChoices.Channels) is not { } consents)
            return null;
        if (!MessageForms.TrySingle(form, "frequency", out var frequency) || !MessageForms.TrySingle(form, "pause", out var pause)
            || !MessageForms.TrySingle(form, "newsletter", out var newsletter))
            return null;
        string? canonical = null;
        if (frequency is not null && (canonical = model.Frequencies.FirstOrDefault(f => string.Equals(f, frequency, StringComparison.OrdinalIgnoreCase))) is null)
            return null;
        if (pause is not null && pause != PreferenceChoices.Resume && !PreferenceChoices.PauseDays.Any(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture) == pause))
            return null;
        if (newsletter is not null and not "yes") return null;
        return new PreferenceForm(topics, contentTypes, canonical, pause, newsletter is not null, consents);

        static List<string>? Pick(IFormCollection form, string name, IReadOnlyList<string> offered)
        {
            var picked = new List<string>();
            foreach (var value in form[name])
            {
                if (offered.FirstOrDefault(o => string.Equals(o, value, StringComparison.OrdinalIgnoreCase)) is not { } match) return null;
                if (!picked.Contains(match, StringComparer.OrdinalIgnoreCase)) picked.Add(match);
            }
            return picked;
        }
    }

    private static async Task RecordAsync(VisitorDirectory directory, ProfileView profile, PreferenceOutcome outcome, string choice, ILoggerFactory loggers)
    {
        if (outcome.Events.Count > 0) await directory.TrackAsync(profile.ProfileId, outcome.Events);
        LogChoice(loggers.CreateLogger(LogCategory), choice, outcome.Events.Count);
    }

    private static IResult Landing(string token, LinkClaims claims, string? notice) => MessagePages.Landing(
        $"/m/u/{Uri.EscapeDataString(token)}", MessageForms.NewNonce(), $"/m/p/{Uri.EscapeDataString(token)}",
        PreferenceChoices.ChannelOf(claims.Channel), notice);

    private static IResult Tampered() => MessagePages.Problem(StatusCodes.Status400BadRequest,
        "This form was not sent by our page, or was changed on the way. Open the link from your message again.");

    /// <summary>303: after a form post, the browser fetches the page with GET, so a reload does not post again.</summary>
    private sealed class SeeOther(string location) : IResult
    {
        public Task ExecuteAsync(HttpContext http)
        {
            http.Response.StatusCode = StatusCodes.Status303SeeOther;
            http.Response.Headers.Location = location;
            http.Response.Headers.CacheControl = "no-store";
            return Task.CompletedTask;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "A visitor's {Choice} through a message link recorded {Events} events")]
    private static partial void LogChoice(ILogger logger, string choice, int events);
}
