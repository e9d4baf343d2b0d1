using Actors.Domain.Lifecycle;
using Actors.Domain.Reporting;

namespace Actors.Domain.Tests.Reporting;

public class UtcDaysTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 15, 23, 30, 0, TimeSpan.Zero);

    [Fact]
    public void Without_dates_the_range_is_the_last_30_days_up_to_today()
    {
        var (range, _, _) = UtcDays.Parse(null, null, Now);
        Assert.Equal(new DateOnly(2026, 3, 15), range!.Value.Last);
        Assert.Equal(new DateOnly(2026, 2, 14), range.Value.First);
        Assert.Equal(30, range.Value.Days().Count());
    }

    [Fact]
    public void A_day_is_a_utc_day_whatever_the_offset_of_the_time()
    {
        Assert.Equal(new DateOnly(2026, 3, 16), UtcDays.Of(new DateTimeOffset(2026, 3, 15, 20, 0, 0, TimeSpan.FromHours(-5))));
        var range = new DayRange(new DateOnly(2026, 3, 1), new DateOnly(2026, 3, 1));
        Assert.True(range.Contains(new DateTimeOffset(2026, 3, 1, 23, 59, 59, TimeSpan.Zero)));
        Assert.False(range.Contains(new DateTimeOffset(2026, 3, 2, 0, 0, 0, TimeSpan.Zero)));
        Assert.False(range.Contains(new DateTimeOffset(2026, 3, 1, 23, 0, 0, TimeSpan.FromHours(-2))));
    }

    [Theory]
    [InlineData("2026-02-30", null, "from")]
    [InlineData("2026-3-1", null, "from")]
    [InlineData(null, "tomorrow", "to")]
    [InlineData("2026-03-10", "2026-03-01", "from")]
    [InlineData("0001-01-01", "9999-12-31", "to")]
    [InlineData(null, "0001-01-01", "to")] // found by the route fuzzer: the default span went before the calendar
    [InlineData("9999-12-31", null, "from")]
    [InlineData("1899-12-31", "1900-01-30", "from")]
    public void A_bad_range_names_its_field(string? from, string? to, string field)
    {
        var (range, named, error) = UtcDays.Parse(from, to, Now);
        Assert.Null(range);
        Assert.Equal(field, named);
        Assert.False(string.IsNullOrEmpty(error));
    }
}

public class HeatmapTests
{
    [Fact]
    public void Monday_is_weekday_0_and_hours_are_utc()
    {
        Assert.Equal((0, 0), Heatmap.CellOf(new DateTimeOffset(2026, 3, 16, 0, 0, 0, TimeSpan.Zero))); // a Monday
        Assert.Equal((6, 23), Heatmap.CellOf(new DateTimeOffset(2026, 3, 22, 23, 59, 0, TimeSpan.Zero))); // a Sunday
        Assert.Equal((0, 1), Heatmap.CellOf(new DateTimeOffset(2026, 3, 15, 23, 0, 0, TimeSpan.FromHours(-2)))); // Monday 01:00 UTC
    }

    [Fact]
    public void Counting_fills_every_cell()
    {
        var grid = Heatmap.Count([new DateTimeOffset(2026, 3, 16, 9, 5, 0, TimeSpan.Zero), new DateTimeOffset(2026, 3, 23, 9, 55, 0, TimeSpan.Zero)]);
        Assert.Equal(Heatmap.Cells, grid.Length);
        Assert.Equal(2, grid[0, 9]);
        Assert.Equal(2, grid.Cast<int>().Sum());
    }
}

public class TrafficSourceTests
{
    [Theory]
    [InlineData("https://shop.example/?utm_source=Google&utm_medium=cpc&utm_campaign=spring%20sale", null, "google", "cpc", "spring sale")]
    [InlineData("https://shop.example/p?x=1&utm_source=news+letter#top", "https://mail.example/", "news letter", null, null)]
    [InlineData("https://shop.example/", "https://www.Bing.com/search?q=shoes", "www.bing.com", "referral", null)]
    [InlineData("https://shop.example/a", "https://shop.example/b", "direct", null, null)] // our own pages are no source
    [InlineData(null, null, "direct", null, null)]
    [InlineData("not a url ?utm_source=", "not a url either", "direct", null, null)]
    [InlineData("https://shop.example/?utm_source=a&utm_source=b", null, "a", null, null)]
    public void Utm_tags_win_then_the_referrers_host_then_direct(string? url, string? referrer, string source, string? medium, string? campaign) =>
        Assert.Equal(new TrafficSource(source, medium, campaign), TrafficSource.Of(url, referrer));

    [Fact]
    public void The_sdks_campaign_context_counts_when_the_url_has_no_tags()
    {
        var tags = new Actors.Domain.Tracking.CampaignTags("Newsletter", "Email", "Weekly");
        Assert.Equal(new TrafficSource("newsletter", "email", "weekly"), TrafficSource.Of("https://shop.example/", "https://www.bing.com/", tags));
        Assert.Equal(new TrafficSource("google", null, null), TrafficSource.Of("https://shop.example/?utm_source=google", null, tags));
        Assert.Equal(new TrafficSource("www.bing.com", "referral", null),
            TrafficSource.Of("https://shop.example/", "https://www.bing.com/", new Actors.Domain.Tracking.CampaignTags(" ", "email", null)));
    }

    [Fact]
    public void Tag_values_are_bounded()
    {
        var source = TrafficSource.Of($"https://shop.example/?utm_source={new string('x', 5000)}", null);
        Assert.Equal(TrafficSource.MaxLength, source.Source.Length);
    }
}

public class FunnelTests
{
    private static readonly DateTimeOffset T = new(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Visitors_count_in_the_stage_they_held_at_the_end_of_each_day()
    {
        IReadOnlyList<StageMark> early = [new(T, Stage.Anonymous), new(T.AddHours(2), Stage.Lead), new(T.AddDays(1).AddHours(3), Stage.Customer)];
        IReadOnlyList<StageMark> late = [new(T.AddDays(1), Stage.Anonymous)];
        var days = Funnel.Days([early, late], new DayRange(new DateOnly(2026, 2, 28), new DateOnly(2026, 3, 2)));
        Assert.Equal(0, days[0].PerStage.Sum()); // before anyone was seen
        Assert.Equal(1, days[1].PerStage[(int)Stage.Lead]);
        Assert.Equal(1, days[1].PerStage.Sum());
        Assert.Equal(1, days[2].PerStage[(int)Stage.Customer]);
        Assert.Equal(1, days[2].PerStage[(int)Stage.Anonymous]);
    }

    [Fact]
    public void Conversion_is_a_share_of_those_who_reached_the_step_before_and_times_are_medians()
    {
        var cohort = new List<(DateTimeOffset, IReadOnlyList<StageMark>)>
        {
            (T, [new(T.AddHours(1), Stage.Lead), new(T.AddHours(5), Stage.Customer), new(T.AddHours(9), Stage.RepeatCustomer)]),
            (T, [new(T.AddHours(3), Stage.Lead)]),
            (T, [new(T.AddHours(2), Stage.Customer)]), // a first order without being a lead first
            (T, []),
        };
        var c = FunnelConversion.Of(cohort);
        Assert.Equal(0.75, c.AnonymousToLead);
        Assert.Equal(2 / 3.0, c.LeadToCustomer, 12);
        Assert.Equal(0.5, c.CustomerToRepeat);
        Assert.Equal(2, c.AnonymousToLeadMedianHours);
        Assert.Equal(4, c.LeadToCustomerMedianHours);
        Assert.Equal(new Conversion(0, 0, 0, null, null), FunnelConversion.Of([]));
    }

    [Fact]
    public void The_alarm_compares_the_last_seven_days_only()
    {
        var day = new DateOnly(2026, 3, 1);
        var quietThenBad = Enumerable.Range(0, 10).Select(i => (day.AddDays(i), i < 3 ? 100 : 1, i < 3 ? 0 : 2)).ToList();
        Assert.True(NewsletterAlarm.Raised(quietThenBad));
        var even = Enumerable.Range(0, 10).Select(i => (day.AddDays(i), 2, 2)).ToList();
        Assert.False(NewsletterAlarm.Raised(even));
    }
}

public class HoldoutLiftTests
{
    [Fact]
    public void Lift_is_the_difference_of_rates_inside_its_interval()
    {
        var r = HoldoutLift.Of(treated: 1000, treatedConverted: 120, heldOut: 1000, heldOutConverted: 80);
        Assert.Equal(0.12, r.Rate, 12);
        Assert.Equal(0.08, r.HoldoutRate, 12);
        Assert.Equal(0.04, r.Lift, 12);
        // Worked by hand: Wilson 120/1000 = [0.10129, 0.14161], 80/1000 = [0.06475, 0.09847];
        // low = 0.04 − √(0.01871² + 0.01847²) = 0.01371, high = 0.04 + √(0.02161² + 0.01525²) = 0.06645.
        Assert.Equal(0.01371, r.Low, 4);
        Assert.Equal(0.06645, r.High, 4);
    }

    [Fact]
    public void Small_and_empty_groups_keep_the_interval_within_bounds()
    {
        var none = HoldoutLift.Of(0, 0, 0, 0);
        Assert.Equal(0, none.Lift);
        Assert.True(none.Low >= -1 && none.High <= 1 && none.Low < 0 && none.High > 0);
        var all = HoldoutLift.Of(5, 5, 5, 0);
        Assert.Equal(1, all.Lift);
        Assert.True(all.Low > 0 && all.High <= 1);
    }

    [Fact]
    public void The_wilson_interval_matches_a_known_value()
    {
        // 10 successes in 50: Wilson 95 % interval 0.1124 to 0.3304.
        var (p, low, high) = HoldoutLift.Wilson(10, 50);
        Assert.Equal(0.2, p, 12);
        Assert.Equal(0.1124, low, 3);
        Assert.Equal(0.3304, high, 3);
    }
}
