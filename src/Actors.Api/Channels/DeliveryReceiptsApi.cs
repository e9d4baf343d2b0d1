using Actors.Api.Access;
using Actors.Domain.Tracking;
using Actors.Grains.Identity;
using Actors.Storage.Access;
using Actors.Storage.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Actors.Api.Channels;

/// <summary>
/// What a provider learns after it accepted a message (an SMS gateway's delivery report, an email service's bounce
/// webhook), posted back by message key: each receipt becomes an event in the visitor's stream
/// (<c>message_delivered</c>, <c>message_bounced</c>, <c>message_failed</c>), with the id "{key}:{status}", so a
/// provider that repeats its report records it once.
/// </summary>
public static class DeliveryReceiptsApi
{
    public sealed record Receipt(string? MessageKey, string? Status, string? Reason, bool? Permanent);

    public sealed record ReceiptsRequest(IReadOnlyList<Receipt>? Receipts);

    public sealed record ReceiptResult(string MessageKey, string Outcome);

    public const int MaxReceipts = 500;

    public static IEndpointRouteBuilder MapDeliveryReceiptsApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/channels/receipts", Post).WithTags("Channels").RequireScope(ApiScope.Marketing)
            .WithSummary("Delivery reports from providers: {receipts:[{messageKey, status: delivered|bounced|failed, reason?, permanent?}]}");
        return app;
    }

    private static async Task<IResult> Post(ReceiptsRequest request, OutboxStore outbox, VisitorDirectory directory, TimeProvider clock)
    {
        if (request.Receipts is not { Count: > 0 and <= MaxReceipts } receipts)
            return Problems.Invalid([("receipts", $"1 to {MaxReceipts} receipts")]);
        var errors = new List<(string, string)>();
        for (var i = 0; i < receipts.Count; i++)
        {
            var r = receipts[i];
            if (r is null) { errors.Add(($"receipts[{i}]", "must be an object")); continue; }
            if (r.MessageKey is not { Length: > 0 and <= 1_000 } key || StoredText.Problem(key) is not null) errors.Add(($"receipts[{i}].messageKey", "required: the message key of a sent message"));
            if (r.Status is not ("delivered" or "bounced" or "failed")) errors.Add(($"receipts[{i}].status", "one of delivered, bounced, failed"));
            if (r.Reason is { } reason && (reason.Length > 500 || StoredText.Problem(reason) is not null)) errors.Add(($"receipts[{i}].reason", "at most 500 characters of storable text"));
        }
        if (errors.Count > 0) return Problems.Invalid(errors);

        var now = clock.GetUtcNow();
        var results = new List<ReceiptResult>(receipts.Count);
        foreach (var r in receipts)
        {
            var row = await outbox.FindAsync(r!.MessageKey!);
            if (row is null)
            {
                results.Add(new ReceiptResult(r.MessageKey!, "unknown_message"));
                continue;
            }
            var id = $"{row.MessageKey}:{r.Status}";
            MessageOutcomeEvent e = r.Status switch
            {
                "delivered" => new MessageDelivered(row.MessageKey, row.Channel) { MessageId = id, EventTime = now, ReceivedTime = now },
                "bounced" => new MessageBounced(row.MessageKey, row.Channel, r.Reason ?? "bounced", r.Permanent ?? true) { MessageId = id, EventTime = now, ReceivedTime = now },
                _ => new MessageFailed(row.MessageKey, row.Channel, r.Reason ?? "failed_at_provider", 0) { MessageId = id, EventTime = now, ReceivedTime = now },
            };
            e = e with { JourneyId = row.JourneyId, StepId = row.StepId };
            var tracked = await directory.TrackAsync(row.ProfileId, [e]);
            results.Add(new ReceiptResult(row.MessageKey, tracked.Events is [{ Duplicate: true }] ? "duplicate" : "recorded"));
        }
        return Results.Ok(new { results });
    }
}
