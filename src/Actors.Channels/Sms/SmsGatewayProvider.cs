using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Actors.Channels.Delivery;
using Actors.Domain.Channels;
using Microsoft.Extensions.Logging;

namespace Actors.Channels.Sms;

/// <summary>
/// Hands SMS to an HTTP gateway: POST {to, text, reference} as JSON, with the message key as Idempotency-Key so a
/// retried request after a lost answer is recognised by the gateway and not sent twice.
/// </summary>
public sealed partial class SmsGatewayProvider : IChannelProvider
{
    public const string HttpClientName = "actors-sms";

    private readonly IHttpClientFactory http;
    private readonly IMessageRenderer renderer;
    private readonly SmsSettings settings;
    private readonly ILogger<SmsGatewayProvider> logger;

    /// <summary>Refuses, when the host starts, a gateway on a private address that the operator has not allowed.</summary>
    public SmsGatewayProvider(IHttpClientFactory http, IMessageRenderer renderer, SmsSettings settings, OutboundAddressGuard guard, ILogger<SmsGatewayProvider> logger)
    {
        if (guard.Problem(settings.GatewayUrl) is { } problem) throw new InvalidOperationException($"Actors:Sms:GatewayUrl {problem}.");
        (this.http, this.renderer, this.settings, this.logger) = (http, renderer, settings, logger);
    }

    public string Channel => "sms";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public async Task<DeliveryResult> SendAsync(OutboundMessage message, SendTurn turn, CancellationToken ct)
    {
        if (E164(message.Recipient.Phone) is not { } to) return DeliveryResult.NoAddress("no_phone_number");
        RenderedMessage rendered;
        try
        {
            rendered = await renderer.RenderAsync(message, ct);
        }
        catch (TemplateNotFoundException e)
        {
            return DeliveryResult.Rejected($"template_not_found: {e.Template}");
        }
        var text = string.IsNullOrWhiteSpace(rendered.Text) ? rendered.Subject : rendered.Text;
        if (string.IsNullOrWhiteSpace(text)) return DeliveryResult.Rejected("empty_message");

        using var request = new HttpRequestMessage(HttpMethod.Post, settings.GatewayUrl)
        {
            Content = JsonContent.Create(new SmsRequest(to, text, message.MessageKey), options: Json),
        };
        if (!string.IsNullOrEmpty(settings.ApiKey)) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", settings.ApiKey);
        request.Headers.TryAddWithoutValidation("Idempotency-Key", message.MessageKey);
        await turn(ct);
        try
        {
            using var response = await http.CreateClient(HttpClientName).SendAsync(request, ct);
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode) return DeliveryResult.Accepted(await IdOfAsync(response, ct));
            LogRefused(message.MessageKey, status);
            return status is 408 or 429 or >= 500
                ? DeliveryResult.Retry($"sms_gateway_status: {status}", RetryAfterOf(response))
                : DeliveryResult.Rejected($"sms_gateway_status: {status}");
        }
        catch (HttpRequestException e) when (OutboundAddressGuard.Refused(e, out var refused))
        {
            // The gateway's name resolves to an address the host may not reach: retrying cannot help.
            LogUnreachable(message.MessageKey, refused);
            return DeliveryResult.Rejected($"sms_gateway_{refused}");
        }
        catch (HttpRequestException e)
        {
            LogUnreachable(message.MessageKey, Actors.Domain.Privacy.PersonalText.Redact(e.Message));
            return DeliveryResult.Retry($"sms_gateway_unreachable: {e.HttpRequestError}");
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            LogUnreachable(message.MessageKey, "timeout");
            return DeliveryResult.Retry("sms_gateway_timeout");
        }
    }

    /// <summary>
    /// The number in E.164 (+ and 8 to 15 digits), with the spaces, dashes, dots and brackets people write removed;
    /// null when it is not one (a national number without country code cannot be sent to safely).
    /// </summary>
    public static string? E164(string? phone)
    {
        if (string.IsNullOrWhiteSpace(phone) || phone.Length > 40) return null;
        var compact = Separators().Replace(phone.Trim(), "");
        return Number().IsMatch(compact) ? compact : null;
    }

    [GeneratedRegex(@"[\s\-\.\(\)]")]
    private static partial Regex Separators();

    [GeneratedRegex(@"^\+[1-9][0-9]{7,14}$")]
    private static partial Regex Number();

    /// <summary>The gateway's id for the message ("id", a string or a number), if its answer has one.</summary>
    private static async Task<string?> IdOfAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            var body = await response.Content.ReadAsByteArrayAsync(ct);
            if (body.Length is 0 or > 64 * 1024) return null;
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("id", out var id)) return null;
            var text = id.ValueKind switch
            {
                JsonValueKind.String => id.GetString(),
                JsonValueKind.Number => id.GetRawText(),
                _ => null,
            };
            return text is { Length: > 0 and <= 200 } ? text : null;
        }
        catch (JsonException)
        {
            return null; // accepted all the same: the 2xx is what counts
        }
    }

    private static TimeSpan? RetryAfterOf(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - DateTimeOffset.UtcNow is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
        _ => null,
    };

    /// <summary>The adapter contract's request body.</summary>
    private sealed record SmsRequest(string To, string Text, string Reference);

    [LoggerMessage(Level = LogLevel.Information, Message = "SMS gateway answered {Status} for message {MessageKey}")]
    private partial void LogRefused(string messageKey, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "SMS gateway not reached for message {MessageKey}: {Reason}")]
    private partial void LogUnreachable(string messageKey, string reason);
}
