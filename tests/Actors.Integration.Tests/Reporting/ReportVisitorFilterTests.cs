using System.Runtime.CompilerServices;
using Actors.Domain.Tracking;
using Actors.Storage.Reporting;

namespace Actors.Integration.Tests.Reporting;

/// <summary>The report-visitors projection's allow-list: what it leaves unread can neither start a document nor be its subject.</summary>
public class ReportVisitorFilterTests
{
    [Fact]
    public void Every_event_the_visitor_report_leaves_unread_is_derived_and_every_other_one_is_read()
    {
        var projection = new ReportVisitorProjection();
        Assert.NotEmpty(ReportVisitorProjection.Unread);
        foreach (var type in EventNames.EventTypes)
        {
            var derived = ((VisitorEvent)RuntimeHelpers.GetUninitializedObject(type)).IsDerived;
            var read = projection.IncludedEventTypes.Contains(type);
            // Unread implies derived: the visitor's own behaviour always reaches the report.
            Assert.True(read || derived, $"{type.Name} is behaviour and must be read");
            Assert.Equal(!ReportVisitorProjection.Unread.Contains(type), read);
        }
        // The decisions the report shows stay read.
        Assert.Contains(typeof(JourneyEntered), projection.IncludedEventTypes);
        Assert.Contains(typeof(MessageDecided), projection.IncludedEventTypes);
        Assert.Contains(typeof(StageChanged), projection.IncludedEventTypes);
        Assert.Contains(typeof(MergedInto), projection.IncludedEventTypes);
        Assert.Contains(typeof(ProfileErased), projection.IncludedEventTypes);
    }
}
