using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Actors.Integration.Tests.Journeys;
using Actors.Integration.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using OpenQA.Selenium;
using OpenQA.Selenium.Interactions;

namespace Actors.Integration.Tests.Dashboard;

/// <summary>
/// The dashboard in headless Chromium against the running host: sign-in by scope, charts drawn (their canvases hold
/// drawn pixels; screenshots saved as artifacts and into docs/screenshots), and drill-downs from a chart to the
/// visitors behind it, then a journey triggered for them, checked through the HTTP API to reach exactly those visitors.
/// Tests with the trait needs=reports drive the report pages (/v1/reports/*, built on another branch).
/// </summary>
public sealed class DashboardBrowserTests(JourneyHostFixture host) : IClassFixture<JourneyHostFixture>, IDisposable
{
    private readonly HttpClient _marketing = host.Client(HostFixture.MarketingKey);
    private readonly HttpClient _ingest = host.Client();
    private readonly HttpClient _admin = host.Client(HostFixture.AdminKey);
    private IWebDriver? _browser;
    private IWebDriver Browser => _browser ??= Chromium.Start();

    public void Dispose() => _browser?.Quit();

    [ChromiumFact]
    public void An_ingest_key_is_refused_sign_in_and_a_marketing_key_does_not_see_the_explorer()
    {
        SignIn(HostFixture.IngestKey, expectRefusal: true);
        var alert = Browser.WaitFor(By.CssSelector("#sign-in [role=alert]"));
        Assert.Contains("cannot read reports", alert.Text);
        Assert.Null(Js("return sessionStorage.getItem('actors.dashboard.key')"));

        SignIn(HostFixture.MarketingKey);
        Assert.Equal("marketing", Browser.FindElement(By.Id("who")).GetAttribute("data-scope"));
        var routes = Browser.FindElements(By.CssSelector("#nav a")).Select(a => a.GetAttribute("data-route")).ToList();
        Assert.Contains("segments", routes);
        Assert.DoesNotContain("explorer", routes);
        Go("#/explorer/user:anyone");
        Assert.Contains("needs an admin key", Browser.WaitFor(By.CssSelector("#view [role=alert]")).Text);
        Assert.Empty(Browser.FindElements(By.Id("explorer-search")));

        Browser.FindElement(By.Id("sign-out")).Click();
        SignIn(HostFixture.AdminKey);
        Assert.Contains("explorer", Browser.FindElements(By.CssSelector("#nav a")).Select(a => a.GetAttribute("data-route")));
    }

    [ChromiumFact]
    public async Task A_click_on_a_segment_bar_reaches_its_members_and_a_journey_triggered_there_enters_exactly_them()
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var category = $"c{run}";
        var segment = await CreateSegment($"Viewed {category}", new { count = new { @event = "product_viewed", category, atLeast = 1, withinHours = 24 } });
        var members = Enumerable.Range(0, 7).Select(i => $"dash-in-{run}-{i}").ToList();
        var outsiders = Enumerable.Range(0, 4).Select(i => $"dash-out-{run}-{i}").ToList();
        foreach (var m in members) await Track(m, "Product Viewed", new { product_id = "sku-1", category });
        foreach (var o in outsiders) await Track(o, "Product Viewed", new { product_id = "sku-1", category = "other" });
        await Eventually(async () => (await _marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/{segment}/count")).GetProperty("members").GetInt32() == members.Count,
            "the segment never counted its members");
        var expected = await SegmentMembers(segment);
        var journey = await CreateJourney($"Promo {run}");

        SignIn(HostFixture.MarketingKey);
        Go("#/segments");
        AssertDrawn("segment-sizes");
        Screenshot("segments");

        // A real click on the segment's bar (its middle, as ECharts places it).
        ClickChart("segment-sizes", $$"""
            const option = chart.getOption();
            const index = option.yAxis[0].data.indexOf('Viewed {{category}}');
            const value = option.series[0].data[index].value;
            return chart.convertToPixel({ seriesIndex: 0 }, [value / 2, index]);
            """);
        Wait(() => Browser.Url.EndsWith($"#/segments/{segment}", StringComparison.Ordinal), "the bar did not open its segment");
        AssertDrawn("segment-trend");
        var backfill = Browser.WaitFor(By.CssSelector("[data-progress=Backfill]"));
        Wait(() => backfill.GetAttribute("data-state") == "completed", $"the backfill's progress bar says {backfill.GetAttribute("data-state")}");
        var listed = ListedVisitors(expected.Count);
        Assert.Equal(expected.Order(), listed.Order());
        Screenshot("segment");

        Choose("[data-drill] select[name=journey]", journey);
        Browser.FindElement(By.CssSelector("[data-drill] button[name=trigger-journey]")).Click();
        var bar = Browser.WaitFor(By.CssSelector("[data-drill] [data-progress]"));
        Wait(() => bar.GetAttribute("data-state") != "running", "the trigger's progress bar never finished", TimeSpan.FromMinutes(2));
        Assert.Equal("done", bar.GetAttribute("data-state"));
        Assert.Contains($"entered {expected.Count}", bar.Text);
        Screenshot("trigger");

        await AssertEnteredExactly(journey, expected, outsiders);

        // "Trigger a journey for this segment": the whole segment, a new passage for each member, nobody else.
        Choose("select[name=segment-journey]", journey);
        Browser.FindElement(By.CssSelector("button[name=trigger-segment]")).Click();
        var whole = Browser.WaitFor(By.CssSelector("#segment-trigger [data-progress]"));
        Wait(() => whole.GetAttribute("data-state") != "running", "the segment trigger's progress bar never finished", TimeSpan.FromMinutes(2));
        Assert.Equal("done", whole.GetAttribute("data-state"));
        foreach (var member in expected) Assert.Equal(2, (await Entered(member, journey)).Count);
        foreach (var outsider in outsiders) Assert.Empty(await Entered(outsider, journey));

        Go($"#/journeys/{journey}");
        AssertDrawn("journey-steps");
        Screenshot("journey");
        AssertNoPolicyViolations();
    }

    [ChromiumFact]
    public async Task Names_from_the_api_are_shown_as_text_and_a_refused_action_shows_the_problem_naming_the_field()
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var category = $"x{run}";
        var name = $"<img src=x id=injected-{run}> {category}";
        var segment = await CreateSegment(name, new { count = new { @event = "product_viewed", category, atLeast = 1, withinHours = 24 } });
        await Track($"dash-h-{run}", "Product Viewed", new { product_id = "sku-4", category });
        await Eventually(async () => (await SegmentMembers(segment)).Count == 1, "the segment never counted its member");

        SignIn(HostFixture.MarketingKey);
        Go($"#/segments/{segment}");
        Assert.Contains(name, Browser.WaitFor(By.CssSelector("#view h1")).Text);
        Assert.Empty(Browser.FindElements(By.Id($"injected-{run}")));
        ListedVisitors(1);

        var field = Browser.FindElement(By.CssSelector("[data-drill] input[name=segment-name]"));
        field.Clear();
        Browser.FindElement(By.CssSelector("[data-drill] button[name=save-segment]")).Click();
        var problem = Browser.WaitFor(By.CssSelector("[data-drill] [role=alert]"));
        Assert.Equal("400", problem.GetAttribute("data-status"));
        Assert.Contains(Browser.FindElements(By.CssSelector("[data-drill] [role=alert] li code")), c => c.Text == "name");
    }

    [ChromiumFact]
    public async Task The_explorer_shows_an_admin_the_timeline_the_state_the_diff_and_why_a_message_was_not_sent()
    {
        var visitor = $"dash-x-{Guid.NewGuid():N}"[..20];
        await Track(visitor, "Product Viewed", new { product_id = "sku-9", category = "shoes" });
        await Track(visitor, "Newsletter Subscribed", new { source = "footer" });
        var (journey, decision) = await SuppressedEmail(visitor);
        var (outcome, reason) = (decision.GetProperty("data").GetProperty("outcome").GetString()!, decision.GetProperty("data").GetProperty("reason").GetString()!);
        Assert.NotEqual("sent", outcome);

        SignIn(HostFixture.AdminKey);
        Go($"#/explorer/{visitor}");
        Wait(() => Browser.FindElements(By.CssSelector("#view section table tbody tr")).Any(r => r.Text.Contains("newsletter_subscribed")),
            "the timeline never showed the subscription");
        Wait(() => Browser.FindElements(By.CssSelector("#view section table tbody tr")).Any(r => r.Text.Contains(journey) && r.Text.Contains(outcome) && r.Text.Contains(reason)),
            $"the message decisions never showed '{outcome}' because '{reason}'");
        Assert.Contains("\"profileId\"", Browser.WaitFor(By.Id("state")).Text);
        Browser.FindElement(By.Name("version")).SendKeys("1");
        Browser.FindElement(By.Name("show-state")).Click();
        Wait(() => Browser.FindElement(By.Id("state")).Text.Contains("\"version\": 1,"), "the state at version 1 was never shown");
        Browser.FindElement(By.Name("diff-from")).SendKeys("1");
        Browser.FindElement(By.Name("diff-to")).SendKeys("2");
        Browser.FindElement(By.Name("show-diff")).Click();
        Wait(() => Browser.FindElements(By.CssSelector("code")).Any(c => c.Text.Contains("newsletterSubscriber")), "the diff never showed the subscription");
        Screenshot("explorer");
        AssertNoPolicyViolations();
    }

    [ChromiumFact]
    [Trait("needs", "reports")]
    public async Task The_funnel_is_drawn_and_a_funnel_step_drills_down_to_the_visitors_in_that_stage()
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var anonymous = Enumerable.Range(0, 5).Select(i => $"dash-f-{run}-{i}").ToList();
        foreach (var v in anonymous) await Track(v, "Product Viewed", new { product_id = "sku-2", category = "bags" });
        await Eventually(async () => ReportedIds(await AllPages("/v1/reports/funnel/visitors?stage=anonymous")).IsSupersetOf(anonymous.Select(v => $"anon:{v}")),
            "the funnel report never listed the new anonymous visitors");

        SignIn(HostFixture.MarketingKey);
        Go("#/");
        AssertDrawn("funnel");
        AssertDrawn("stages");
        Screenshot("overview");

        ClickChart("funnel", """
            const layout = chart.getModel().getSeriesByIndex(0).getData().getItemLayout(0);
            const xs = layout.points.map(p => p[0]), ys = layout.points.map(p => p[1]);
            return [(Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2];
            """);
        var expected = ReportedIds(await AllPages("/v1/reports/funnel/visitors?stage=anonymous"));
        var listed = ListedVisitors(Math.Min(expected.Count, 50));
        Assert.Subset(expected, listed.ToHashSet());
        AssertNoPolicyViolations();
    }

    [ChromiumFact]
    [Trait("needs", "reports")]
    public async Task A_click_on_an_rfm_cell_lists_its_customers_and_a_journey_triggered_there_enters_exactly_them()
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var now = DateTimeOffset.UtcNow;
        var csv = new StringBuilder("user_id,order_id,total,currency,ordered_at\n");
        // Three groups of five customers with the same order history each, so a group shares one cell.
        for (var i = 0; i < 15; i++)
        {
            var group = i % 3;
            for (var o = 0; o <= group * 2; o++)
                csv.Append($"dash-rfm-{run}-{i},dash-rfm-{run}-{i}-o{o},{10 * (group + 1)}.00,EUR,{now.AddDays(-2 - (2 - group) * 60 - o * 5):O}\n");
        }
        var import = await _marketing.PostAsync("/v1/imports/orders", new StringContent(csv.ToString(), Encoding.UTF8, "text/csv"));
        Assert.True(import.IsSuccessStatusCode, await import.Content.ReadAsStringAsync());
        await Eventually(async () =>
        {
            var cells = (await _marketing.GetFromJsonAsync<JsonElement>("/v1/reports/rfm")).GetProperty("cells").EnumerateArray().ToList();
            return cells.Count == 25 && cells.Sum(c => c.GetProperty("visitors").GetInt32()) >= 15;
        }, "the RFM report never counted the imported customers");
        var journey = await CreateJourney($"RFM {run}");

        SignIn(HostFixture.MarketingKey);
        Go("#/rfm");
        AssertDrawn("rfm-grid");
        Screenshot("rfm");
        // The fullest cell of the grid the page drew, and the instant it was scored at, which the page passes on to the
        // drill-down (customers tied on a score boundary may move cells between two scorings).
        var drawn = (IReadOnlyCollection<object>)Js("""
            const el = document.querySelector('[data-chart="rfm-grid"]');
            const cells = echarts.getInstanceByDom(el).getOption().series[0].data;
            const fullest = cells.reduce((a, b) => b[2] > a[2] ? b : a);
            return [fullest[0], fullest[1], el.dataset.asOf];
            """)!;
        var (x, y, asOf) = (Convert.ToInt32(drawn.ElementAt(0)), Convert.ToInt32(drawn.ElementAt(1)), (string)drawn.ElementAt(2));
        var (recency, frequency) = (x + 1, y + 1);
        ClickChart("rfm-grid", $"return chart.convertToPixel({{ seriesIndex: 0 }}, [{x}, {y}]);");
        var expected = ReportedIds(await AllPages($"/v1/reports/rfm/visitors?recency={recency}&frequency={frequency}&asOf={Uri.EscapeDataString(asOf)}"));
        Assert.True(expected.Count >= 5, $"the fullest cell holds {expected.Count} customers");
        Browser.WaitFor(By.CssSelector("[data-drill]"));
        while (Browser.FindElements(By.CssSelector("[data-drill] button.secondary")).FirstOrDefault() is { } more) { more.Click(); Thread.Sleep(300); }
        Assert.Equal(expected.Order(), ListedVisitors(expected.Count).Order());

        Choose("[data-drill] select[name=journey]", journey);
        Browser.FindElement(By.CssSelector("[data-drill] button[name=trigger-journey]")).Click();
        var bar = Browser.WaitFor(By.CssSelector("[data-drill] [data-progress]"));
        Wait(() => bar.GetAttribute("data-state") != "running", "the trigger's progress bar never finished", TimeSpan.FromMinutes(2));
        Assert.Equal("done", bar.GetAttribute("data-state"));

        var others = Enumerable.Range(0, 15).Select(i => $"user:dash-rfm-{run}-{i}").Where(id => !expected.Contains(id)).ToList();
        await AssertEnteredExactly(journey, expected, others);
        AssertNoPolicyViolations();
    }

    [ChromiumFact]
    [Trait("needs", "reports")]
    public async Task A_click_on_a_heatmap_cell_lists_who_unsubscribed_then_and_they_can_be_saved_as_a_segment()
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var leavers = Enumerable.Range(0, 4).Select(i => $"dash-u-{run}-{i}").ToList();
        foreach (var v in leavers)
        {
            await Track(v, "Newsletter Subscribed", new { source = "footer" });
            await Track(v, "Newsletter Unsubscribed", new { reason = "too many", source = "email" });
        }
        // The cell of the first unsubscription's time (UTC weekday, Monday 0, and hour); the others are moments later.
        var unsubscribed = (await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{leavers[0]}/events?type=newsletter_unsubscribed&limit=1"))
            .GetProperty("items")[0].GetProperty("eventTime").GetDateTimeOffset().ToUniversalTime();
        var (weekday, hour) = (((int)unsubscribed.DayOfWeek + 6) % 7, unsubscribed.Hour);
        leavers = [.. (await Task.WhenAll(leavers.Select(async v => (v, (await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{v}/events?type=newsletter_unsubscribed&limit=1"))
            .GetProperty("items")[0].GetProperty("eventTime").GetDateTimeOffset().ToUniversalTime().Hour)))).Where(x => x.Hour == hour).Select(x => x.v)];
        var path = $"/v1/reports/newsletter/unsubscribers?weekday={weekday}&hour={hour}";
        await Eventually(async () => ReportedIds(await AllPages(path)).IsSupersetOf(leavers.Select(v => $"anon:{v}")), "the heatmap's cell never listed the unsubscribers");

        SignIn(HostFixture.MarketingKey);
        Go("#/newsletter");
        AssertDrawn("unsubscribe-heatmap");
        AssertDrawn("newsletter-days");
        Screenshot("newsletter");
        ClickChart("unsubscribe-heatmap", $"return chart.convertToPixel({{ seriesIndex: 0 }}, [{hour}, {weekday}]);");
        var expected = ReportedIds(await AllPages(path));
        Browser.WaitFor(By.CssSelector("[data-drill]"));
        while (Browser.FindElements(By.CssSelector("[data-drill] button.secondary")).FirstOrDefault() is { } more) { more.Click(); Thread.Sleep(300); }
        var listed = ListedVisitors(expected.Count);
        Assert.Equal(expected.Order(), listed.Order());

        Browser.FindElement(By.CssSelector("[data-drill] button[name=save-segment]")).Click();
        // Saved (the segment's id), or refused with the API's problem shown on the page.
        var outcome = Browser.WaitFor(By.CssSelector("[data-drill] [data-saved], [data-drill] [role=alert]"));
        var saved = outcome.GetAttribute("data-saved") ?? throw new Xunit.Sdk.XunitException($"saving the drill-down as a segment was refused: {outcome.Text}");
        await Eventually(async () => (await SegmentMembers(saved)).Order().SequenceEqual(expected.Order()), "the saved segment never held exactly the listed visitors");
    }

    [ChromiumFact]
    [Trait("needs", "reports")]
    public async Task The_anonymous_map_and_the_channel_report_are_drawn()
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        foreach (var i in Enumerable.Range(0, 3))
            await Track($"dash-a-{run}-{i}", "Product Viewed", new { product_id = "sku-3", category = "hats" });
        await Eventually(async () => (await _marketing.GetFromJsonAsync<JsonElement>("/v1/reports/anonymous")).GetProperty("groups").GetArrayLength() > 0,
            "the anonymous report never had a group");
        var (journey, _) = await SuppressedEmail($"dash-a-{run}-0");
        await Eventually(async () => (await _marketing.GetFromJsonAsync<JsonElement>($"/v1/reports/messages?journey={journey}")).GetProperty("rows").GetArrayLength() > 0,
            "the messages report never had the suppressed email");
        SignIn(HostFixture.MarketingKey);
        Go("#/anonymous");
        AssertDrawn("anonymous-map");
        Screenshot("anonymous");
        Go("#/messages");
        AssertDrawn("messages");
        Wait(() => Browser.FindElements(By.CssSelector("#view table tbody tr")).Any(r => r.Text.Contains(journey) && r.Text.Contains("no_consent")),
            "the channel report never showed the journey's suppressed email and its reason");
        Screenshot("messages");
        AssertNoPolicyViolations();
    }

    [ChromiumFact]
    [Trait("needs", "reports")]
    public void A_rebuild_is_for_admins_and_its_progress_bar_runs_until_the_projections_are_back()
    {
        SignIn(HostFixture.MarketingKey);
        Go("#/status");
        Browser.WaitFor(By.CssSelector("#view table"));
        Assert.Empty(Browser.FindElements(By.CssSelector("button[name=rebuild]")));

        SignIn(HostFixture.AdminKey);
        Go("#/status");
        Browser.WaitFor(By.CssSelector("button[name=rebuild]")).Click();
        var bar = Browser.WaitFor(By.CssSelector("[data-progress=Rebuild]"));
        Wait(() => bar.GetAttribute("data-state") == "done", $"the rebuild's progress bar says {bar.GetAttribute("data-state")}", TimeSpan.FromMinutes(3));
        Screenshot("status");
        AssertNoPolicyViolations();
    }

    [ChromiumFact]
    [Trait("needs", "reports")]
    public void While_a_large_trigger_holds_the_reports_the_status_page_says_they_are_paused()
    {
        var hold = host.Host.App.Services.GetRequiredService<Actors.Grains.Journeys.LargeTriggerHold>();
        using (hold.Begin("a test"))
        {
            // The daemon's node asks every second; the status says so once it has paused.
            var deadline = DateTime.UtcNow.AddSeconds(15);
            while (_marketing.GetFromJsonAsync<JsonElement>("/v1/reports/status").GetAwaiter().GetResult().GetProperty("pausedSince").ValueKind != JsonValueKind.String)
            {
                Assert.True(DateTime.UtcNow < deadline, "the reports did not pause");
                Thread.Sleep(200);
            }
            SignIn(HostFixture.MarketingKey);
            Go("#/status");
            Assert.Contains("while a large trigger runs", Browser.WaitFor(By.CssSelector("#view p.paused")).Text, StringComparison.Ordinal);
            Assert.Contains(Browser.FindElements(By.CssSelector("#view table td")), td => td.Text == "paused");
        }
    }

    // —— the page ——

    private string Origin => host.BaseAddress.GetLeftPart(UriPartial.Authority);

    private object? Js(string script, params object[] args) => ((IJavaScriptExecutor)Browser).ExecuteScript(script, args);

    private void SignIn(string key, bool expectRefusal = false)
    {
        Browser.Navigate().GoToUrl($"{Origin}/dashboard/");
        Js("sessionStorage.clear()");
        Browser.Navigate().Refresh();
        var field = Browser.WaitFor(By.Id("key"));
        field.SendKeys(key);
        field.Submit();
        if (!expectRefusal) Wait(() => !string.IsNullOrEmpty(Browser.FindElement(By.Id("who")).GetAttribute("data-scope")), "sign-in did not finish");
        // The pages change by hash from here on, so this listener hears every later refusal of the page's policy.
        Js("window.policyViolations = []; document.addEventListener('securitypolicyviolation', e => window.policyViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));");
    }

    /// <summary>Nothing the pages did since sign-in was refused by the Content-Security-Policy.</summary>
    private void AssertNoPolicyViolations()
    {
        var violations = ((IReadOnlyCollection<object>)Js("return window.policyViolations")!).Select(v => v.ToString()).ToList();
        Assert.True(violations.Count == 0, "Content-Security-Policy violations: " + string.Join("; ", violations));
    }

    private void Go(string hash)
    {
        Js("location.hash = arguments[0]", hash);
        Wait(() => Browser.FindElements(By.Id("view")).Count > 0, $"no page for {hash}");
    }

    /// <summary>The chart exists as an ECharts instance and its canvas holds drawn (non-transparent, non-white) pixels.</summary>
    private void AssertDrawn(string chart)
    {
        long drawn = 0;
        Wait(() =>
        {
            drawn = Js("""
                const el = document.querySelector(`[data-chart="${arguments[0]}"]`);
                if (!el || !el.dataset.drawn || !echarts.getInstanceByDom(el)) return -1;
                const canvas = el.querySelector('canvas');
                if (!canvas || !canvas.width) return -1;
                const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                let n = 0;
                for (let i = 0; i < pixels.length; i += 4)
                  if (pixels[i + 3] > 0 && !(pixels[i] > 245 && pixels[i + 1] > 245 && pixels[i + 2] > 245)) n++;
                return n;
                """, chart) is long n ? n : -1;
            return drawn > 2000;
        }, $"the chart '{chart}' was not drawn ({drawn} drawn pixels)");
    }

    /// <summary>Picks an option once the page has loaded it (the list of journeys comes from the API).</summary>
    private void Choose(string select, string value)
    {
        var by = By.CssSelector($"{select} option[value=\"{value}\"]");
        Wait(() => Browser.FindElements(by).Count > 0, $"no option {value} in {select}");
        Browser.FindElement(by).Click();
    }

    /// <summary>A real mouse click where <paramref name="pixelScript"/> (given `chart`) says a data item is drawn.</summary>
    private void ClickChart(string chart, string pixelScript)
    {
        var element = Browser.FindElement(By.CssSelector($"[data-chart=\"{chart}\"]"));
        var point = (IReadOnlyCollection<object>)Js($$"""
            const chart = echarts.getInstanceByDom(arguments[0]);
            {{pixelScript}}
            """, element)!;
        var (x, y) = (Convert.ToDouble(point.ElementAt(0)), Convert.ToDouble(point.ElementAt(1)));
        // Selenium's offsets are from the element's centre.
        new Actions(Browser).MoveToElement(element, (int)(x - element.Size.Width / 2.0), (int)(y - element.Size.Height / 2.0)).Click().Perform();
    }

    /// <summary>The profile ids in the drill-down list, once it shows at least <paramref name="atLeast"/>.</summary>
    private List<string> ListedVisitors(int atLeast)
    {
        List<string> ids = [];
        Wait(() =>
        {
            ids = [.. Browser.FindElements(By.CssSelector("[data-drill] code.profile-id")).Select(e => e.Text)];
            return ids.Count >= atLeast && atLeast > 0;
        }, $"the drill-down never listed {atLeast} visitors");
        return ids;
    }

    private void Screenshot(string name)
    {
        var shot = ((ITakesScreenshot)Browser).GetScreenshot();
        var artifacts = Path.Combine(AppContext.BaseDirectory, "artifacts");
        Directory.CreateDirectory(artifacts);
        var file = Path.Combine(artifacts, $"dashboard-{name}.png");
        shot.SaveAsFile(file);
        // The README shows what the test saw: copy into docs/screenshots/ of the checkout the test runs from.
        if (RepositoryRoot() is { } root)
        {
            Directory.CreateDirectory(Path.Combine(root, "docs", "screenshots"));
            File.Copy(file, Path.Combine(root, "docs", "screenshots", $"dashboard-{name}.png"), overwrite: true);
        }
    }

    private static string? RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Actors.sln"))) return dir.FullName;
        return null;
    }

    private static void Wait(Func<bool> condition, string because, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            try { if (condition()) return; }
            catch (StaleElementReferenceException) { }
            catch (NoSuchElementException) { }
            if (DateTime.UtcNow > deadline) throw new TimeoutException(because);
            Thread.Sleep(150);
        }
    }

    // —— the API, for setting up and for checking what the page did ——

    private async Task Track(string visitor, string name, object properties)
    {
        var response = await _ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events",
            new { @event = name, messageId = $"{visitor}-{Guid.NewGuid():N}", properties });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<string> CreateSegment(string name, object rule)
    {
        var id = $"ds-{Guid.NewGuid():N}"[..20];
        var response = await _marketing.PostAsJsonAsync("/v1/segments", new { id, name, rule });
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        await Eventually(async () => (await _marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/{id}/backfill")).GetProperty("state").GetString() != "running",
            "the backfill did not finish");
        return id;
    }

    /// <summary>
    /// A marketing email to a visitor who gave no address and no consent: the policy decides it and records why it is
    /// not sent. Returns the journey and the stored decision.
    /// </summary>
    private async Task<(string Journey, JsonElement Decision)> SuppressedEmail(string visitor)
    {
        const string template = "dashboard-email";
        await TestTemplates.EnsureAsync(_marketing, template);
        var journey = await CreateJourney("Email " + visitor, new { id = "send", send = new { channel = "email", template, kind = "marketing" } });
        var trigger = await _marketing.PostAsJsonAsync($"/v1/journeys/{journey}/trigger", new { profiles = new[] { visitor } });
        Assert.Equal(HttpStatusCode.Accepted, trigger.StatusCode);
        JsonElement decision = default;
        await Eventually(async () =>
        {
            var items = (await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/events?type=message_decided&limit=10")).GetProperty("items");
            if (items.GetArrayLength() == 0) return false;
            decision = items[0];
            return true;
        }, "no message was decided");
        return (journey, decision);
    }

    /// <summary>A published manual journey of one step (by default it sets an attribute, so a visitor's passage ends as they enter).</summary>
    private async Task<string> CreateJourney(string name, object? step = null)
    {
        var id = $"dj-{Guid.NewGuid():N}"[..20];
        step ??= new { id = "mark", setAttribute = new { name = "promo", value = id } };
        var journey = new { name, trigger = new { manual = true }, start = step.GetType().GetProperty("id")!.GetValue(step), steps = new[] { step } };
        var create = await _marketing.PostAsJsonAsync("/v1/journeys", new { id, journey });
        Assert.True(create.StatusCode == HttpStatusCode.Created, await create.Content.ReadAsStringAsync());
        var published = await _marketing.PostAsync($"/v1/journeys/{id}/publish", null);
        Assert.True(published.IsSuccessStatusCode, await published.Content.ReadAsStringAsync());
        return id;
    }

    private async Task<List<string>> SegmentMembers(string segment)
    {
        var page = await _marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/{segment}/members?limit=1000");
        return [.. page.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("profileId").GetString()!)];
    }

    private async Task<List<JsonElement>> AllPages(string path)
    {
        var all = new List<JsonElement>();
        string? after = null;
        do
        {
            var page = await _marketing.GetFromJsonAsync<JsonElement>($"{path}{(path.Contains('?') ? '&' : '?')}limit=500{(after is null ? "" : $"&after={Uri.EscapeDataString(after)}")}");
            all.AddRange(page.GetProperty("visitors").EnumerateArray());
            after = page.GetProperty("next").GetString();
        } while (after is not null);
        return all;
    }

    private static HashSet<string> ReportedIds(IEnumerable<JsonElement> visitors) => [.. visitors.Select(v => v.GetProperty("profileId").GetString()!)];

    /// <summary>Each of <paramref name="expected"/> entered the journey once, by a trigger; none of <paramref name="others"/> did.</summary>
    private async Task AssertEnteredExactly(string journey, IEnumerable<string> expected, IEnumerable<string> others)
    {
        foreach (var visitor in expected)
        {
            var entered = Assert.Single(await Entered(visitor, journey));
            Assert.StartsWith("trigger ", entered.GetProperty("data").GetProperty("reason").GetString());
        }
        foreach (var visitor in others) Assert.Empty(await Entered(visitor, journey));
        var figures = await _marketing.GetFromJsonAsync<JsonElement>($"/v1/journeys/{journey}/figures");
        Assert.Equal(expected.Count(), figures.GetProperty("entered").GetInt64());
    }

    private async Task<List<JsonElement>> Entered(string visitor, string journey) =>
        [.. (await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{Uri.EscapeDataString(visitor)}/events?type=journey_entered&limit=1000"))
            .GetProperty("items").EnumerateArray().Where(e => e.GetProperty("data").GetProperty("journeyId").GetString() == journey)];

    private static async Task Eventually(Func<Task<bool>> condition, string because)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException(because);
            await Task.Delay(250);
        }
    }
}
