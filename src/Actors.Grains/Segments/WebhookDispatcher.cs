using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Actors.Storage.Segments;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Actors.Grains.Segments;

public sealed record WebhookSettings
{
    public TimeSpan PollEvery { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan FirstRetryAfter { get; init; } = TimeSpan.FromSeconds(5);
    public TimeSpan MaxRetryAfter { get; init; } = TimeSpan.FromHours(1);
    public int MaxAttempts { get; init; } = 12;
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// Sends segment enter/exit webhooks from the outbox: POST of a JSON body signed with HMAC-SHA256 of
/// "{timestamp}.{body}" under the subscription's secret (headers X-Actors-Signature: sha256=…, X-Actors-Timestamp,
/// X-Actors-Delivery). A 2xx answer delivers; anything else is retried with exponential backoff until MaxAttempts,
/// then the delivery is kept as dead with its last error. Every node polls; claims keep a delivery on one node at a time.
/// </summary>
public sealed partial class WebhookDispatcher(
    SegmentStore store, IHttpClientFactory http, WebhookSettings settings, TimeProvider clock, Hosting.OutageLog outage, ILogger<WebhookDispatcher> logger) : BackgroundService
{
    public const string HttpClientName = "actors-webhooks";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var claimed = await store.ClaimDueDeliveriesAsync(clock.GetUtcNow(), settings.Timeout * 3, 20, stoppingToken);
                outage.Succeeded("segment webhooks");
                if (claimed.Count > 0)
                {
                    var segments = new Dictionary<string, SegmentDocument?>(StringComparer.Ordinal);
                    foreach (var id in claimed.Select(d => d.SegmentId).Distinct()) segments[id] = await store.FindAsync(id, stoppingToken);
                    await Task.WhenAll(claimed.Select(d => SendAsync(d, segments[d.SegmentId]?.Webhook, stoppingToken)));
                    continue; // there may be more due
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                outage.Failed("segment webhooks", e);
            }
            try { await Task.Delay(settings.PollEvery, clock, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    private async Task SendAsync(WebhookDelivery delivery, SegmentWebhook? webhook, CancellationToken ct)
    {
        if (webhook is null)
        {
            await store.SaveDeliveryAsync(delivery with { Status = DeliveryStatus.Dead, LastError = "the segment has no webhook any more" }, ct);
            return;
        }

        string? error;
        var permanent = false;
        try
        {
            var body = JsonSerializer.Serialize(new
            {
                id = delivery.Id, segmentId = delivery.SegmentId, profileId = delivery.ProfileId, change = delivery.Change,
                ruleVersion = delivery.RuleVersion, reason = delivery.Reason, at = delivery.At,
            });
            var timestamp = clock.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            using var request = new HttpRequestMessage(HttpMethod.Post, webhook.Url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Add("X-Actors-Delivery", delivery.Id);
            request.Headers.Add("X-Actors-Timestamp", timestamp);
            request.Headers.Add("X-Actors-Signature", "sha256=" + Sign(webhook.Secret, timestamp, body));
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(settings.Timeout);
            using var response = await http.CreateClient(HttpClientName).SendAsync(request, timeout.Token);
            error = response.IsSuccessStatusCode ? null : $"HTTP {(int)response.StatusCode}";
        }
        catch (HttpRequestException e) when (Actors.Channels.Delivery.OutboundAddressGuard.Refused(e, out var refused))
        {
            (error, permanent) = (refused, true); // the URL's name resolves to an address the host may not reach
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            error = e.Message;
        }

        var now = clock.GetUtcNow();
        if (error is null)
        {
            await store.SaveDeliveryAsync(delivery with { Status = DeliveryStatus.Delivered, DeliveredAt = now, LastError = null }, ct);
            LogDelivered(delivery.Id, delivery.Attempts);
        }
        else if (permanent || delivery.Attempts >= settings.MaxAttempts)
        {
            await store.SaveDeliveryAsync(delivery with { Status = DeliveryStatus.Dead, LastError = error }, ct);
            LogDead(delivery.Id, delivery.Attempts, error);
        }
        else
        {
            var wait = TimeSpan.FromTicks(Math.Min(settings.MaxRetryAfter.Ticks, settings.FirstRetryAfter.Ticks * (1L << Math.Min(20, delivery.Attempts - 1))));
            await store.SaveDeliveryAsync(delivery with { NextAttemptAt = now + wait, LastError = error }, ct);
            LogRetry(delivery.Id, delivery.Attempts, error, wait);
        }
    }

    /// <summary>Hex HMAC-SHA256 of "{timestamp}.{body}": the receiver recomputes it with its copy of the secret.</summary>
    public static string Sign(string secret, string timestamp, string body) =>
        Convert.ToHexString(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{timestamp}.{body}"))).ToLowerInvariant();

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook {DeliveryId} delivered after {Attempts} attempt(s)")]
    private partial void LogDelivered(string deliveryId, int attempts);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook {DeliveryId} attempt {Attempts} failed ({Error}); retrying in {Wait}")]
    private partial void LogRetry(string deliveryId, int attempts, string error, TimeSpan wait);

    [LoggerMessage(Level = LogLevel.Error, Message = "Webhook {DeliveryId} given up after {Attempts} attempts: {Error}")]
    private partial void LogDead(string deliveryId, int attempts, string error);

}
