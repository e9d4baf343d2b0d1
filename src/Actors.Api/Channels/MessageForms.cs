using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace Actors.Api.Channels;

/// <summary>
/// Reads the small forms of the visitor-facing pages with tight limits (the pages are public: anyone can post to them),
/// and makes the per-page nonces and message-id prefixes that keep a double submit to one change.
/// </summary>
internal static class MessageForms
{
    /// <summary>A preference centre form is a few hundred bytes; this leaves room for long topic lists.</summary>
    public const int FormLimit = 16 * 1024;

    private static readonly FormOptions Limits = new()
    {
        BufferBody = false,
        ValueCountLimit = 200,
        KeyLengthLimit = 64,
        ValueLengthLimit = 1024,
        MultipartBodyLengthLimit = FormLimit,
        MultipartHeadersCountLimit = 4,
        MultipartHeadersLengthLimit = 1024,
        MultipartBoundaryLengthLimit = 128,
    };

    /// <summary>The form, or the 4xx page to answer instead (not a form, too large, not text).</summary>
    public static async Task<(IFormCollection? Form, IResult? Refusal)> ReadAsync(HttpRequest request)
    {
        if (!request.HasFormContentType)
            return (null, MessagePages.Problem(StatusCodes.Status415UnsupportedMediaType, "This address takes a form post (application/x-www-form-urlencoded or multipart/form-data)."));
        if (request.Headers.ContentEncoding.ToString() is { Length: > 0 } encoding && !encoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
            return (null, MessagePages.Problem(StatusCodes.Status415UnsupportedMediaType, "A compressed form is not accepted here."));
        if (request.ContentLength > FormLimit) return (null, TooLarge());
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = FormLimit;

        IFormCollection form;
        try
        {
            request.HttpContext.Features.Set<IFormFeature>(new FormFeature(request, Limits));
            form = await request.ReadFormAsync(request.HttpContext.RequestAborted);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, TooLarge());
        }
        catch (Exception e) when (e is InvalidDataException or BadHttpRequestException or IOException)
        {
            // Over a count or length limit, a broken multipart body, a body that ended early.
            return (null, MessagePages.Problem(StatusCodes.Status400BadRequest, "The form could not be read."));
        }
        if (form.Files.Count > 0) return (null, MessagePages.Problem(StatusCodes.Status400BadRequest, "This form takes no files."));
        foreach (var (key, values) in form)
        {
            if (!IsText(key)) return (null, NotText());
            foreach (var value in values)
                if (value is not null && !IsText(value)) return (null, NotText());
        }
        return (form, null);
    }

    /// <summary>The form's single value of <paramref name="name"/> (null if absent or empty); several values are a tampered form.</summary>
    public static bool TrySingle(IFormCollection form, string name, out string? value)
    {
        value = null;
        if (!form.TryGetValue(name, out StringValues values) || values.Count == 0) return true;
        if (values.Count > 1) return false;
        value = string.IsNullOrEmpty(values[0]) ? null : values[0];
        return true;
    }

    /// <summary>A new nonce for a rendered page: 16 random bytes, base64url.</summary>
    public static string NewNonce() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16));

    /// <summary>A nonce as the pages make them (and nothing a hostile form could grow a message id with).</summary>
    public static bool IsNonce(string? nonce)
    {
        if (nonce is not { Length: >= 16 and <= 64 }) return false;
        foreach (var c in nonce)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_')) return false;
        return true;
    }

    /// <summary>
    /// The start of the message ids of one choice: its kind, the link (hashed: a token is long), and what tells this
    /// choice from the next (the page's nonce, or the profile version for the one-click POST).
    /// </summary>
    public static string IdPrefix(string kind, string token, string discriminator) =>
        string.Concat(kind, ":", Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)))[..24], ":", discriminator);

    /// <summary>Decoded text with no replacement characters (invalid UTF-8) and no control characters (NUL).</summary>
    private static bool IsText(string value)
    {
        foreach (var c in value)
            if (c == '\uFFFD' || char.IsControl(c)) return false;
        return Actors.Domain.Tracking.StoredText.Problem(value) is null;
    }

    private static IResult TooLarge() =>
        MessagePages.Problem(StatusCodes.Status413PayloadTooLarge, $"The form is larger than {FormLimit} bytes.");

    private static IResult NotText() =>
        MessagePages.Problem(StatusCodes.Status400BadRequest, "The form holds characters that are not valid text.");
}
