using Actors.Domain.Tracking;
using JasperFx.Events;
using Marten;
using Marten.Events.Projections;

namespace Actors.Storage.Segments;

/// <summary>
/// Segment members, maintained inline: the rows change in the very transaction that appends the visitor's
/// segment_entered / segment_left event, so member lists and counts always agree with the grains.
/// </summary>
public sealed partial class SegmentMembersProjection : EventProjection
{
    public void Project(IEvent<SegmentEntered> e, IDocumentOperations ops) =>
        ops.Store(new SegmentMember(SegmentMember.IdFor(e.Data.SegmentId, e.StreamKey!), e.Data.SegmentId, e.StreamKey!, e.Data.RuleVersion, e.Data.EventTime));

    public void Project(IEvent<SegmentLeft> e, IDocumentOperations ops) =>
        ops.Delete<SegmentMember>(SegmentMember.IdFor(e.Data.SegmentId, e.StreamKey!));
}

/// <summary>Orders per customer for RFM, maintained inline with the order events.</summary>
public sealed partial class CustomerValueProjection : EventProjection
{
    public async Task Project(IEvent<OrderPlaced> e, IDocumentOperations ops, CancellationToken ct)
    {
        var current = await ops.LoadAsync<CustomerValue>(e.StreamKey!, ct) ?? new CustomerValue(e.StreamKey!, 0, 0, null);
        var last = current.LastOrderAt is { } l && l > e.Data.EventTime ? l : e.Data.EventTime;
        ops.Store(current with { Orders = current.Orders + 1, Total = current.Total + e.Data.Total, LastOrderAt = last });
    }

    public async Task Project(IEvent<OrderRefunded> e, IDocumentOperations ops, CancellationToken ct)
    {
        if (await ops.LoadAsync<CustomerValue>(e.StreamKey!, ct) is { } current)
            ops.Store(current with { Total = Math.Max(0, current.Total - e.Data.Amount) });
    }
}
