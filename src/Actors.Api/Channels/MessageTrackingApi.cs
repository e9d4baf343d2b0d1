using System.Security.Cryptography;
using System.Text;
using Actors.Channels.Links;
using Actors.Domain.Tracking;
using Actors.Grains.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Actors.Api.Channels;

/// <summary>
/// The open pixel and click redirect of sent messages (no API key: the signed token is the permission). Each records
/// an event in the visitor's stream with a message id made from the message key, so the first open (or the first
/// click on a link) counts and later ones are duplicates. What the visitor sees never waits on the record: the pixel
/// is always a GIF, a genuine click always redirects, even when the database is away (the event is then lost).
/// </summary>
public static partial class MessageTrackingApi
{
    // The smallest transparent GIF: 1x1, one transparent colour.
    private static readonly byte[] Pixel = Convert.FromBase64String("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==");

    private const string InvalidLinkPage =
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex\"><title>Link not valid</title></head>" +
        "<body><h1>This link is not valid</h1><p>It may have expired or been changed. Please visit the shop directly.</p></body></html>";

    public static IEndpointRouteBuilder MapMessageTrackingApi(this IEndpointRouteBuilder app)
    {
        app.MapGet(LinkUrls.OpenRoute, Open).WithTags("Channels").ExcludeFromDescription();
        app.MapGet(LinkUrls.ClickRoute, Click).WithTags("Channels").ExcludeFromDescription();
        return app;
    }

    public static string OpenedMessageId(string messageKey) => $"{messageKey}:opened";

    /// <summary>One click event per message and destination: the hash keeps the id short whatever the URL.</summary>
    public static string ClickedMessageId(string messageKey, string url) =>
        $"{messageKey}:clicked:{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(url)).AsSpan(0, 6))}";

    private static async Task Open(string token, HttpContext http, MessageLinks links, VisitorDirectory directory, TimeProvider clock, ILoggerFactory logs)
    {
        var log = logs.CreateLogger(typeof(MessageTrackingApi).FullName!);
        try
        {
            if (await links.ReadAsync(token, LinkPurpose.Open) is { MessageKey: { } key, Channel: { } channel } claims)
            {
                var now = clock.GetUtcNow();
                await Record(directory, claims.ProfileId, new MessageOpened(key, channel) { MessageId = OpenedMessageId(key), EventTime = now, ReceivedTime = now, JourneyId = claims.JourneyId, StepId = claims.StepId });
            }
            else LogRefused(log, "open");
        }
        catch (Exception e)
        {
            LogNotRecorded(log, "open", e.GetType().Name, e.Message);
        }
        NoCache(http.Response);
        http.Response.ContentType = "image/gif";
        http.Response.ContentLength = Pixel.Length;
        await http.Response.Body.WriteAsync(Pixel, http.RequestAborted);
    }

    private static async Task<IResult> Click(string token, HttpContext http, MessageLinks links, VisitorDirectory directory, TimeProvider clock, ILoggerFactory logs)
    {
        var log = logs.CreateLogger(typeof(MessageTrackingApi).FullName!);
        NoCache(http.Response);
        // A token we cannot read names no destination: there is nowhere to send the visitor (and no open redirect).
        if (await links.ReadAsync(token, LinkPurpose.Click) is not { Url: { } url } claims || RedirectTarget(url) is not { } target)
        {
            LogRefused(log, "click");
            return Results.Content(InvalidLinkPage, "text/html; charset=utf-8", Encoding.UTF8, StatusCodes.Status404NotFound);
        }
        if (claims is { MessageKey: { } key, Channel: { } channel })
        {
            try
            {
                var now = clock.GetUtcNow();
                await Record(directory, claims.ProfileId, new MessageClicked(key, channel, url) { MessageId = ClickedMessageId(key, url), EventTime = now, ReceivedTime = now, JourneyId = claims.JourneyId, StepId = claims.StepId });
            }
            catch (Exception e)
            {
                LogNotRecorded(log, "click", e.GetType().Name, e.Message);
            }
        }
        http.Response.Headers["Referrer-Policy"] = "no-referrer";
        return Results.Redirect(target, permanent: false);
    }

    /// <summary>Into the profile the link was made for; a profile merged since forwards the call to the one it went into.</summary>
    private static Task Record(VisitorDirectory directory, string profileId, VisitorEvent e) => directory.TrackAsync(profileId, [e]);

    /// <summary>
    /// An http(s) address as a Location header can carry it (ASCII only: the host in punycode, the rest percent-encoded),
    /// or null for anything else (javascript:, data:, relative).
    /// </summary>
    public static string? RedirectTarget(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp)) return null;
        try
        {
            var ascii = new UriBuilder(uri) { Host = uri.IdnHost }.Uri.AbsoluteUri;
            return ascii.All(char.IsAscii) && !ascii.Any(char.IsControl) ? ascii : null;
        }
        catch (UriFormatException)
        {
            return null;
        }
    }

    private static void NoCache(HttpResponse response)
    {
        // Every open and click must reach us; a cached answer would hide it.
        response.Headers.CacheControl = "no-store, no-cache, must-revalidate, max-age=0";
        response.Headers.Pragma = "no-cache";
        response.Headers.Expires = "0";
        response.Headers["X-Robots-Tag"] = "noindex";
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "A message {Kind} link with an invalid, expired or altered token: nothing recorded")]
    private static partial void LogRefused(ILogger logger, string kind);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A message {Kind} was not recorded: {Error}: {Detail}")]
    private static partial void LogNotRecorded(ILogger logger, string kind, string error, string detail);
}
