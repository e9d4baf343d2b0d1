using Actors.Domain.Profiles;
using Actors.Domain.Segments;
using Actors.Domain.Tracking;
using static Actors.Domain.Tests.Segments.SegmentKit;

namespace Actors.Domain.Tests.Segments;

public class RfmTests
{
    private static readonly DateTimeOffset Now = T0.AddDays(400);

    /// <summary>20 customers: days since the last order, orders, amount spent (before refunds), refunded. Ties on purpose.</summary>
    private static readonly (int Days, int Orders, decimal Spent, decimal Refunded)[] Customers =
    [
        (1, 1, 20, 0), (3, 2, 150, 0), (3, 5, 600, 0), (7, 1, 35, 0), (10, 3, 210, 30),
        (14, 8, 1200, 0), (20, 1, 20, 0), (30, 2, 90, 0), (30, 2, 90, 0), (45, 4, 400, 0),
        (60, 1, 15, 0), (75, 6, 950, 0), (90, 1, 60, 0), (120, 3, 180, 0), (150, 1, 25, 0),
        (180, 2, 75, 0), (200, 10, 2000, 0), (250, 1, 40, 0), (300, 1, 20, 0), (365, 2, 110, 0),
    ];

    private static VisitorProfile Customer(int index)
    {
        var (days, orders, spent, refunded) = Customers[index];
        var events = new List<VisitorEvent>();
        var last = Now.AddDays(-days);
        for (var i = 0; i < orders; i++)
        {
            var amount = i == 0 ? spent - 10m * (orders - 1) : 10m; // the latest order carries the rest
            events.Add(Make.Order($"c{index}-o{i}", amount, last.AddDays(-i)));
        }
        if (refunded > 0) events.Add(Refund($"c{index}-o0", refunded, last));
        return Profile([.. events]);
    }

    private static List<VisitorProfile> Population() => [.. Enumerable.Range(0, Customers.Length).Select(Customer)];

    private static RfmThresholds ThresholdsOf(IEnumerable<VisitorProfile> profiles) => Rfm.Thresholds(
        profiles.Select(p => (
            p.Orders.LastAt is { } last ? (Now - last).TotalDays : double.NaN,
            p.Orders.Count,
            p.Orders.Total - p.Orders.Refunded)),
        Now);

    // The plainest statement of a quintile score: rank among the customers.
    private static int MoreIsBetter(decimal value, IReadOnlyList<decimal> all) =>
        1 + Math.Min(4, 5 * all.Count(v => v < value) / all.Count);

    private static int FewerIsBetter(decimal value, IReadOnlyList<decimal> all) =>
        5 - Math.Min(4, 5 * all.Count(v => v < value) / all.Count);

    [Fact]
    public void Cells_match_a_plain_rank_calculation_on_a_fixed_population()
    {
        var profiles = Population();
        var thresholds = ThresholdsOf(profiles.Append(new VisitorProfile("no-orders")));
        var days = Customers.Select(c => (decimal)c.Days).ToList();
        var orders = Customers.Select(c => (decimal)c.Orders).ToList();
        var net = Customers.Select(c => c.Spent - c.Refunded).ToList();

        for (var i = 0; i < Customers.Length; i++)
        {
            var expected = new RfmCell(FewerIsBetter(days[i], days), MoreIsBetter(orders[i], orders), MoreIsBetter(net[i], net));
            Assert.Equal(expected, Rfm.Cell(profiles[i], thresholds, Now));
        }
    }

    [Fact]
    public void Cut_points_are_the_nearest_rank_quintiles_of_customers_only()
    {
        var thresholds = ThresholdsOf(Population().Append(new VisitorProfile("no-orders")));
        Assert.Equal([7m, 30m, 75m, 180m], thresholds.RecencyDays);
        Assert.Equal([1m, 1m, 2m, 4m], thresholds.Frequency);
        Assert.Equal([20m, 60m, 110m, 400m], thresholds.Monetary);
        Assert.Equal(Now, thresholds.ComputedAt);
    }

    [Fact]
    public void Known_customers_land_in_the_cells_you_would_expect()
    {
        var profiles = Population();
        var thresholds = ThresholdsOf(profiles);
        Assert.Equal("555", Rfm.Cell(profiles[2], thresholds, Now).ToString());  // 3 days, 5 orders, 600
        Assert.Equal("155", Rfm.Cell(profiles[16], thresholds, Now).ToString()); // 200 days (past every recency cut point), 10 orders, 2000
        Assert.Equal("511", Rfm.Cell(profiles[0], thresholds, Now).ToString());  // 1 day, 1 order, 20
        Assert.Equal("111", Rfm.Cell(profiles[18], thresholds, Now).ToString()); // 300 days, 1 order, 20
        Assert.Equal("444", Rfm.Cell(profiles[4], thresholds, Now).ToString());  // 10 days, 3 orders, 180 net of a 30 refund
    }

    [Fact]
    public void A_visitor_without_orders_has_no_cell_and_an_empty_population_gives_zero_cut_points()
    {
        var thresholds = Rfm.Thresholds([], Now);
        Assert.Null(Rfm.Cell(Profile(Make.View("a", null, T0)), thresholds, Now));
        Assert.Equal(new decimal[4], thresholds.Frequency);
    }

    [Fact]
    public void Rfm_conditions_are_false_without_thresholds()
    {
        var profile = Customer(2);
        Assert.False(Rule("""{"rfmCell":"555"}""").Matches(profile, Now, null));
        Assert.False(Rule("""{"rfm":{"frequency":[1,2,3,4,5]}}""").Matches(profile, Now, null));
        Assert.Equal("no RFM scores computed yet", Rule("""{"rfmCell":"555"}""").Explain(profile, Now, null));
    }

    [Fact]
    public void Rfm_conditions_match_the_cell()
    {
        var thresholds = ThresholdsOf(Population());
        var profile = Customer(2);
        Assert.True(Rule("""{"rfmCell":["111","555"]}""").Matches(profile, Now, thresholds));
        Assert.True(Rule("""{"rfm":{"recency":[4,5],"monetary":5}}""").Matches(profile, Now, thresholds));
        Assert.False(Rule("""{"rfm":{"frequency":[1,2]}}""").Matches(profile, Now, thresholds));
        Assert.Equal("RFM cell 555", Rule("""{"rfmCell":"555"}""").Explain(profile, Now, thresholds));
    }

    [Fact]
    public void The_recency_score_drops_by_itself_the_tick_the_days_pass_a_cut_point()
    {
        var thresholds = ThresholdsOf(Population());
        var profile = Customer(0); // last order 1 day ago; the first recency cut point is 7 days
        var rule = Rule("""{"rfm":{"recency":[5]}}""");
        Assert.True(rule.Matches(profile, Now, thresholds));
        var drop = rule.NextChange(profile, Now, thresholds);
        Assert.Equal(profile.Orders.LastAt!.Value.AddDays(7) + Tick, drop);
        Assert.True(rule.Matches(profile, drop!.Value - Tick, thresholds));
        Assert.False(rule.Matches(profile, drop.Value, thresholds));
        Assert.Null(Rule("""{"rfm":{"frequency":[1]}}""").NextChange(profile, Now, thresholds));
    }
}
