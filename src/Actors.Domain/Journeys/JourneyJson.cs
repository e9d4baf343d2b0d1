using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace Actors.Domain.Journeys;

/// <summary>
/// Writes a journey in the canonical form of its language (<see cref="JourneyParser"/>): fields in a fixed order,
/// defaults left out, durations as "P…D T…", days Monday first. Reading it back gives the same journey.
/// </summary>
internal static class JourneyJson
{
    private static readonly Dictionary<DayOfWeek, string> DayNames = new()
    {
        [DayOfWeek.Monday] = "mon",
        [DayOfWeek.Tuesday] = "tue",
        [DayOfWeek.Wednesday] = "wed",
        [DayOfWeek.Thursday] = "thu",
        [DayOfWeek.Friday] = "fri",
        [DayOfWeek.Saturday] = "sat",
        [DayOfWeek.Sunday] = "sun",
    };

    public static string Day(DayOfWeek day) => DayNames[day];

    public static JsonElement Write(JourneyDefinition journey)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("name", journey.Name);
            w.WritePropertyName("trigger");
            Trigger(w, journey.Trigger);
            if (journey.EntryCondition is { } entry)
            {
                w.WritePropertyName("entryCondition");
                entry.ToJson().WriteTo(w);
            }
            w.WriteString("start", journey.FirstStep);
            w.WriteStartArray("steps");
            foreach (var step in journey.Steps.Values) Step(w, step);
            w.WriteEndArray();
            if (journey.Goal is { } goal)
            {
                w.WriteStartObject("goal");
                Event(w, goal.EventName, goal.Category);
                w.WriteString("attributionWindow", IsoDuration.Format(goal.AttributionWindow));
                w.WriteEndObject();
            }
            switch (journey.ReEntry)
            {
                case ReEntry.OnceEver: w.WriteString("reEntry", "onceEver"); break;
                case ReEntry.AfterCoolDown:
                    w.WriteStartObject("reEntry");
                    w.WriteString("afterCoolDown", IsoDuration.Format(journey.CoolDown ?? TimeSpan.Zero));
                    w.WriteEndObject();
                    break;
                default: w.WriteString("reEntry", "onceAtATime"); break; // the default, written so the stored form says it
            }
            if (journey.ExitOnLeavingSegment is { } segment) w.WriteString("exitOnLeavingSegment", segment);
            if (journey.HoldoutPercent != 0) w.WriteNumber("holdoutPercent", journey.HoldoutPercent);
            w.WriteEndObject();
        }
        using var doc = JsonDocument.Parse(buffer.WrittenMemory);
        return doc.RootElement.Clone();
    }

    private static void Trigger(Utf8JsonWriter w, JourneyTrigger trigger)
    {
        w.WriteStartObject();
        switch (trigger)
        {
            case EventTrigger e:
                Event(w, e.EventName, e.Category);
                if (e.Filter is { } filter)
                {
                    w.WritePropertyName("filter");
                    filter.ToJson().WriteTo(w);
                }
                break;
            case SegmentTrigger s:
                w.WriteString("segment", s.SegmentId);
                w.WriteString("on", s.OnEnter ? "enter" : "leave");
                break;
            default:
                w.WriteBoolean("manual", true);
                break;
        }
        w.WriteEndObject();
    }

    private static void Event(Utf8JsonWriter w, string eventName, string? category)
    {
        w.WriteString("event", eventName);
        if (category is not null) w.WriteString("category", category);
    }

    private static void Step(Utf8JsonWriter w, JourneyStep step)
    {
        w.WriteStartObject();
        w.WriteString("id", step.Id);
        switch (step)
        {
            case SendStep s:
                w.WriteStartObject("send");
                w.WriteString("channel", s.Channel);
                w.WriteString("template", s.Template);
                if (s.Topic is not null) w.WriteString("topic", s.Topic);
                if (s.ContentType is not null) w.WriteString("contentType", s.ContentType);
                w.WriteString("kind", s.Kind == MessageKind.Transactional ? "transactional" : "marketing");
                w.WriteEndObject();
                Next(w, "next", s.Next);
                break;
            case WaitStep s:
                w.WriteStartObject("wait");
                w.WriteString("duration", IsoDuration.Format(s.Duration));
                w.WriteEndObject();
                Next(w, "next", s.Next);
                break;
            case WaitUntilStep s:
                w.WriteStartObject("waitUntil");
                w.WriteString("time", s.TimeOfDay.ToString("HH:mm", CultureInfo.InvariantCulture));
                if (s.Days.Count > 0)
                {
                    w.WriteStartArray("days");
                    foreach (var day in s.Days) w.WriteStringValue(Day(day));
                    w.WriteEndArray();
                }
                w.WriteEndObject();
                Next(w, "next", s.Next);
                break;
            case WaitForEventStep s:
                w.WriteStartObject("waitForEvent");
                Event(w, s.EventName, s.Category);
                w.WriteString("timeout", IsoDuration.Format(s.Timeout));
                w.WriteEndObject();
                Next(w, "onEvent", s.OnEvent);
                Next(w, "onTimeout", s.OnTimeout);
                break;
            case BranchStep s:
                w.WriteStartObject("branch");
                w.WriteStartArray("arms");
                foreach (var arm in s.Arms)
                {
                    w.WriteStartObject();
                    w.WriteString("name", arm.Name);
                    w.WritePropertyName("rule");
                    arm.Rule.ToJson().WriteTo(w);
                    Next(w, "next", arm.Next);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                Next(w, "otherwise", s.Otherwise);
                w.WriteEndObject();
                break;
            case SplitStep s:
                w.WriteStartObject("split");
                w.WriteStartArray("arms");
                foreach (var arm in s.Arms)
                {
                    w.WriteStartObject();
                    w.WriteString("name", arm.Name);
                    w.WriteNumber("percent", arm.Percent);
                    Next(w, "next", arm.Next);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
                break;
            case SetAttributeStep s:
                w.WriteStartObject("setAttribute");
                w.WriteString("name", s.Attribute);
                if (s.Value is null) w.WriteNull("value");
                else w.WriteString("value", s.Value);
                w.WriteEndObject();
                Next(w, "next", s.Next);
                break;
            default:
                w.WriteBoolean("exit", true);
                break;
        }
        w.WriteEndObject();
    }

    // The end of the journey is written by leaving the exit out.
    private static void Next(Utf8JsonWriter w, string name, string? next)
    {
        if (next is not null) w.WriteString(name, next);
    }
}
