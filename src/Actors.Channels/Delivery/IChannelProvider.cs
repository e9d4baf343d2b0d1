using Actors.Domain.Channels;

namespace Actors.Channels.Delivery;

/// <summary>
/// Hands one message to a provider (an SMTP server, an SMS gateway, a push service, a webhook URL). Called by the
/// channel's dispatcher at least once per outbox entry; the provider passes <see cref="OutboundMessage.MessageKey"/>
/// on wherever the other side can deduplicate by it (an Idempotency-Key header, an email's Message-ID).
/// </summary>
public interface IChannelProvider
{
    /// <summary>The journey channel this provider serves: email, sms, push or webhook.</summary>
    string Channel { get; }

    /// <summary>
    /// Hands the message over. The provider awaits <paramref name="turn"/> right before its network write, once per
    /// message, and never for a message it refuses before that (no address, no template): the dispatcher's pacer then
    /// spaces what reaches the provider, not the rendering before it, and a refusal takes none of the provider's rate.
    /// </summary>
    Task<DeliveryResult> SendAsync(OutboundMessage message, SendTurn turn, CancellationToken ct);

    /// <summary>Hands the message over with no rate limit to wait for.</summary>
    Task<DeliveryResult> SendAsync(OutboundMessage message, CancellationToken ct) => SendAsync(message, SendTurns.Now, ct);
}

/// <summary>Waits until the message may go on the wire (a provider's rate limit); see <see cref="IChannelProvider.SendAsync(OutboundMessage, SendTurn, CancellationToken)"/>.</summary>
public delegate ValueTask SendTurn(CancellationToken ct);

public static class SendTurns
{
    /// <summary>No limit: the turn is now.</summary>
    public static readonly SendTurn Now = _ => ValueTask.CompletedTask;
}

public enum DeliveryStatus
{
    /// <summary>The provider took the message: it is sent (never to be attempted again).</summary>
    Accepted,

    /// <summary>A transient failure (connection refused, 4xx SMTP, HTTP 429/5xx): try again after a backoff.</summary>
    RetryLater,

    /// <summary>A permanent refusal (no address, 5xx SMTP, HTTP 4xx): recorded as failed, never retried.</summary>
    Rejected,
}

/// <param name="Unsubscribe">Set when the provider learnt the address is gone (a push endpoint answered 404/410).</param>
/// <param name="GoneEndpoints">Push: the subscriptions whose endpoint answered 404/410 (to be recorded unsubscribed),
/// also when another subscription of the visitor took the message.</param>
/// <param name="Bounced">A rejection because the address does not exist (SMTP 550 for the recipient): recorded as a bounce.</param>
/// <param name="Unreachable">A rejection because the visitor has no address on the channel (no email, phone number or push
/// subscription): an expected outcome for anonymous visitors, recorded as failed like any other, but not an operator's warning.</param>
public sealed record DeliveryResult(DeliveryStatus Status, string? ProviderMessageId = null, string? Error = null, TimeSpan? RetryAfter = null, bool Unsubscribe = false,
    IReadOnlyList<string>? GoneEndpoints = null, bool Bounced = false, bool Unreachable = false)
{
    public static DeliveryResult Bounce(string error) => new(DeliveryStatus.Rejected, Error: error, Bounced: true);

    public static DeliveryResult Accepted(string? providerMessageId = null) => new(DeliveryStatus.Accepted, providerMessageId);

    public static DeliveryResult Retry(string error, TimeSpan? after = null) => new(DeliveryStatus.RetryLater, Error: error, RetryAfter: after);

    public static DeliveryResult Rejected(string error) => new(DeliveryStatus.Rejected, Error: error);

    public static DeliveryResult NoAddress(string error) => new(DeliveryStatus.Rejected, Error: error, Unreachable: true);
}
