using System.Text.RegularExpressions;

namespace Actors.Domain.Privacy;

/// <summary>
/// Text from outside (a provider's error, a server's answer) on its way into a log line: it may quote the recipient
/// ("550 5.1.1 &lt;ana@example.com&gt;: Recipient address rejected"), so addresses and international phone numbers are
/// replaced before it is logged. The original stays where the person's data is kept (the outbox, their stream), which
/// an erasure masks.
/// </summary>
public static partial class PersonalText
{
    public const string Email = "[email]";
    public const string Phone = "[phone]";
    public const string Withheld = "[text withheld]";

    public static string Redact(string? text)
    {
        if (string.IsNullOrEmpty(text)) return text ?? "";
        try
        {
            if (text.Contains('@')) text = EmailPattern().Replace(text, Email);
            if (text.Contains('+')) text = PhonePattern().Replace(text, Phone);
            return text;
        }
        catch (RegexMatchTimeoutException)
        {
            return Withheld; // a log line must never throw, nor say what could not be checked
        }
    }

    // Local part and domain as mail servers quote them; bounded so a hostile text cannot make it slow.
    [GeneratedRegex(@"[^\s<>()\[\]""',;:@]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63}){1,8}", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 200)]
    private static partial Regex EmailPattern();

    // E.164 with the separators people type: "+34 600 000 000", "+1 (415) 555-0100".
    [GeneratedRegex(@"\+\d[\d\s().-]{6,20}\d", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 200)]
    private static partial Regex PhonePattern();
}
