using Actors.Channels.Delivery;
using Actors.Domain.Channels;
using Microsoft.Extensions.Logging;

namespace Actors.Channels.Email;

/// <summary>
/// The "email" channel: renders the message's template, composes the email (<see cref="EmailComposer"/>) and hands it
/// to the configured transport (an SMTP server, or .eml files). No address, no template or nothing to send are
/// permanent (Rejected); other renderer or link failures propagate to the dispatcher.
/// </summary>
public sealed partial class EmailChannelProvider(
    IMessageRenderer renderer, EmailComposer composer, IEmailTransport transport, ILogger<EmailChannelProvider> logger) : IChannelProvider
{
    public string Channel => EmailComposer.Channel;

    public async Task<DeliveryResult> SendAsync(OutboundMessage message, SendTurn turn, CancellationToken ct)
    {
        if (EmailComposer.Recipient(message.Recipient.Email) is not { } to)
            return Refused(message, DeliveryResult.NoAddress("no_email_address"));

        RenderedMessage rendered;
        try
        {
            rendered = await renderer.RenderAsync(message, ct);
        }
        catch (TemplateNotFoundException e)
        {
            return Refused(message, DeliveryResult.Rejected($"template_not_found: {e.Template}"));
        }
        if (string.IsNullOrEmpty(rendered.Html) && string.IsNullOrEmpty(rendered.Text))
            return Refused(message, DeliveryResult.Rejected("empty_message: the template rendered neither HTML nor text"));

        // Disposed once sent: MimeKit's messages and parts have finalizers, so one left to the collector survives its
        // first collection with everything it holds (headers, body, streams), and the node's collections grow with the
        // emails it sends (docs/benchmarks-log.md, sixteenth session).
        using var email = await composer.ComposeAsync(message, rendered, to);
        await turn(ct);
        var result = await transport.SendAsync(email, message, ct);
        if (result.Status == DeliveryStatus.Rejected) Refused(message, result);
        else LogHandedOver(message.MessageKey, result.Status);
        return result;
    }

    private DeliveryResult Refused(OutboundMessage message, DeliveryResult result)
    {
        LogRejected(message.MessageKey, Actors.Domain.Privacy.PersonalText.Redact(result.Error));
        return result;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Email {MessageKey}: {Status}")]
    private partial void LogHandedOver(string messageKey, DeliveryStatus status);

    // Debug: the channel shard logs every failed message with its reason, once.
    [LoggerMessage(Level = LogLevel.Debug, Message = "Email {MessageKey} will not be sent: {Error}")]
    private partial void LogRejected(string messageKey, string? error);
}
