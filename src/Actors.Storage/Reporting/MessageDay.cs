using Actors.Domain.Reporting;
using Actors.Domain.Tracking;
using JasperFx.Events;
using Marten.Events.Projections;

namespace Actors.Storage.Reporting;

/// <summary>
/// Messages of one UTC day for one channel, journey and step: the policy's verdicts and what the channels reported.
/// Bounded by day × channel × journey × step, whatever the number of messages. Conversions are a journey's, not a
/// step's: they are counted on the journey's own row (channel and step "-").
/// </summary>
public sealed record MessageDay
{
    public const string None = "-";

    public required string Id { get; init; }
    public required DateOnly Day { get; init; }
    public required string Channel { get; init; }
    public required string JourneyId { get; init; }
    public required string StepId { get; init; }
    public string? Template { get; init; }
    public int Decided { get; init; }
    public Dictionary<string, int> Suppressed { get; init; } = new(StringComparer.Ordinal);
    public int Sent { get; init; }
    public int Delivered { get; init; }
    public int Bounced { get; init; }
    public int Failed { get; init; }
    public int Opened { get; init; }
    public int Clicked { get; init; }
    public int Converted { get; init; }

    public static string IdFor(DateTimeOffset at, string? channel, string? journeyId, string? stepId) =>
        $"{UtcDays.Format(UtcDays.Of(at))}|{channel ?? None}|{journeyId ?? None}|{stepId ?? None}";
}

public sealed class MessageDayProjection : MultiStreamProjection<MessageDay, string>
{
    public const string ProjectionName = "report-messages";

    public MessageDayProjection()
    {
        Name = ProjectionName;
        Identity<MessageDecided>(m => MessageDay.IdFor(m.EventTime, m.Channel, m.JourneyId, m.StepId));
        Identity<MessageSent>(Key);
        Identity<MessageDelivered>(Key);
        Identity<MessageBounced>(Key);
        Identity<MessageFailed>(Key);
        Identity<MessageOpened>(Key);
        Identity<MessageClicked>(Key);
        Identity<JourneyGoalReached>(g => MessageDay.IdFor(g.EventTime, null, g.JourneyId, null));
        // The daemon then reads only these types from the log (a filter in its query), not every page view.
        IncludeType<MessageDecided>();
        IncludeType<MessageSent>();
        IncludeType<MessageDelivered>();
        IncludeType<MessageBounced>();
        IncludeType<MessageFailed>();
        IncludeType<MessageOpened>();
        IncludeType<MessageClicked>();
        IncludeType<JourneyGoalReached>();
    }

    private static string Key(MessageOutcomeEvent m) => MessageDay.IdFor(m.EventTime, m.Channel, m.JourneyId, m.StepId);

    public override MessageDay? Evolve(MessageDay? snapshot, string id, IEvent e)
    {
        if (e.Data is not VisitorEvent data) return snapshot;
        // The fields come from the event, not from parsing the id: a step id is free text and may hold the separator.
        var row = snapshot ?? data switch
        {
            MessageDecided m => New(id, m.EventTime, m.Channel, m.JourneyId, m.StepId),
            MessageOutcomeEvent o => New(id, o.EventTime, o.Channel, o.JourneyId, o.StepId),
            JourneyGoalReached g => New(id, g.EventTime, null, g.JourneyId, null),
            _ => null,
        };
        if (row is null) return snapshot;
        return data switch
        {
            MessageDecided { Outcome: MessageOutcome.Suppressed } m => row with
            {
                Template = m.Template, Decided = row.Decided + 1, Suppressed = Plus(row.Suppressed, m.Reason),
            },
            MessageDecided m => row with { Template = m.Template, Decided = row.Decided + 1 },
            MessageSent => row with { Sent = row.Sent + 1 },
            MessageDelivered => row with { Delivered = row.Delivered + 1 },
            MessageBounced => row with { Bounced = row.Bounced + 1 },
            MessageFailed => row with { Failed = row.Failed + 1 },
            MessageOpened => row with { Opened = row.Opened + 1 },
            MessageClicked => row with { Clicked = row.Clicked + 1 },
            JourneyGoalReached { WithinAttribution: true } => row with { Converted = row.Converted + 1 },
            _ => row,
        };
    }

    private static MessageDay New(string id, DateTimeOffset at, string? channel, string? journeyId, string? stepId) => new()
    {
        Id = id, Day = UtcDays.Of(at), Channel = channel ?? MessageDay.None, JourneyId = journeyId ?? MessageDay.None, StepId = stepId ?? MessageDay.None,
    };

    private static Dictionary<string, int> Plus(Dictionary<string, int> counts, string reason)
    {
        var next = new Dictionary<string, int>(counts, StringComparer.Ordinal);
        next[reason] = next.GetValueOrDefault(reason) + 1;
        return next;
    }
}
