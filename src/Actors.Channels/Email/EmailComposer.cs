using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Actors.Channels.Delivery;
using Actors.Channels.Links;
using Actors.Domain.Channels;
using MimeKit;
using MimeKit.Utils;

namespace Actors.Channels.Email;

/// <summary>
/// Builds the MIME message of one email: text and HTML parts, a Message-ID derived from the message key (a resend
/// carries the same one, so a mailbox provider can drop the duplicate), RFC 8058 one-click unsubscribe on marketing
/// messages, an open pixel and signed click links in the HTML.
/// </summary>
public sealed partial class EmailComposer(LinkUrls links, EmailSettings settings)
{
    public const string Channel = "email";
    public const string MessageKeyHeader = "X-Actors-Message-Key";
    public const int MaxAddressLength = 320;

    // Never added to a message itself, only copied: MimeKit's address list subscribes to each address's Changed event,
    // so one shared address in every From would hold every email ever composed (about 10 KB each, for good).
    private readonly MailboxAddress _from = MailboxAddress.TryParse(settings.From, out var from) && IsUsable(from)
        ? from
        : throw new InvalidOperationException($"{EmailSettings.Section}:From is '{settings.From}', which is not an email address.");

    /// <summary>The recipient's address as a mailbox, or null when there is none or it is not a single usable address.</summary>
    public static MailboxAddress? Recipient(string? email)
    {
        if (string.IsNullOrWhiteSpace(email) || email.Length > MaxAddressLength) return null;
        if (email.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0) return null;
        if (!MailboxAddress.TryParse(email.Trim(), out var parsed) || !IsUsable(parsed)) return null;
        return new MailboxAddress("", parsed.Address); // the address only: a display name from a profile is not ours to send
    }

    private static bool IsUsable(MailboxAddress mailbox)
    {
        var address = mailbox.Address;
        var at = address.LastIndexOf('@');
        return at > 0 && at < address.Length - 1 && !address.Any(char.IsWhiteSpace) && mailbox.Route.Count == 0;
    }

    /// <summary>"&lt;hash&gt;@&lt;sender's domain&gt;": the same key always gives the same Message-ID (without angle brackets).</summary>
    public string MessageIdFor(string messageKey)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(messageKey)).AsSpan(0, 16));
        return $"{hash}.actors@{_from.Domain}";
    }

    /// <summary>Marketing mail carries one-click unsubscribe; a transactional message (a receipt, a password reset) does not.</summary>
    public static bool CarriesUnsubscribe(OutboundMessage message) =>
        !string.Equals(message.Kind, "transactional", StringComparison.OrdinalIgnoreCase);

    public async Task<MimeMessage> ComposeAsync(OutboundMessage message, RenderedMessage rendered, MailboxAddress to)
    {
        // The headers go in with the message: MimeMessage's own constructor would first make a Date, a Subject and a
        // Message-ID of its own, only for them to be replaced (a fifth of what composing an email allocated).
        var headers = new List<Header>(7)
        {
            // The decision's time, not the send's: a resend is byte for byte the same message.
            PlainHeader(HeaderId.Date, DateUtils.FormatDate(message.DecidedAt)),
            PlainHeader(HeaderId.Subject, rendered.Subject ?? ""),
            // An id like the Message-ID: nowhere to fold it, so a long one (a visitor id and a journey's) stays on its line.
            PlainHeader(MessageKeyHeader, message.MessageKey, structured: true),
        };
        var messageId = MessageIdFor(message.MessageKey);
        var plainId = IsPlain("Message-Id", messageId, structured: true);
        if (plainId) headers.Add(new RawHeader(HeaderId.MessageId, HeaderId.MessageId.ToHeaderName(), RawValue("<" + messageId + ">")));
        if (CarriesUnsubscribe(message))
        {
            // The template's own unsubscribe link when it made one: the same claims, signed once.
            var unsubscribe = rendered.UnsubscribeUrl ?? await links.UnsubscribeAsync(message.ProfileId, message.MessageKey, Channel);
            headers.Add(PlainHeader(HeaderId.ListUnsubscribe, $"<{unsubscribe}>", structured: true));
            headers.Add(new RawHeader(HeaderId.ListUnsubscribePost, HeaderId.ListUnsubscribePost.ToHeaderName(), OneClickValue));
        }

        var body = new BodyBuilder { TextBody = rendered.Text };
        if (rendered.Html is { } html) body.HtmlBody = await TrackAsync(html, message);
        var mime = new MimeMessage(headers, body.ToMessageBody());
        mime.From.Add(new MailboxAddress(_from.Name, _from.Address));
        mime.To.Add(to);
        if (!plainId) mime.MessageId = messageId; // MimeKit encodes a sender's domain that is not ASCII
        return mime;
    }

    /// <summary>
    /// A header whose value is written as it is when it needs no encoding and no folding (printable ASCII on one line of
    /// at most 78 characters, or 998 for a <paramref name="structured"/> value, a URL or an id, that has nowhere to fold
    /// anyway); any other value is encoded and folded by MimeKit.
    /// </summary>
    private static Header PlainHeader(HeaderId id, string value, bool structured = false) =>
        IsPlain(id.ToHeaderName(), value, structured) ? new RawHeader(id, id.ToHeaderName(), RawValue(value)) : new Header(id, value);

    private static Header PlainHeader(string field, string value, bool structured = false) =>
        IsPlain(field, value, structured) ? new RawHeader(HeaderId.Unknown, field, RawValue(value)) : new Header(field, value);

    private static bool IsPlain(string field, string value, bool structured)
    {
        if (field.Length + 2 + value.Length > (structured ? 998 : 78)) return false;
        foreach (var c in value)
            if (c is < ' ' or > '~') return false;
        // Leading or doubled spaces would be read back differently; a value that looks encoded must be encoded.
        return !value.StartsWith(' ') && !value.EndsWith(' ') && !value.Contains("  ", StringComparison.Ordinal) && !value.Contains("=?", StringComparison.Ordinal);
    }

    private static byte[] RawValue(string value)
    {
        var raw = new byte[value.Length + 3];
        raw[0] = (byte)' ';
        System.Text.Encoding.ASCII.GetBytes(value, raw.AsSpan(1));
        raw[^2] = (byte)'\r';
        raw[^1] = (byte)'\n';
        return raw;
    }

    private static readonly byte[] OneClickValue = RawValue("List-Unsubscribe=One-Click");

    /// <summary>A header made from its bytes as they are sent (MimeKit's raw constructor, as its parser and clones use).</summary>
    private sealed class RawHeader(HeaderId id, string field, byte[] value)
        : Header(ParserOptions.Default, id, field, System.Text.Encoding.ASCII.GetBytes(field), value);

    /// <summary>The HTML with its links made trackable and the open pixel added.</summary>
    public async Task<string> TrackAsync(string html, OutboundMessage message)
    {
        var rewritten = await RewriteLinksAsync(html, message);
        var open = await links.OpenAsync(message.ProfileId, message.MessageKey, Channel, message.JourneyId, message.StepId);
        var pixel = $"<img src=\"{WebUtility.HtmlEncode(open)}\" width=\"1\" height=\"1\" alt=\"\" style=\"display:block;border:0;width:1px;height:1px\" />";
        var end = rewritten.LastIndexOf("</body>", StringComparison.OrdinalIgnoreCase);
        return end < 0 ? rewritten + pixel : rewritten.Insert(end, pixel);
    }

    /// <summary>
    /// Every absolute http(s) href of an &lt;a&gt; tag becomes a signed click link to it. Left alone: links to our own
    /// pages (unsubscribe, preferences), other schemes (mailto:, tel:), relative links, and a destination so long that
    /// its token would be refused (it still works, untracked).
    /// </summary>
    private async Task<string> RewriteLinksAsync(string html, OutboundMessage message)
    {
        var replacements = new List<(int Index, int Length, string Value)>();
        var signed = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (Match tag in AnchorTag().Matches(html))
        {
            var href = Href().Match(tag.Value);
            if (!href.Success) continue;
            var value = href.Groups["dq"].Success ? href.Groups["dq"] : href.Groups["sq"];
            var url = WebUtility.HtmlDecode(value.Value).Trim();
            if (!signed.TryGetValue(url, out var click))
            {
                click = IsTracked(url) ? await links.ClickAsync(message.ProfileId, message.MessageKey, Channel, url, message.JourneyId, message.StepId) : null;
                if (click is not null && click.Length - click.LastIndexOf('/') - 1 > MessageLinks.MaxTokenLength) click = null;
                signed[url] = click;
            }
            if (click is not null) replacements.Add((tag.Index + value.Index, value.Length, WebUtility.HtmlEncode(click)));
        }
        if (replacements.Count == 0) return html;
        var result = new StringBuilder(html.Length + replacements.Sum(r => r.Value.Length));
        var at = 0;
        foreach (var (index, length, replacement) in replacements)
        {
            result.Append(html, at, index - at).Append(replacement);
            at = index + length;
        }
        return result.Append(html, at, html.Length - at).ToString();
    }

    private bool IsTracked(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)) return false;
        var ours = links.BaseUrl;
        return !(url.Equals(ours, StringComparison.OrdinalIgnoreCase) || url.StartsWith(ours + "/", StringComparison.OrdinalIgnoreCase));
    }

    // An <a> start tag (not <abbr>, <area>); attribute values containing '>' are not expected in templates.
    [GeneratedRegex(@"<a\b[^>]*>", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex AnchorTag();

    [GeneratedRegex(@"(?<=\s)href\s*=\s*(?:""(?<dq>[^""]*)""|'(?<sq>[^']*)')", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex Href();
}
