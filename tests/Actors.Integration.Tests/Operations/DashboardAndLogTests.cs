using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Integration.Tests.Channels;
using Actors.Integration.Tests.Support;

namespace Actors.Integration.Tests.Operations;

/// <summary>
/// The real host as an operator runs it: a separate process with the shipped log levels (no Logging override), where
/// the Orleans dashboard is for admin keys only and the log shows the product's lines, not Polly's or placement's.
/// </summary>
public sealed class DashboardAndLogTests : IAsyncLifetime
{
    private string _database = "";
    private SiloProcess _host = null!;

    public async Task InitializeAsync()
    {
        _database = await TestPostgres.CreateDatabaseAsync(nameof(DashboardAndLogTests));
        _host = await SiloProcess.StartAsync([$"--ConnectionStrings:Postgres={_database}", .. SiloProcess.KeyArguments()]);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await TestPostgres.DropDatabaseAsync(_database);
    }

    [Fact]
    public async Task The_Orleans_dashboard_answers_admin_keys_only_and_asks_a_browser_for_credentials()
    {
        using var anonymous = new HttpClient { BaseAddress = _host.BaseAddress };
        var refused = await anonymous.GetAsync("/orleans/");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.StartsWith("Basic", refused.Headers.WwwAuthenticate.ToString());

        using var marketing = _host.Client(HostFixture.MarketingKey);
        Assert.Equal(HttpStatusCode.Forbidden, (await marketing.GetAsync("/orleans/")).StatusCode);
        using var ingest = _host.Client(HostFixture.IngestKey);
        Assert.Equal(HttpStatusCode.Forbidden, (await ingest.GetAsync("/orleans/")).StatusCode);

        using var admin = _host.Client(HostFixture.AdminKey);
        var page = await admin.GetAsync("/orleans/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("html", page.Content.Headers.ContentType?.MediaType ?? "");

        // The page's data calls are guarded too, and answer an admin with the cluster's figures.
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/orleans/DashboardCounters")).StatusCode);
        var counters = await admin.GetAsync("/orleans/DashboardCounters");
        Assert.Equal(HttpStatusCode.OK, counters.StatusCode);
        Assert.Contains("totalActiveHostCount", await counters.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);

        // How a browser sends it after the prompt: the admin key as the Basic user name.
        using var browser = new HttpClient { BaseAddress = _host.BaseAddress };
        browser.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(HostFixture.AdminKey + ":")));
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/orleans/")).StatusCode);
    }

    [Fact]
    public async Task The_dashboards_counters_page_shows_the_Orleans_meter_read_every_ten_seconds_not_every_second()
    {
        using var admin = _host.Client(HostFixture.AdminKey);
        using var ingest = _host.Client(HostFixture.IngestKey);
        // The dashboard's figures are gathered on the same interval (10 s shipped): the first ones come that long after the start.
        var overview = await PreferenceCentreKit.Eventually(async () => JsonDocument.Parse(await admin.GetStringAsync("/orleans/DashboardCounters")).RootElement,
            o => o.GetProperty("hosts").GetArrayLength() > 0, TimeSpan.FromSeconds(30));
        var silo = overview.GetProperty("hosts").EnumerateArray().Single().GetProperty("siloAddress").GetString()!;
        async Task<string> CountersAsync() => await admin.GetStringAsync($"/orleans/SiloCounters/{Uri.EscapeDataString(silo)}");
        var counters = await PreferenceCentreKit.Eventually(CountersAsync, c => c.Contains("\"orleans-", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        Assert.Contains("\"orleans-", counters);

        // Under traffic the counters move with each read: over 4 s, a one-second reader (the dashboard's own) gives 4 or
        // more different pages, a ten-second one at most 2 (one read at most falls within any 4 s).
        var run = Guid.NewGuid().ToString("N")[..8];
        var pages = new HashSet<string>();
        var window = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; window.Elapsed < TimeSpan.FromSeconds(4); i++)
        {
            using var tracked = await ingest.PostAsJsonAsync($"/v1/visitors/counters-{run}-{i}/events",
                new { @event = "Product Viewed", messageId = $"counters-{run}-{i}", properties = new { product_id = "sku-1" } });
            Assert.True(tracked.IsSuccessStatusCode, await tracked.Content.ReadAsStringAsync());
            pages.Add(await CountersAsync());
            await Task.Delay(250);
        }
        Assert.True(pages.Count <= 2, $"{pages.Count} different counter pages in {window.Elapsed.TotalSeconds:N1} s: the meter is read more often than every 10 s");
    }

    [Fact]
    public async Task At_the_shipped_log_levels_a_normal_flow_logs_no_Polly_or_placement_lines_and_keeps_the_product_lines()
    {
        using var ingest = _host.Client(HostFixture.IngestKey);
        var run = Guid.NewGuid().ToString("N")[..8];
        // New visitors: each is a grain placed for the first time, which is what filled the log with Polly lines.
        await Parallel.ForEachAsync(Enumerable.Range(0, 40), async (i, _) =>
        {
            var response = await ingest.PostAsJsonAsync($"/v1/visitors/log-{run}-{i}/events",
                new { @event = "Product Viewed", messageId = $"log-{run}-{i}", properties = new { product_id = "sku-1" } });
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        });
        await Task.Delay(1000); // console lines are written asynchronously

        var lines = _host.Output.Split('\n');
        Assert.DoesNotContain(lines, l => l.Contains("Polly", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("Orleans.Placement", StringComparison.Ordinal) || l.Contains("Orleans.Runtime.Placement", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.StartsWith("info: Orleans", StringComparison.Ordinal));
        // What an operator needs stays: which keys are active, where the host listens.
        Assert.Contains(lines, l => l.Contains("API key from ACTORS_BOOTSTRAP_ADMIN_KEY is active", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("Now listening on", StringComparison.Ordinal));
        // The shipped gen0 budget (Directory.Build.props) reaches the running host: short collections under load.
        Assert.Contains(lines, l => l.Contains("Garbage collector: server,", StringComparison.Ordinal)
            && l.Contains("gen0 budget at most 32 MB per heap", StringComparison.Ordinal));
    }
}

public sealed class DashboardOffHostFixture : HostFixture
{
    protected override IEnumerable<string> ExtraArguments() => ["--Actors:OrleansDashboard:Enabled=false"];
}

/// <summary>A node that turns the dashboard off has no route for it, whatever the key.</summary>
public sealed class DashboardOffTests(DashboardOffHostFixture host) : IClassFixture<DashboardOffHostFixture>
{
    [Fact]
    public async Task With_the_dashboard_turned_off_its_route_is_not_there_even_for_an_admin()
    {
        using var admin = host.Client(HostFixture.AdminKey);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/orleans/")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/orleans/DashboardCounters")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/health")).StatusCode);
    }
}
