using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Actors.Integration.Tests.Support;

namespace Actors.Integration.Tests.Visitors;

public class ImportTests(HostFixture host) : IClassFixture<HostFixture>
{
    private readonly HttpClient _marketing = host.Client(HostFixture.MarketingKey);

    private async Task<JsonElement> Import(string kind, string body, string contentType)
    {
        var response = await _marketing.PostAsync($"/v1/imports/{kind}", new StringContent(body, Encoding.UTF8, contentType));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task Store_orders_from_csv_count_like_online_ones_and_bad_rows_are_listed()
    {
        var user = $"u{Guid.NewGuid():N}";
        var csv = $"""
            user_id,order_id,total,currency,ordered_at,channel,sku,category,quantity
            {user},S-{user}-1,30.50,EUR,2026-01-10T10:00:00Z,store,sku-1,"shoes, running",1
            {user},S-{user}-2,12,EUR,2026-02-10T10:00:00Z,store,sku-2,bags,2
            {user},S-{user}-3,abc,EUR,2026-02-11T10:00:00Z,store,sku-3,bags,1
            ,S-nobody,10,EUR,2026-02-11T10:00:00Z,store,sku-3,bags,1
            """;
        var report = await Import("orders", csv, "text/csv");
        Assert.Equal(4, report.GetProperty("rows").GetInt32());
        Assert.Equal(2, report.GetProperty("failed").GetInt32());
        var errors = report.GetProperty("errors").EnumerateArray().Select(e => (e.GetProperty("row").GetInt32(), e.GetProperty("field").GetString())).ToList();
        Assert.Contains((3, "total"), errors);
        Assert.Contains((4, "user_id"), errors);

        var profile = await host.Client(HostFixture.MarketingKey).GetFromJsonAsync<JsonElement>($"/v1/visitors/user:{user}/profile");
        // Two orders make a repeat customer; orders from January are long inactive for this host (lapse after 6 s).
        Assert.Equal(2, profile.GetProperty("orders").GetProperty("count").GetInt32());
        Assert.Equal("lapsed", profile.GetProperty("stage").GetString());
        Assert.Equal(42.5m, profile.GetProperty("orders").GetProperty("total").GetDecimal());

        // The same file again stores nothing new.
        var again = await Import("orders", csv, "text/csv");
        Assert.Equal(0, again.GetProperty("imported").GetInt32());
        Assert.Equal(2, again.GetProperty("duplicates").GetInt32());
    }

    [Fact]
    public async Task Crm_attributes_from_json_lines_land_on_the_customer()
    {
        var user = $"u{Guid.NewGuid():N}";
        var lines = "{\"userId\":\"" + user + "\",\"attributes\":{\"tier\":\"gold\",\"city\":\"Lyon\"}}\nnot json\n";
        var report = await Import("attributes", lines, "application/x-ndjson");
        Assert.Equal(1, report.GetProperty("imported").GetInt32());
        Assert.Equal(2, report.GetProperty("errors").EnumerateArray().First().GetProperty("row").GetInt32());
        var profile = await _marketing.GetFromJsonAsync<JsonElement>($"/v1/visitors/user:{user}/profile");
        Assert.Equal("gold", profile.GetProperty("attributes").GetProperty("tier").GetString());
    }

    [Fact]
    public async Task A_large_import_runs_in_the_background_and_reports_its_progress()
    {
        var tag = Guid.NewGuid().ToString("N")[..8];
        var csv = new StringBuilder("user_id,tier,city\n");
        for (var i = 0; i < 3000; i++) csv.Append($"{tag}-{i},{(i % 2 == 0 ? "gold" : "silver")},Lyon\n");
        csv.Append(",gold,Paris\n"); // no user id: refused, the rest goes on

        var start = await _marketing.PostAsync("/v1/imports/attributes?async=true", new StringContent(csv.ToString(), Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        var location = start.Headers.Location!.ToString();

        JsonElement report;
        var deadline = DateTime.UtcNow.AddMinutes(2);
        do
        {
            await Task.Delay(200);
            report = await _marketing.GetFromJsonAsync<JsonElement>(location);
            Assert.True(DateTime.UtcNow < deadline, report.ToString());
        } while (report.GetProperty("state").GetString() == "running");

        Assert.Equal("completed", report.GetProperty("state").GetString());
        Assert.Equal(3001, report.GetProperty("rows").GetInt32());
        Assert.Equal(3000, report.GetProperty("imported").GetInt32());
        Assert.Equal(1, report.GetProperty("failed").GetInt32());
        Assert.Equal(3001, report.GetProperty("errors")[0].GetProperty("row").GetInt32());
        var profile = await _marketing.GetFromJsonAsync<JsonElement>($"/v1/visitors/user:{tag}-42/profile");
        Assert.Equal("gold", profile.GetProperty("attributes").GetProperty("tier").GetString());
    }
}
