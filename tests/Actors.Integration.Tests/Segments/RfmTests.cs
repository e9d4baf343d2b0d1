using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Actors.Domain.Segments;
using Actors.Integration.Tests.Support;

namespace Actors.Integration.Tests.Segments;

public sealed class RfmHostFixture : HostFixture
{
    protected override IEnumerable<string> ExtraArguments() =>
        ["--Actors:Segments:RfmEvery=00:00:01", "--Actors:Segments:RefreshEvery=00:00:01"];
}

/// <summary>RFM from the order projection to the grains: quantiles recomputed from the population, cells usable in rules.</summary>
public class RfmTests(RfmHostFixture host) : IClassFixture<RfmHostFixture>
{
    [Fact]
    public async Task An_rfm_rule_matches_the_customers_whose_cells_the_population_quantiles_give()
    {
        var marketing = host.Client(HostFixture.MarketingKey);
        var now = DateTimeOffset.UtcNow;
        var tag = Guid.NewGuid().ToString("N")[..6];
        var customers = Enumerable.Range(0, 20).Select(i => (User: $"rfm-{tag}-{i}", Orders: i % 5 + 1, Spend: 10m * (i + 1), DaysAgo: 2 + i * 9)).ToList();

        var csv = new StringBuilder("user_id,order_id,total,currency,ordered_at\n");
        foreach (var c in customers)
            for (var o = 0; o < c.Orders; o++)
                csv.Append($"{c.User},{c.User}-o{o},{c.Spend / c.Orders:0.00},EUR,{now.AddDays(-c.DaysAgo - o * 30):O}\n");
        var import = await marketing.PostAsync("/v1/imports/orders", new StringContent(csv.ToString(), Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.OK, import.StatusCode);

        // The same population through the domain's quantiles: who should be a recent, frequent, big spender.
        var thresholds = Rfm.Thresholds(customers.Select(c => ((double)c.DaysAgo, c.Orders, c.Spend)), now);
        await Task.Delay(TimeSpan.FromSeconds(3)); // the catalogue recomputes quantiles every second here

        var rule = new { rfm = new { recency = new[] { 4, 5 }, frequency = new[] { 4, 5 } } };
        var create = await marketing.PostAsJsonAsync("/v1/segments", new { id = $"rfm-{tag}", name = "Recent and frequent", rule });
        Assert.Equal(HttpStatusCode.Created, create.StatusCode);
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while ((await marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/rfm-{tag}/backfill")).GetProperty("state").GetString() == "running")
        {
            Assert.True(DateTime.UtcNow < deadline);
            await Task.Delay(200);
        }

        var members = (await marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/rfm-{tag}/members?limit=100"))
            .GetProperty("items").EnumerateArray().Select(m => m.GetProperty("profileId").GetString()).ToHashSet();
        var expected = customers.Where(c =>
        {
            var recency = 5 - thresholds.RecencyDays.Count(t => c.DaysAgo > (double)t);
            var frequency = 1 + thresholds.Frequency.Count(t => c.Orders > t);
            return recency >= 4 && frequency >= 4;
        }).Select(c => $"user:{c.User}").ToHashSet();
        Assert.NotEmpty(expected);
        Assert.Equal(expected.Order(), members.Order());
    }
}
