using System.Buffers.Text;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Actors.Channels.Delivery;
using Actors.Domain.Channels;
using Actors.Domain.Profiles;
using Microsoft.Extensions.Logging;

namespace Actors.Channels.Push;

/// <summary>
/// Delivers a push message to every browser the visitor subscribed with: renders it, encrypts the JSON payload
/// {title, body, url, messageKey} for each subscription (RFC 8291) and POSTs it to the subscription's endpoint with a
/// VAPID signature (RFC 8292). One subscription taking it is a send; endpoints that answer 404/410 are gone and listed
/// in <see cref="DeliveryResult.GoneEndpoints"/> so the caller records them unsubscribed.
/// </summary>
public sealed partial class WebPushProvider(
    IHttpClientFactory http, IMessageRenderer renderer, VapidKeys vapid, PushSettings settings, ILogger<WebPushProvider> logger) : IChannelProvider
{
    public const string HttpClientName = "actors-push";

    public string Channel => "push";

    private static readonly JsonSerializerOptions PayloadJson = new(JsonSerializerDefaults.Web);

    public async Task<DeliveryResult> SendAsync(OutboundMessage message, SendTurn turn, CancellationToken ct)
    {
        var subscriptions = message.Recipient.PushSubscriptions;
        if (subscriptions.Count == 0) return DeliveryResult.NoAddress("no_push_subscription");

        RenderedMessage rendered;
        try
        {
            rendered = await renderer.RenderAsync(message, ct);
        }
        catch (TemplateNotFoundException e)
        {
            return DeliveryResult.Rejected($"template_not_found: {e.Template}");
        }
        var payload = JsonSerializer.SerializeToUtf8Bytes(new PushPayload(rendered.Subject, rendered.Text, rendered.Url, message.MessageKey), PayloadJson);
        if (payload.Length > WebPushEncryption.MaxPlaintextLength)
            return DeliveryResult.Rejected($"payload_too_large: {payload.Length} bytes, at most {WebPushEncryption.MaxPlaintextLength}");

        await turn(ct); // one turn per message, however many of the visitor's browsers it goes to
        var outcomes = await Task.WhenAll(subscriptions.Select(s => SendOneAsync(s, payload, message.MessageKey, ct)));
        return Combine(outcomes);
    }

    /// <summary>What one endpoint answered.</summary>
    private enum Answer { Accepted, Gone, Retry, Refused }

    private sealed record Outcome(string Endpoint, Answer Answer, string? Detail, TimeSpan? RetryAfter = null, string? Location = null);

    private async Task<Outcome> SendOneAsync(PushSubscription subscription, byte[] payload, string messageKey, CancellationToken ct)
    {
        if (PushEndpoints.Problem(subscription.Endpoint, settings.AllowInsecureEndpoints) is { } problem)
            return new Outcome(subscription.Endpoint, Answer.Refused, $"endpoint_not_allowed: {problem}");
        byte[] body;
        try
        {
            body = WebPushEncryption.Encrypt(payload, Base64Url.DecodeFromChars(subscription.P256dh.TrimEnd('=')), Base64Url.DecodeFromChars(subscription.Auth.TrimEnd('=')));
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            // Validated when stored; a subscription that still fails here can never be delivered to.
            return new Outcome(subscription.Endpoint, Answer.Refused, "invalid_subscription_keys");
        }

        var endpoint = new Uri(subscription.Endpoint);
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        request.Content.Headers.ContentEncoding.Add("aes128gcm");
        request.Headers.TryAddWithoutValidation("TTL", settings.TtlSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("Urgency", "normal");
        request.Headers.TryAddWithoutValidation("Authorization", await vapid.AuthorizationForAsync(endpoint));

        try
        {
            using var response = await http.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode) return new Outcome(subscription.Endpoint, Answer.Accepted, null, Location: response.Headers.Location?.ToString());
            LogRefused(messageKey, endpoint.Host, status);
            return status switch
            {
                404 or 410 => new Outcome(subscription.Endpoint, Answer.Gone, $"push_subscription_gone: {status}"),
                408 or 429 or >= 500 => new Outcome(subscription.Endpoint, Answer.Retry, $"push_service_status: {status}", RetryAfterOf(response)),
                _ => new Outcome(subscription.Endpoint, Answer.Refused, $"push_service_status: {status}"),
            };
        }
        catch (HttpRequestException e) when (OutboundAddressGuard.Refused(e, out _))
        {
            return new Outcome(subscription.Endpoint, Answer.Refused, "endpoint_not_allowed: resolves to a private address");
        }
        catch (HttpRequestException e)
        {
            LogUnreachable(messageKey, endpoint.Host, e.Message);
            return new Outcome(subscription.Endpoint, Answer.Retry, $"push_service_unreachable: {e.HttpRequestError}");
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            LogUnreachable(messageKey, endpoint.Host, "timeout");
            return new Outcome(subscription.Endpoint, Answer.Retry, "push_service_timeout");
        }
    }

    /// <summary>
    /// One acceptance is a send (retrying would show it twice on that browser); else any transient failure is retried;
    /// else all gone means the visitor has no push subscription left.
    /// </summary>
    private static DeliveryResult Combine(Outcome[] outcomes)
    {
        var gone = outcomes.Where(o => o.Answer == Answer.Gone).Select(o => o.Endpoint).ToArray();
        IReadOnlyList<string>? goneList = gone.Length == 0 ? null : gone;
        if (outcomes.FirstOrDefault(o => o.Answer == Answer.Accepted) is { } accepted)
            return DeliveryResult.Accepted(accepted.Location) with { GoneEndpoints = goneList };
        var retries = outcomes.Where(o => o.Answer == Answer.Retry).ToArray();
        if (retries.Length > 0)
            return DeliveryResult.Retry(retries[0].Detail!, retries.Max(r => r.RetryAfter)) with { GoneEndpoints = goneList };
        if (gone.Length == outcomes.Length)
            return new DeliveryResult(DeliveryStatus.Rejected, Error: outcomes[0].Detail, Unsubscribe: true, GoneEndpoints: goneList);
        return DeliveryResult.Rejected(outcomes.First(o => o.Answer == Answer.Refused).Detail!) with { GoneEndpoints = goneList };
    }

    private static TimeSpan? RetryAfterOf(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - DateTimeOffset.UtcNow is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
        _ => null,
    };

    /// <summary>What the service worker receives (event.data.json()).</summary>
    private sealed record PushPayload(string? Title, string? Body, string? Url, string MessageKey);

    [LoggerMessage(Level = LogLevel.Information, Message = "Push service {Host} answered {Status} for message {MessageKey}")]
    private partial void LogRefused(string messageKey, string host, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Push service {Host} not reached for message {MessageKey}: {Reason}")]
    private partial void LogUnreachable(string messageKey, string host, string reason);
}
