using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Actors.Channels.Delivery;
using Actors.Domain.Channels;
using Actors.Storage.Access;
using Microsoft.Extensions.Configuration;

namespace Actors.Channels.Webhook;

/// <summary>
/// The journey step's "webhook" channel: POSTs the rendered message as JSON to the URL its template renders (the
/// template's <c>url</c>), signed like segment webhooks: X-Actors-Signature = "sha256=" + hex HMAC-SHA256 of
/// "{timestamp}.{body}" under the channel's secret (Actors:Channels:WebhookSecret, or one made once and kept in
/// PostgreSQL, shown to admins at GET /v1/channels/webhook/secret). The message key goes in Idempotency-Key and
/// X-Actors-Delivery, so a receiver can drop the resend that follows a crash after its 2xx.
/// </summary>
public sealed class WebhookChannelProvider(
    IHttpClientFactory http, IMessageRenderer renderer, WebhookSecret secret, OutboundAddressGuard guard, TimeProvider clock) : IChannelProvider
{
    public const string HttpClientName = "actors-channel-webhooks";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public string Channel => "webhook";

    public async Task<DeliveryResult> SendAsync(OutboundMessage message, SendTurn turn, CancellationToken ct)
    {
        var rendered = await renderer.RenderAsync(message, ct);
        if (!Uri.TryCreate(rendered.Url, UriKind.Absolute, out var target) || target.Scheme is not ("http" or "https"))
            return DeliveryResult.Rejected($"webhook_url_invalid: the template '{message.Template}' must render an absolute http(s) url, got '{rendered.Url}'");
        if (guard.Problem(rendered.Url) is { } urlProblem)
            return DeliveryResult.Rejected($"outbound_address_refused: the url of template '{message.Template}' {urlProblem}");

        var body = JsonSerializer.Serialize(new
        {
            id = message.MessageKey,
            profileId = message.ProfileId,
            journeyId = message.JourneyId,
            journeyVersion = message.JourneyVersion,
            stepId = message.StepId,
            template = message.Template,
            topic = message.Topic,
            kind = message.Kind,
            decidedAt = message.DecidedAt,
            subject = rendered.Subject,
            text = rendered.Text,
            html = rendered.Html,
            recipient = new { message.Recipient.UserId, message.Recipient.Email, message.Recipient.Phone, message.Recipient.Stage, message.Recipient.Attributes },
        }, Json);
        await turn(ct); // before the timestamp: the signature dates the moment it goes
        var timestamp = clock.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        using var request = new HttpRequestMessage(HttpMethod.Post, target) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("Idempotency-Key", message.MessageKey);
        request.Headers.Add("X-Actors-Delivery", message.MessageKey);
        request.Headers.Add("X-Actors-Timestamp", timestamp);
        request.Headers.Add("X-Actors-Signature", "sha256=" + Sign(await secret.GetAsync(ct), timestamp, body));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            using var response = await http.CreateClient(HttpClientName).SendAsync(request, timeout.Token);
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode) return DeliveryResult.Accepted(response.Headers.TryGetValues("X-Request-Id", out var ids) ? ids.FirstOrDefault() : null);
            if (status is 408 or 425 or 429 || status >= 500)
                return DeliveryResult.Retry($"HTTP {status}", response.Headers.RetryAfter?.Delta);
            return DeliveryResult.Rejected($"HTTP {status}");
        }
        catch (HttpRequestException e) when (OutboundAddressGuard.Refused(e, out var refused))
        {
            return DeliveryResult.Rejected(refused); // the URL's name resolves to an address the host may not reach
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            return DeliveryResult.Retry(e is TaskCanceledException ? "timeout" : "unreachable: " + e.Message);
        }
    }

    public static string Sign(string secret, string timestamp, string body) =>
        Convert.ToHexString(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{timestamp}.{body}"))).ToLowerInvariant();
}

/// <summary>The webhook channel's signing secret, the same on every node.</summary>
public sealed class WebhookSecret(InstallationSecrets secrets, IConfiguration configuration)
{
    private readonly SharedSecret _secret = new(secrets, "channel-webhooks", configuration["Actors:Channels:WebhookSecret"], "Actors:Channels:WebhookSecret", minimumLength: 16);

    public Task<string> GetAsync(CancellationToken ct = default) => _secret.TextAsync(ct);
}
