using Actors.Channels.Delivery;
using Actors.Domain.Channels;
using MimeKit;

namespace Actors.Channels.Email;

/// <summary>Where a composed email goes: an SMTP server, or .eml files when none is configured.</summary>
public interface IEmailTransport
{
    Task<DeliveryResult> SendAsync(MimeMessage email, OutboundMessage message, CancellationToken ct);
}
