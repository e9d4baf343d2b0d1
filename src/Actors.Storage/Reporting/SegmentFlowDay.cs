using Actors.Domain.Reporting;
using Actors.Domain.Tracking;
using JasperFx.Events;
using Marten.Events.Projections;

namespace Actors.Storage.Reporting;

/// <summary>Members who entered and left one segment on one UTC day; a size at any day's end is the running sum.</summary>
public sealed record SegmentFlowDay(string Id, string SegmentId, DateOnly Day, int Entered, int Left)
{
    public static string IdFor(string segmentId, DateTimeOffset at) => $"{segmentId}|{UtcDays.Format(UtcDays.Of(at))}";
}

public sealed class SegmentFlowProjection : MultiStreamProjection<SegmentFlowDay, string>
{
    public const string ProjectionName = "report-segment-flows";

    public SegmentFlowProjection()
    {
        Name = ProjectionName;
        Identity<SegmentEntered>(s => SegmentFlowDay.IdFor(s.SegmentId, s.EventTime));
        Identity<SegmentLeft>(s => SegmentFlowDay.IdFor(s.SegmentId, s.EventTime));
        // The daemon then reads only these types from the log (a filter in its query), not every page view.
        IncludeType<SegmentEntered>();
        IncludeType<SegmentLeft>();
    }

    public override SegmentFlowDay? Evolve(SegmentFlowDay? snapshot, string id, IEvent e) => e.Data switch
    {
        SegmentEntered s => (snapshot ?? New(id, s.SegmentId, s.EventTime)) is var d ? d with { Entered = d.Entered + 1 } : null,
        SegmentLeft s => (snapshot ?? New(id, s.SegmentId, s.EventTime)) is var d ? d with { Left = d.Left + 1 } : null,
        _ => snapshot,
    };

    private static SegmentFlowDay New(string id, string segmentId, DateTimeOffset at) => new(id, segmentId, UtcDays.Of(at), 0, 0);
}
