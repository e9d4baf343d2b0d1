using Actors.Domain.Tracking;
using JasperFx.Events;
using Marten;
using Marten.Events.Aggregation;
using Marten.Events.Projections;

namespace Actors.Storage.Segments;

/// <summary>
/// Segment members, maintained inline: the rows change in the very transaction that appends the visitor's
/// segment_entered / segment_left event, so member lists and counts always agree with the grains.
/// </summary>
public sealed partial class SegmentMembersProjection : EventProjection
{
    public async Task Project(IEvent<SegmentEntered> e, IDocumentOperations ops, CancellationToken ct)
    {
        ops.Store(new SegmentMember(SegmentMember.IdFor(e.Data.SegmentId, e.StreamKey!), e.Data.SegmentId, e.StreamKey!, e.Data.RuleVersion, e.Data.EventTime));
        await EnqueueWebhookAsync(ops, e.StreamKey!, e.Version, e.Data.SegmentId, "entered", e.Data.RuleVersion, e.Data.Reason, e.Data.EventTime, ct);
    }

    public async Task Project(IEvent<SegmentLeft> e, IDocumentOperations ops, CancellationToken ct)
    {
        ops.Delete<SegmentMember>(SegmentMember.IdFor(e.Data.SegmentId, e.StreamKey!));
        await EnqueueWebhookAsync(ops, e.StreamKey!, e.Version, e.Data.SegmentId, "left", e.Data.RuleVersion, e.Data.Reason, e.Data.EventTime, ct);
    }

    /// <summary>The outbox: a delivery row in the same transaction as the membership event, for subscribed segments.</summary>
    private static async Task EnqueueWebhookAsync(IDocumentOperations ops, string profileId, long version, string segmentId, string change,
        int ruleVersion, string reason, DateTimeOffset at, CancellationToken ct)
    {
        if (await ops.LoadAsync<SegmentDocument>(segmentId, ct) is not { Webhook: not null }) return;
        ops.Store(new WebhookDelivery
        {
            Id = $"{profileId}|{version}|{segmentId}",
            SegmentId = segmentId, ProfileId = profileId, Change = change, RuleVersion = ruleVersion, Reason = reason, At = at,
            NextAttemptAt = at,
        });
    }
}

/// <summary>
/// Orders per customer for RFM, maintained inline with the order events. An aggregation (not per-event loads), so that
/// several orders of one customer appended in one transaction all count. It follows identity too: a profile merged
/// into another stops counting (its orders now count in the target), an unmerge moves the orders back.
/// </summary>
public sealed partial class CustomerValueProjection : SingleStreamProjection<CustomerValue, string>
{
    public CustomerValueProjection()
    {
        // Only these events concern customer value; every other append leaves the document alone (and unread).
        IncludeType<OrderPlaced>();
        IncludeType<OrderRefunded>();
        IncludeType<MergedInto>();
        IncludeType<ProfilesUnmerged>();
        IncludeType<MergeUndone>();
    }

    public override CustomerValue? Evolve(CustomerValue? snapshot, string id, IEvent e) => e.Data switch
    {
        OrderPlaced o => Placed(snapshot ?? new CustomerValue(id, 0, 0m, null), o),
        OrderRefunded r when snapshot is not null => Refunded(snapshot, r),
        MergedInto => null, // deletes: the history now counts in the target
        ProfilesUnmerged u when snapshot is not null => TakenBack(snapshot, u),
        MergeUndone { Orders: { } h } => new CustomerValue(id, h.Count, h.NetTotal, h.LastAt) { OrderIds = h.Ids, OrderTotals = h.Totals },
        _ => snapshot,
    };

    private static CustomerValue Placed(CustomerValue current, OrderPlaced e)
    {
        if (current.OrderIds.Contains(e.OrderId)) return current;
        var last = current.LastOrderAt is { } l && l > e.EventTime ? l : e.EventTime;
        var full = current.OrderIds.Count >= Domain.Profiles.OrderSummary.OrderIdsKept;
        var ids = full ? current.OrderIds.Skip(1) : current.OrderIds;
        var totals = full ? current.OrderTotals.Skip(1) : current.OrderTotals;
        return current with
        {
            // Saturating: a stream may hold amounts from before the edge bounded them; an overflow here would fail the append.
            Orders = current.Orders + 1, Total = SafeMoney.Add(current.Total, e.Total), LastOrderAt = last,
            OrderIds = [.. ids, e.OrderId], OrderTotals = [.. totals, e.Total],
        };
    }

    private static CustomerValue Refunded(CustomerValue current, OrderRefunded e)
    {
        var index = current.OrderIds.ToList().IndexOf(e.OrderId);
        if (index < 0) return current;
        var amount = e.Amount ?? (index < current.OrderTotals.Count ? current.OrderTotals[index] : 0m);
        return current with { Total = Math.Max(0, SafeMoney.Subtract(current.Total, amount)) };
    }

    private static CustomerValue? TakenBack(CustomerValue current, ProfilesUnmerged e)
    {
        var ids = current.OrderIds.ToList();
        var totals = current.OrderTotals.ToList();
        var (orders, total) = (current.Orders, current.Total);
        foreach (var orderId in e.OrderIdsTakenBack)
        {
            var index = ids.IndexOf(orderId);
            if (index < 0) continue;
            orders--;
            if (index < totals.Count)
            {
                total = SafeMoney.Subtract(total, totals[index]);
                totals.RemoveAt(index);
            }
            ids.RemoveAt(index);
        }
        // No orders left: not a customer by value any more.
        return orders <= 0 ? null : current with { Orders = orders, Total = Math.Max(0, total), OrderIds = ids, OrderTotals = totals };
    }
}
