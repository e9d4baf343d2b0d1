using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using Actors.Domain.Channels;
using Actors.Domain.Profiles;
using Microsoft.AspNetCore.Http;

namespace Actors.Api.Channels;

/// <summary>
/// The HTML of the visitor-facing pages: plain forms and a little CSS, no script, so they work in any mail client's
/// browser and with JavaScript off. Every piece of text from outside (topics, the link, dates) is HTML-encoded.
/// </summary>
internal static class MessagePages
{
    private static readonly HtmlEncoder Html = HtmlEncoder.Default;

    /// <summary>What the preference centre shows, with the values a form may send back.</summary>
    public sealed record PreferencesModel(
        string Action, string Nonce, ProfileView Profile, IReadOnlyList<string> Topics, IReadOnlyList<string> ContentTypes,
        IReadOnlyList<string> Frequencies, DateTimeOffset Now, string? Notice, string? Error);

    public static IResult Preferences(PreferencesModel m, int status = StatusCodes.Status200OK)
    {
        var p = m.Profile.Preferences;
        var b = new StringBuilder();
        Start(b, "Your preferences");
        b.Append("<h1>Your preferences</h1>");
        Notices(b, m.Notice, m.Error);
        b.Append("<form method=\"post\" action=\"").Append(Html.Encode(m.Action)).Append("\">");
        b.Append("<input type=\"hidden\" name=\"nonce\" value=\"").Append(Html.Encode(m.Nonce)).Append("\">");

        if (m.Topics.Count > 0)
        {
            Fieldset(b, "Topics", "What would you like to hear about?");
            var ticked = PreferenceChoices.Ticked(p.Topics, m.Topics);
            for (var i = 0; i < m.Topics.Count; i++)
                Choice(b, "checkbox", "topic", m.Topics[i], $"topic-{i}", Label(m.Topics[i]), Has(ticked, m.Topics[i]));
            b.Append("</fieldset>");
        }
        if (m.ContentTypes.Count > 0)
        {
            Fieldset(b, "Kinds of content", "Which kinds of messages do you want?");
            var ticked = PreferenceChoices.Ticked(p.ContentTypes, m.ContentTypes);
            for (var i = 0; i < m.ContentTypes.Count; i++)
                Choice(b, "checkbox", "content_type", m.ContentTypes[i], $"content-{i}", Label(m.ContentTypes[i]), Has(ticked, m.ContentTypes[i]));
            b.Append("</fieldset>");
        }

        Fieldset(b, "How often", "At most one marketing message in each period.");
        foreach (var f in m.Frequencies)
            Choice(b, "radio", "frequency", f, $"frequency-{f}", FrequencyLabel(f), string.Equals(f, p.Frequency, StringComparison.OrdinalIgnoreCase));
        b.Append("</fieldset>");

        var paused = PreferenceChoices.IsPaused(m.Profile, m.Now);
        Fieldset(b, "Take a break", paused ? $"Messages are paused until {Day(p.PausedUntil!.Value)}." : "Pause all marketing messages for a while.");
        Choice(b, "radio", "pause", "", "pause-none", paused ? "Keep the pause as it is" : "Don't pause", true);
        foreach (var days in PreferenceChoices.PauseDays)
        {
            var value = days.ToString(CultureInfo.InvariantCulture);
            Choice(b, "radio", "pause", value, $"pause-{value}", $"Pause for {value} days", false);
        }
        if (paused) Choice(b, "radio", "pause", PreferenceChoices.Resume, "pause-resume", "Resume messages now", false);
        b.Append("</fieldset>");

        Fieldset(b, "Newsletter", null);
        Choice(b, "checkbox", "newsletter", "yes", "newsletter", "Send me the newsletter", m.Profile.NewsletterSubscriber);
        b.Append("</fieldset>");

        Fieldset(b, "How we may reach you", "Marketing messages by these channels.");
        foreach (var channel in PreferenceChoices.Channels)
            Choice(b, "checkbox", "consent", channel, $"consent-{channel}", ChannelLabel(channel), PreferenceChoices.HasConsent(m.Profile, channel));
        b.Append("</fieldset>");

        b.Append("<p class=\"actions\"><button type=\"submit\" id=\"save\" name=\"action\" value=\"save\">Save my preferences</button>");
        b.Append("<button type=\"submit\" id=\"unsubscribe-all\" name=\"action\" value=\"unsubscribe_all\" class=\"secondary\">Unsubscribe from everything</button></p>");
        b.Append("</form>");
        return End(b, status);
    }

    public static IResult Landing(string action, string nonce, string preferencesUrl, string channel, string? notice, int status = StatusCodes.Status200OK)
    {
        var b = new StringBuilder();
        Start(b, "Unsubscribe");
        b.Append("<h1>Unsubscribe</h1>");
        Notices(b, notice, null);
        b.Append("<p>Do you want to stop receiving our marketing ").Append(Html.Encode(ChannelNoun(channel)))
            .Append(", or keep receiving them as you chose before?</p>");
        b.Append("<form method=\"post\" action=\"").Append(Html.Encode(action)).Append("\">");
        b.Append("<input type=\"hidden\" name=\"nonce\" value=\"").Append(Html.Encode(nonce)).Append("\">");
        b.Append("<p class=\"actions\"><button type=\"submit\" id=\"unsubscribe\" name=\"choice\" value=\"unsubscribe\">Unsubscribe</button>");
        b.Append("<button type=\"submit\" id=\"restore\" name=\"choice\" value=\"restore\" class=\"secondary\">Restore my preferences</button></p>");
        b.Append("</form>");
        b.Append("<p><a id=\"preferences\" href=\"").Append(Html.Encode(preferencesUrl)).Append("\">Choose what you receive instead</a></p>");
        return End(b, status);
    }

    /// <summary>A bad, expired or tampered link: a friendly page, and nothing that tells why.</summary>
    public static IResult LinkNotFound() => Problem(StatusCodes.Status404NotFound,
        "This link has expired or is not valid. Use the link in a more recent message from us, or contact us.", "Link not found");

    public static IResult Problem(int status, string message, string title = "Something is wrong with this request")
    {
        var b = new StringBuilder();
        Start(b, title);
        b.Append("<h1>").Append(Html.Encode(title)).Append("</h1><p id=\"problem\">").Append(Html.Encode(message)).Append("</p>");
        return End(b, status);
    }

    private static void Start(StringBuilder b, string title)
    {
        b.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"robots\" content=\"noindex\">")
            .Append("<title>").Append(Html.Encode(title)).Append("</title><style>")
            .Append("body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#222}")
            .Append("fieldset{border:1px solid #ccc;border-radius:.5rem;margin:1rem 0;padding:.5rem 1rem}legend{font-weight:600}")
            .Append("label{display:block;padding:.15rem 0}.hint{color:#555;margin:.25rem 0}")
            .Append("button{font:inherit;padding:.5rem 1rem;margin:.25rem .5rem .25rem 0;border-radius:.4rem;border:1px solid #225;background:#225;color:#fff;cursor:pointer}")
            .Append("button.secondary{background:#fff;color:#225}")
            .Append(".notice{background:#e8f5e9;border:1px solid #7cb342;padding:.5rem 1rem;border-radius:.4rem}")
            .Append(".error{background:#fdecea;border:1px solid #e57373;padding:.5rem 1rem;border-radius:.4rem}")
            .Append("</style></head><body><main>");
    }

    private static IResult End(StringBuilder b, int status)
    {
        b.Append("</main></body></html>");
        return new HtmlResult(b.ToString(), status);
    }

    private static void Notices(StringBuilder b, string? notice, string? error)
    {
        if (notice is not null) b.Append("<p class=\"notice\" id=\"notice\" role=\"status\">").Append(Html.Encode(notice)).Append("</p>");
        if (error is not null) b.Append("<p class=\"error\" id=\"error\" role=\"alert\">").Append(Html.Encode(error)).Append("</p>");
    }

    private static void Fieldset(StringBuilder b, string legend, string? hint)
    {
        b.Append("<fieldset><legend>").Append(Html.Encode(legend)).Append("</legend>");
        if (hint is not null) b.Append("<p class=\"hint\">").Append(Html.Encode(hint)).Append("</p>");
    }

    private static void Choice(StringBuilder b, string type, string name, string value, string id, string label, bool isChecked)
    {
        b.Append("<label for=\"").Append(Html.Encode(id)).Append("\"><input type=\"").Append(type).Append("\" name=\"").Append(name)
            .Append("\" id=\"").Append(Html.Encode(id)).Append("\" value=\"").Append(Html.Encode(value)).Append('"');
        if (isChecked) b.Append(" checked");
        b.Append("> ").Append(Html.Encode(label)).Append("</label>");
    }

    private static bool Has(IReadOnlyCollection<string> values, string value) => values.Contains(value, StringComparer.OrdinalIgnoreCase);

    /// <summary>"new_arrivals" → "New arrivals".</summary>
    private static string Label(string value)
    {
        var text = value.Replace('_', ' ').Replace('-', ' ');
        return text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];
    }

    private static string FrequencyLabel(string frequency) => frequency.ToLowerInvariant() switch
    {
        "daily" => "At most once a day",
        "weekly" => "At most once a week",
        "every_two_weeks" or "biweekly" => "At most once every two weeks",
        "monthly" => "At most once a month",
        _ => Label(frequency),
    };

    private static string ChannelLabel(string channel) => channel switch
    {
        "email" => "Email",
        "sms" => "Text messages (SMS)",
        "push" => "Browser notifications",
        _ => Label(channel),
    };

    private static string ChannelNoun(string channel) => channel switch
    {
        "sms" => "text messages",
        "push" => "browser notifications",
        _ => "emails",
    };

    private static string Day(DateTimeOffset at) => at.UtcDateTime.ToString("d MMMM yyyy", CultureInfo.InvariantCulture);

    /// <summary>An HTML answer that is never cached, framed, indexed or sent on as a referrer (the link is the permission).</summary>
    private sealed class HtmlResult(string html, int status) : IResult
    {
        public Task ExecuteAsync(HttpContext http)
        {
            var response = http.Response;
            response.StatusCode = status;
            response.ContentType = "text/html; charset=utf-8";
            var headers = response.Headers;
            headers.CacheControl = "no-store";
            headers["Referrer-Policy"] = "no-referrer";
            headers["X-Content-Type-Options"] = "nosniff";
            headers["X-Frame-Options"] = "DENY";
            headers["X-Robots-Tag"] = "noindex";
            headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
            return response.WriteAsync(html, Encoding.UTF8, http.RequestAborted);
        }
    }
}
