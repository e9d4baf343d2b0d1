using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using Actors.Channels.Delivery;
using Actors.Domain.Channels;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.Logging;
using MimeKit;

namespace Actors.Channels.Email;

/// <summary>
/// Sends through one SMTP server over a small pool of open connections (MailKit's client is one connection and
/// serves one send at a time). A connection that failed is dropped and a new one is opened on the next send.
/// Outcomes: 2xx Accepted; 4xx, refused or broken connections and timeouts RetryLater; 5xx Rejected.
/// </summary>
public sealed partial class SmtpTransport : IEmailTransport, IDisposable
{
    // A connection idle this long is checked with NOOP before a message goes over it: servers close idle
    // connections, and finding out before the message is sent keeps that from looking like a failed send.
    private static readonly TimeSpan CheckIdleAfter = TimeSpan.FromSeconds(10);

    private readonly EmailSettings _settings;
    private readonly string _host;
    private readonly ILogger<SmtpTransport> _logger;
    private readonly SemaphoreSlim _slots;
    private readonly ConcurrentBag<Pooled> _idle = [];
    private bool _disposed;

    public SmtpTransport(EmailSettings settings, ILogger<SmtpTransport> logger)
    {
        _settings = settings;
        _logger = logger;
        _slots = new SemaphoreSlim(settings.Connections, settings.Connections);
        _host = settings.SmtpHost ?? throw new InvalidOperationException($"{EmailSettings.Section}:Smtp:Host is not set.");
        LogConfigured(_host, settings.SmtpPort, settings.SocketOptions, settings.Connections);
    }

    private sealed class Pooled(SmtpClient client)
    {
        public SmtpClient Client { get; } = client;
        public long LastUsed { get; set; } = Stopwatch.GetTimestamp();
    }

    public async Task<DeliveryResult> SendAsync(MimeMessage email, OutboundMessage message, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _slots.WaitAsync(ct);
        Pooled? pooled = null;
        try
        {
            pooled = await ReadyConnectionAsync(ct);
            var response = await pooled.Client.SendAsync(email, ct);
            return DeliveryResult.Accepted(Trim(response));
        }
        catch (SmtpCommandException e)
        {
            // The server answered: the connection is sound (MailKit resets the transaction), the answer decides.
            var code = (int)e.StatusCode;
            var what = $"{code} {Trim(e.Message)}";
            if (code is >= 400 and < 500) return DeliveryResult.Retry($"smtp_transient: {what}");
            if (e.ErrorCode == SmtpErrorCode.RecipientNotAccepted)
                return DeliveryResult.Bounce(code == 550 ? $"permanent_bounce: mailbox unavailable ({what})" : $"recipient_refused: {what}");
            return DeliveryResult.Rejected($"smtp_refused: {what}");
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Drop(ref pooled); // a send cut off halfway leaves the connection in an unknown state
            throw;
        }
        catch (Exception e) when (IsTransient(e))
        {
            Drop(ref pooled);
            LogTransient(message.MessageKey, e.GetType().Name, Actors.Domain.Privacy.PersonalText.Redact(e.Message));
            return DeliveryResult.Retry($"smtp_unavailable: {e.GetType().Name}: {Trim(e.Message)}");
        }
        finally
        {
            if (pooled is not null)
            {
                if (pooled.Client.IsConnected && !_disposed)
                {
                    pooled.LastUsed = Stopwatch.GetTimestamp();
                    _idle.Add(pooled);
                }
                else pooled.Client.Dispose();
            }
            _slots.Release();
        }
    }

    /// <summary>An idle connection that still answers, or a new one.</summary>
    private async Task<Pooled> ReadyConnectionAsync(CancellationToken ct)
    {
        while (_idle.TryTake(out var pooled))
        {
            if (!pooled.Client.IsConnected)
            {
                pooled.Client.Dispose();
                continue;
            }
            if (Stopwatch.GetElapsedTime(pooled.LastUsed) < CheckIdleAfter) return pooled;
            try
            {
                await pooled.Client.NoOpAsync(ct);
                return pooled;
            }
            catch (Exception e) when (IsTransient(e) || e is SmtpCommandException)
            {
                pooled.Client.Dispose();
            }
        }
        var client = new SmtpClient { Timeout = (int)_settings.Timeout.TotalMilliseconds };
        try
        {
            await client.ConnectAsync(_host, _settings.SmtpPort, _settings.SocketOptions, ct);
            if (_settings.SmtpUser is { } user) await client.AuthenticateAsync(user, _settings.SmtpPassword ?? "", ct);
            LogConnected(_host, _settings.SmtpPort);
            return new Pooled(client);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Failures that say nothing about the message: the server or the way to it is away, slow or misconfigured.</summary>
    private static bool IsTransient(Exception e) => e is IOException or SocketException or TimeoutException or OperationCanceledException
        or SmtpProtocolException or ServiceNotConnectedException or SslHandshakeException or AuthenticationException
        or ServiceNotAuthenticatedException;

    private static void Drop(ref Pooled? pooled)
    {
        pooled?.Client.Dispose();
        pooled = null;
    }

    private static string Trim(string text)
    {
        text = text.ReplaceLineEndings(" ").Trim();
        return text.Length <= 300 ? text : text[..300];
    }

    public void Dispose()
    {
        _disposed = true;
        while (_idle.TryTake(out var pooled))
        {
            try
            {
                if (pooled.Client.IsConnected) pooled.Client.Disconnect(quit: true);
            }
            catch (Exception e) when (IsTransient(e))
            {
                // the server is gone already; nothing to say goodbye to
            }
            pooled.Client.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Email goes to the SMTP server {Host}:{Port} ({Security}, up to {Connections} connections)")]
    private partial void LogConfigured(string host, int port, SecureSocketOptions security, int connections);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Connected to the SMTP server {Host}:{Port}")]
    private partial void LogConnected(string host, int port);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Email {MessageKey} not sent, to be tried again: {Error}: {Detail}")]
    private partial void LogTransient(string messageKey, string error, string detail);
}
