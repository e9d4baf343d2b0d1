using System.Text.Json;
using Actors.Domain.Tracking;

namespace Actors.Domain.Tests.Tracking;

/// <summary>The event-time rule of the edge (README "Event time"): skew corrected with sentAt, clamped around receipt.</summary>
public class EventTimeTests
{
    private static readonly DateTimeOffset Received = Make.T0;

    [Fact]
    public void Without_a_client_time_the_receive_time_is_the_event_time()
    {
        Assert.Equal(Received, EventBounds.EventTime(Received, null, null, null, out var client));
        Assert.Null(client);
    }

    [Fact]
    public void A_client_clock_running_an_hour_ahead_is_corrected_with_sentAt()
    {
        // The event happened 10 s before the SDK sent it, by a clock one hour fast.
        var clientNow = Received.AddHours(1);
        var time = EventBounds.EventTime(Received, clientNow.AddSeconds(-10), clientNow, null, out var client);
        Assert.Equal(Received.AddSeconds(-10), time);
        Assert.Equal(clientNow.AddSeconds(-10), client);
    }

    [Fact]
    public void OriginalTimestamp_stands_in_for_timestamp()
    {
        var time = EventBounds.EventTime(Received, null, Received.AddSeconds(3), Received.AddSeconds(-7), out _);
        Assert.Equal(Received.AddSeconds(-10), time);
    }

    [Fact]
    public void A_correct_clock_keeps_the_time_and_no_client_time()
    {
        var time = EventBounds.EventTime(Received, Received.AddMinutes(-3), null, null, out var client);
        Assert.Equal(Received.AddMinutes(-3), time);
        Assert.Null(client);
    }

    [Fact]
    public void A_time_far_in_the_future_is_clamped_to_the_tolerance_and_the_original_kept()
    {
        var far = new DateTimeOffset(9999, 12, 31, 0, 0, 0, TimeSpan.Zero);
        var time = EventBounds.EventTime(Received, far, null, null, out var client);
        Assert.Equal(Received + EventBounds.MaxFuture, time);
        Assert.Equal(far, client);
        // Within the tolerance it is kept as sent.
        Assert.Equal(Received.AddMinutes(4), EventBounds.EventTime(Received, Received.AddMinutes(4), null, null, out _));
    }

    [Fact]
    public void A_time_before_the_import_horizon_is_clamped_to_it()
    {
        var time = EventBounds.EventTime(Received, DateTimeOffset.MinValue, null, null, out var client);
        Assert.Equal(Received - EventBounds.MaxPast, time);
        Assert.Equal(DateTimeOffset.MinValue, client);
        var old = Received.AddYears(-3);
        Assert.Equal(old, EventBounds.EventTime(Received, old, null, null, out _));
    }

    [Fact]
    public void Skew_correction_with_absurd_times_stays_in_the_window()
    {
        var time = EventBounds.EventTime(Received, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, null, out _);
        Assert.Equal(Received - EventBounds.MaxPast, time);
        time = EventBounds.EventTime(Received, DateTimeOffset.MaxValue, DateTimeOffset.MinValue, null, out _);
        Assert.Equal(Received + EventBounds.MaxFuture, time);
    }

    [Fact]
    public void Events_stored_without_a_client_time_still_load_and_new_ones_omit_it_when_null()
    {
        const string old = """{"$type":"product_viewed","Sku":"a","Category":null,"Brand":null,"Price":1,"MessageId":"m1","EventTime":"2026-03-01T12:00:00+00:00","ReceivedTime":"2026-03-01T12:00:00+00:00"}""";
        var e = JsonSerializer.Deserialize<VisitorEvent>(old)!;
        Assert.Null(e.ClientTime);
        Assert.DoesNotContain("ClientTime", JsonSerializer.Serialize(e));

        var skewed = e with { ClientTime = Received.AddHours(1) };
        var back = JsonSerializer.Deserialize<VisitorEvent>(JsonSerializer.Serialize(skewed))!;
        Assert.Equal(Received.AddHours(1), back.ClientTime);
    }
}
