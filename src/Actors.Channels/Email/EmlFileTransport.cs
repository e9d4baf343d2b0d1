using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Actors.Channels.Delivery;
using Actors.Domain.Channels;
using Microsoft.Extensions.Logging;
using MimeKit;

namespace Actors.Channels.Email;

/// <summary>
/// With no SMTP server configured, each email is written to {folder}/{day it was decided}/{name from its key}.eml, so
/// <c>dotnet run</c> shows what would have been sent (any mail client opens the file). Written to a temporary file
/// and renamed into place: a reader never sees half a message, and a resend replaces the same file.
/// </summary>
public sealed partial class EmlFileTransport : IEmailTransport
{
    private const int MaxReadableLength = 80;

    private readonly string _folder;
    private readonly ILogger<EmlFileTransport> _logger;

    public EmlFileTransport(EmailSettings settings, ILogger<EmlFileTransport> logger)
    {
        _folder = settings.Folder;
        _logger = logger;
        LogConfigured(_folder);
    }

    public string PathFor(OutboundMessage message) => Path.Combine(
        _folder, message.DecidedAt.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), FileNameFor(message.MessageKey));

    /// <summary>
    /// The key's safe characters (letters, digits, '-', '_', '.'), shortened, then a hash of the whole key: readable in a
    /// listing, and two keys that differ only in unsafe characters still get two files.
    /// </summary>
    public static string FileNameFor(string messageKey)
    {
        var readable = new StringBuilder(Math.Min(messageKey.Length, MaxReadableLength));
        foreach (var c in messageKey)
        {
            if (readable.Length == MaxReadableLength) break;
            readable.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_');
        }
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(messageKey)).AsSpan(0, 6));
        return $"{readable}-{hash}.eml";
    }

    public async Task<DeliveryResult> SendAsync(MimeMessage email, OutboundMessage message, CancellationToken ct)
    {
        var path = PathFor(message);
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, useAsync: true))
            {
                await email.WriteToAsync(file, ct);
                await file.FlushAsync(ct);
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temporary);
            LogFailed(message.MessageKey, path, Actors.Domain.Privacy.PersonalText.Redact(e.Message));
            return DeliveryResult.Retry($"eml_write_failed: {e.Message}");
        }
        catch (OperationCanceledException)
        {
            TryDelete(temporary);
            throw;
        }
        LogWritten(message.MessageKey, path);
        return DeliveryResult.Accepted(path);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // a leftover .tmp is harmless: nothing reads it
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "No SMTP server configured (Actors:Email:Smtp:Host): emails are written as .eml files under {Folder}")]
    private partial void LogConfigured(string folder);

    [LoggerMessage(Level = LogLevel.Information, Message = "Email {MessageKey} written to {Path}")]
    private partial void LogWritten(string messageKey, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Email {MessageKey} could not be written to {Path}: {Error}")]
    private partial void LogFailed(string messageKey, string path, string error);
}
