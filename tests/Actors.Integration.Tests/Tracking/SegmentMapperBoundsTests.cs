using System.Text.Json;
using Actors.Api.Tracking;
using Actors.Domain.Tracking;

namespace Actors.Integration.Tests.Tracking;

/// <summary>The mapper's bounds (README "Event time"), without a host: times, amounts, strings.</summary>
public class SegmentMapperBoundsTests
{
    private static readonly DateTimeOffset Received = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private static MappingResult Map(string json, string prefix = "")
    {
        using var document = JsonDocument.Parse(json);
        return SegmentMapper.Map(document.RootElement, "track", Received, prefix);
    }

    private static VisitorEvent Valid(MappingResult result)
    {
        Assert.True(result.IsValid, string.Join("; ", result.Errors.Select(e => $"{e.Field}: {e.Message}")));
        return Assert.Single(result.Message!.Events);
    }

    [Fact]
    public void Skew_is_corrected_with_sentAt_and_the_client_time_kept()
    {
        var e = Valid(Map("""{"anonymousId":"a","event":"x","timestamp":"2025-03-01T13:00:00Z","sentAt":"2025-03-01T13:00:10Z"}"""));
        Assert.Equal(Received.AddSeconds(-10), e.EventTime);
        Assert.Equal(Received.AddHours(1), e.ClientTime);
    }

    [Fact]
    public void The_batch_sentAt_corrects_a_message_without_its_own()
    {
        using var batch = JsonDocument.Parse("""{"sentAt":"2025-03-01T13:00:10Z","batch":[{"anonymousId":"a","event":"x","timestamp":"2025-03-01T13:00:00Z"}]}""");
        var sentAt = SegmentMapper.BatchSentAt(batch.RootElement);
        var result = SegmentMapper.Map(batch.RootElement.GetProperty("batch")[0], "track", Received, batchSentAt: sentAt);
        Assert.True(result.IsValid);
        Assert.Equal(Received.AddSeconds(-10), result.Message!.Events[0].EventTime);
        using var unreadable = JsonDocument.Parse("""{"sentAt":"soon","batch":[]}""");
        Assert.Null(SegmentMapper.BatchSentAt(unreadable.RootElement));
    }

    [Fact]
    public void A_correct_time_is_kept_as_sent_without_a_client_time()
    {
        var e = Valid(Map("""{"anonymousId":"a","event":"x","timestamp":"2025-02-01T00:00:00Z"}"""));
        Assert.Equal(new DateTimeOffset(2025, 2, 1, 0, 0, 0, TimeSpan.Zero), e.EventTime);
        Assert.Null(e.ClientTime);
    }

    [Theory]
    [InlineData("9999-12-31T00:00:00Z", 5)]
    [InlineData("0001-01-01T00:00:00Z", -3653 * 24 * 60)]
    public void Times_outside_the_window_are_clamped_to_it(string timestamp, int minutesFromReceipt)
    {
        var e = Valid(Map($$"""{"anonymousId":"a","event":"x","originalTimestamp":"{{timestamp}}"}"""));
        Assert.Equal(Received.AddMinutes(minutesFromReceipt), e.EventTime);
        Assert.Equal(DateTimeOffset.Parse(timestamp, System.Globalization.CultureInfo.InvariantCulture), e.ClientTime);
    }

    [Fact]
    public void A_malformed_sentAt_is_an_error_naming_it()
    {
        var result = Map("""{"anonymousId":"a","event":"x","timestamp":"2025-03-01T13:00:00Z","sentAt":"soon"}""");
        Assert.Equal(["sentAt"], result.Errors.Select(e => e.Field));
    }

    [Fact]
    public void Bad_strings_are_named_under_the_batch_prefix_and_reading_stops_there()
    {
        var result = Map("""{"anonymousId":"a","event":"x","properties":{"a":"\u0000","b":{"c\u0000":1}},"traits":["\udfff"]}""", "batch[4].");
        Assert.Equal(["batch[4].properties.a", "batch[4].properties.b", "batch[4].traits[0]"], result.Errors.Select(e => e.Field));
        Assert.Equal(JsonText.NulNameMessage, result.Errors[1].Message);
    }

    [Fact]
    public void Escapes_that_make_good_text_pass_and_nested_paths_are_named()
    {
        var ok = Assert.IsType<BehaviourTracked>(Valid(Map("""{"anonymousId":"a","event":"x","properties":{"path":"C:\\users","e":"caf\u00e9"}}""")));
        Assert.Equal("C:\\users", ok.Properties["path"]);
        Assert.Equal("café", ok.Properties["e"]);
        var result = Map("""{"anonymousId":"a","event":"x","properties":{"grid":[["ok"],["ok","\u0000"]]}}""");
        Assert.Equal(["properties.grid[1][1]"], result.Errors.Select(e => e.Field));
    }

    [Fact]
    public void A_surrogate_pair_is_text_and_passes()
    {
        var e = Assert.IsType<BehaviourTracked>(Valid(Map("""{"anonymousId":"a","event":"x","properties":{"emoji":"\ud83d\ude00"}}""")));
        Assert.Equal("\U0001F600", e.Properties["emoji"]);
    }

    [Fact]
    public void Lines_at_the_bounds_add_up_without_overflow_and_a_total_over_the_bound_is_refused()
    {
        var result = Map("""{"anonymousId":"a","event":"Order Completed","properties":{"order_id":"o","products":[{"product_id":"p","price":1e12,"quantity":1000000}]}}""");
        Assert.Equal(["properties.products"], result.Errors.Select(e => e.Field));
        var placed = Assert.IsType<OrderPlaced>(Valid(Map("""{"anonymousId":"a","event":"Order Completed","properties":{"order_id":"o","total":5,"products":[{"product_id":"p","price":1e12,"quantity":1000000}]}}""")));
        Assert.Equal(5m, placed.Total);
    }
}
