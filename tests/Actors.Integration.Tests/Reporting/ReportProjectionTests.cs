using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Domain.Lifecycle;
using Actors.Domain.Segments;
using Actors.Integration.Tests.Support;
using Npgsql;
using Xunit.Abstractions;

namespace Actors.Integration.Tests.Reporting;

/// <summary>Lifecycle thresholds of weeks, so no visitor drifts to at risk while the reports are compared.</summary>
public sealed class ReportHostFixture : HostFixture
{
    protected override IEnumerable<string> ExtraArguments() =>
        ["--Actors:Lifecycle:AtRiskAfter=30.00:00:00", "--Actors:Lifecycle:LapsedAfter=90.00:00:00"];
}

/// <summary>
/// Every report against a count made here from the raw event log (mt_events read with SQL, none of the projection
/// code), after a scripted shop day sent through the HTTP API, and again after a rebuild from scratch.
/// </summary>
public class ReportProjectionTests(ReportHostFixture host, ITestOutputHelper output) : IClassFixture<ReportHostFixture>
{
    private const int Visitors = 1_200;
    private readonly HttpClient _ingest = host.Client();
    private readonly HttpClient _marketing = host.Client(HostFixture.MarketingKey);
    private readonly HttpClient _admin = host.Client(HostFixture.AdminKey);

    private sealed record Raw(long Seq, string Stream, string Type, JsonElement Data)
    {
        public DateTimeOffset Time => Data.TryGetProperty("EventTime", out var t) ? t.GetDateTimeOffset() : throw new InvalidOperationException($"event {Seq} ({Type}) has no EventTime: {Data.GetRawText()}");
        public string Text(string name) => Data.GetProperty(name).GetString()!;
        public string? Maybe(string name) => Data.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
    }

    [Fact]
    public async Task After_a_scripted_shop_day_every_report_equals_a_count_from_the_raw_events_and_a_rebuild_gives_the_same()
    {
        var clock = Stopwatch.StartNew();
        var tag = $"r{Guid.NewGuid():N}"[..8];
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        var day = new DateTimeOffset(today.AddDays(-1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        var (from, to) = (today.AddDays(-2).ToString("yyyy-MM-dd"), today.ToString("yyyy-MM-dd"));

        var segment = $"nl-{tag}";
        Assert.Equal(HttpStatusCode.Created, (await _marketing.PostAsJsonAsync("/v1/segments", new { id = segment, name = "Subscribers", rule = new { newsletter = true } })).StatusCode);
        var journey = await PublishCartJourneyAsync("shoes");

        var script = ShopDay.Make(Visitors, day, tag);
        foreach (var phase in new[] { script.BeforeLogin, script.Logins, script.AfterLogin })
            await SendAsync(phase);
        output.WriteLine($"sent {script.BeforeLogin.Count + script.Logins.Count + script.AfterLogin.Count} messages in {clock.Elapsed.TotalSeconds:0.0} s");

        var high = await QuiescentHighWaterAsync();
        await WaitForProjectionsAsync(high, rebuilt: false);
        output.WriteLine($"projections caught up with {high} events at {clock.Elapsed.TotalSeconds:0.0} s");
        var raw = await RawEventsAsync();
        Assert.True(raw.Count(e => e.Type == "page_viewed") >= Visitors);

        await CompareAsync(raw, from, to, segment, journey);
        output.WriteLine($"compared at {clock.Elapsed.TotalSeconds:0.0} s");

        var rebuild = await _admin.PostAsync("/v1/reports/rebuild", null);
        Assert.Equal(HttpStatusCode.Accepted, rebuild.StatusCode);
        Assert.Equal("rebuilding", (await rebuild.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("state").GetString());
        var during = await _marketing.GetFromJsonAsync<JsonElement>("/v1/reports/status");
        Assert.Contains(during.GetProperty("projections").EnumerateArray(), p => p.GetProperty("state").GetString() == "rebuilding");
        Assert.Equal(HttpStatusCode.Forbidden, (await _marketing.PostAsync("/v1/reports/rebuild", null)).StatusCode);
        await WaitForProjectionsAsync(high, rebuilt: true);
        output.WriteLine($"rebuilt at {clock.Elapsed.TotalSeconds:0.0} s");
        await CompareAsync(raw, from, to, segment, journey);
    }

    [Fact]
    public async Task A_drill_down_saved_as_a_segment_holds_exactly_the_listed_visitors()
    {
        var tag = $"s{Guid.NewGuid():N}"[..8];
        var visitors = Enumerable.Range(0, 5).Select(i => $"{tag}-{i}").ToList();
        await SendAsync([.. visitors.Select(v => (object)new { type = "page", anonymousId = v, messageId = $"{v}-p", properties = new { url = "https://shop.example/" } })]);
        var listed = new[] { $"anon:{visitors[0]}", $"anon:{visitors[3]}", $"anon:{tag}-never-seen" };

        var create = await _marketing.PostAsJsonAsync("/v1/segments", new { id = $"drill-{tag}", name = "Saved drill-down", rule = new { profiles = listed } });
        Assert.True(create.StatusCode == HttpStatusCode.Created, await create.Content.ReadAsStringAsync());
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while ((await _marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/drill-{tag}/backfill")).GetProperty("state").GetString() == "running")
        {
            Assert.True(DateTime.UtcNow < deadline, "the backfill did not finish");
            await Task.Delay(200);
        }
        var members = (await _marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/drill-{tag}/members?limit=100"))
            .GetProperty("items").EnumerateArray().Select(m => m.GetProperty("profileId").GetString()).Order(StringComparer.Ordinal).ToList();
        Assert.Equal([$"anon:{visitors[0]}", $"anon:{visitors[3]}"], members);

        var tooMany = await _marketing.PostAsJsonAsync("/v1/segments", new { id = $"drill-{tag}-2", name = "Too many", rule = new { profiles = Enumerable.Range(0, 10_001).Select(i => $"user:{i}") } });
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
        Assert.Contains("profiles", await tooMany.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Hostile_report_queries_get_problems_naming_the_field()
    {
        foreach (var (url, field) in new[]
        {
            ("/v1/reports/funnel?from=2026-13-01", "from"),
            ("/v1/reports/funnel?from=2026-02-01&to=2026-01-01", "from"),
            ("/v1/reports/newsletter?to=yesterday", "to"),
            ("/v1/reports/funnel/visitors?stage=vip", "stage"),
            ("/v1/reports/funnel/visitors?stage=lead&limit=501", "limit"),
            ("/v1/reports/funnel/visitors?stage=lead&limit=-1", "limit"),
            ("/v1/reports/rfm/visitors?recency=6&frequency=1", "recency"),
            ("/v1/reports/rfm/visitors?recency=1&frequency=x", "frequency"),
            ("/v1/reports/newsletter/unsubscribers?weekday=7&hour=1", "weekday"),
            ("/v1/reports/newsletter/unsubscribers?weekday=1&hour=24", "hour"),
            ("/v1/reports/funnel?from=0001-01-01&to=9999-12-31", "to"),
            ("/v1/reports/funnel?from=1900-01-01&to=9998-12-31", "from"), // more than the longest span
            ("/v1/reports/rfm/visitors?recency=1&frequency=1&asOf=soon", "asOf"),
            ("/v1/reports/anonymous/visitors?source=go%00gle", "source"),
            ("/v1/reports/anonymous/visitors?category=a%01b", "category"),
            ("/v1/reports/funnel/visitors?stage=lead&after=anon:%00", "after"),
            ($"/v1/reports/funnel/visitors?stage=lead&after={new string('x', 301)}", "after"),
            ("/v1/reports/messages?channel=em%00ail", "channel"),
            ($"/v1/reports/messages?journey={new string('j', 65)}", "journey"),
            ($"/v1/reports/segments/{new string('s', 201)}/flows", "id"),
            ("/v1/reports/products/popular?category=sh%00oes", "category"),
            ("/v1/reports/products/popular?limit=0", "limit"),
        })
        {
            var response = await _marketing.GetAsync(url);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{url}: {response.StatusCode}");
            Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json", url);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"{url}: {problem}");
        }
        Assert.Equal(HttpStatusCode.Forbidden, (await _ingest.GetAsync("/v1/reports/funnel")).StatusCode);
    }

    private async Task CompareAsync(IReadOnlyList<Raw> raw, string from, string to, string segment, string journey)
    {
        var ended = raw.Where(e => e.Type == "merged_into").Select(e => e.Stream).ToHashSet();
        var live = raw.Where(e => !ended.Contains(e.Stream)).GroupBy(e => e.Stream).ToDictionary(g => g.Key, g => g.OrderBy(e => e.Seq).ToList());
        var (start, end) = (Start(from), Start(to).AddDays(1));
        bool InRange(DateTimeOffset t) => t >= start && t < end;

        // Funnel: the stage at the end of each day, from each live stream's stage changes.
        var funnel = await _marketing.GetFromJsonAsync<JsonElement>($"/v1/reports/funnel?from={from}&to={to}");
        var days = funnel.GetProperty("days").EnumerateArray().ToList();
        Assert.Equal(3, days.Count);
        foreach (var d in days)
        {
            var endOfDay = Start(d.GetProperty("date").GetString()!).AddDays(1);
            var expected = new Dictionary<Stage, int>();
            foreach (var events in live.Values)
            {
                var firstSeen = events.Min(e => e.Time);
                if (firstSeen >= endOfDay) continue;
                var stage = Stage.Anonymous;
                var latest = DateTimeOffset.MinValue;
                foreach (var change in events.Where(e => e.Type == "stage_changed" && e.Time < endOfDay))
                    if (change.Time >= latest) (stage, latest) = (Enum.Parse<Stage>(change.Text("To")), change.Time);
                expected[stage] = expected.GetValueOrDefault(stage) + 1;
            }
            foreach (var stage in Enum.GetValues<Stage>())
                Assert.True(expected.GetValueOrDefault(stage) == d.GetProperty(Camel(stage)).GetInt32(), $"{d}: {stage} expected {expected.GetValueOrDefault(stage)}");
        }
        Assert.True(days[^1].GetProperty("customer").GetInt32() > 0 && days[^1].GetProperty("lead").GetInt32() > 0, days[^1].ToString());

        var transitions = live.Values.SelectMany(s => s).Where(e => e.Type == "stage_changed" && InRange(e.Time))
            .GroupBy(e => (Enum.Parse<Stage>(e.Text("From")).ToWire(), Enum.Parse<Stage>(e.Text("To")).ToWire()))
            .ToDictionary(g => $"{g.Key.Item1}>{g.Key.Item2}", g => g.Count());
        Assert.Equal(transitions.OrderBy(kv => kv.Key),
            funnel.GetProperty("transitions").EnumerateArray().ToDictionary(t => $"{t.GetProperty("from").GetString()}>{t.GetProperty("to").GetString()}", t => t.GetProperty("count").GetInt32()).OrderBy(kv => kv.Key));

        // Conversion over visitors first seen in the range.
        var cohort = live.Values.Where(s => InRange(s.Min(e => e.Time))).ToList();
        int reachedLead = 0, reachedCustomer = 0, reachedRepeat = 0;
        foreach (var s in cohort)
        {
            var to_ = s.Where(e => e.Type == "stage_changed").Select(e => e.Text("To")).ToHashSet();
            if (to_.Overlaps(["Lead", "Customer", "RepeatCustomer"])) reachedLead++;
            if (to_.Overlaps(["Customer", "RepeatCustomer"])) reachedCustomer++;
            if (to_.Contains("RepeatCustomer")) reachedRepeat++;
        }
        var conversion = funnel.GetProperty("conversion");
        Assert.Equal((double)reachedLead / cohort.Count, conversion.GetProperty("anonymousToLead").GetDouble(), 9);
        Assert.Equal((double)reachedCustomer / reachedLead, conversion.GetProperty("leadToCustomer").GetDouble(), 9);
        Assert.Equal((double)reachedRepeat / reachedCustomer, conversion.GetProperty("customerToRepeat").GetDouble(), 9);
        Assert.Equal(JsonValueKind.Number, funnel.GetProperty("timeToConvert").GetProperty("anonymousToLeadMedianHours").ValueKind);

        // Drill-down: the leads, page by page, are the live streams whose last change went to lead.
        var leads = live.Where(kv => kv.Value.LastOrDefault(e => e.Type == "stage_changed")?.Text("To") == "Lead").Select(kv => kv.Key).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(leads, await DrillAsync("/v1/reports/funnel/visitors?stage=lead", 97));
        var repeats = live.Where(kv => kv.Value.LastOrDefault(e => e.Type == "stage_changed")?.Text("To") == "RepeatCustomer").Select(kv => kv.Key).Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(repeats);
        Assert.Equal(repeats, await DrillAsync("/v1/reports/funnel/visitors?stage=repeat_customer", 500));
        Assert.Equal(repeats, await DrillAsync("/v1/reports/funnel/visitors?stage=repeatCustomer", 500));

        // Anonymous map: first touch and top category of the live anonymous streams first seen in range.
        var anonymous = live.Where(kv => !kv.Value.Any(e => e.Type == "stage_changed") && InRange(kv.Value.Min(e => e.Time)))
            .Select(kv => (kv.Key, Group: GroupOf(kv.Value))).ToList();
        var expectedGroups = anonymous.GroupBy(a => a.Group).ToDictionary(g => g.Key, g => g.Count());
        var groups = (await _marketing.GetFromJsonAsync<JsonElement>($"/v1/reports/anonymous?from={from}&to={to}")).GetProperty("groups").EnumerateArray()
            .ToDictionary(g => $"{g.GetProperty("source").GetString()}|{g.GetProperty("medium").GetString()}|{g.GetProperty("campaign").GetString()}|{g.GetProperty("category").GetString()}",
                g => g.GetProperty("visitors").GetInt32());
        Assert.Equal(expectedGroups.OrderBy(kv => kv.Key), groups.OrderBy(kv => kv.Key));
        Assert.Contains(groups.Keys, k => k.StartsWith("google|cpc|spring|", StringComparison.Ordinal));
        Assert.Contains(groups.Keys, k => k.StartsWith("www.bing.com|referral||", StringComparison.Ordinal));
        Assert.Contains(groups.Keys, k => k.StartsWith("direct|||", StringComparison.Ordinal));
        Assert.Contains(groups.Keys, k => k.StartsWith("tiktok|social|launch|", StringComparison.Ordinal));
        var behind = anonymous.Where(a => a.Group.StartsWith("google|", StringComparison.Ordinal) && a.Group.EndsWith("|shoes", StringComparison.Ordinal))
            .Select(a => a.Key).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(behind, await DrillAsync("/v1/reports/anonymous/visitors?source=google&category=shoes", 500));
        var oneGroup = anonymous.Where(a => a.Group == "facebook|social|spring|bags").Select(a => a.Key).Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(oneGroup);
        Assert.Equal(oneGroup, await DrillAsync("/v1/reports/anonymous/visitors?source=facebook&medium=social&campaign=spring&category=bags", 7));

        // RFM: orders per live stream, scored by the domain's quantiles (the same scoring the segments use).
        var customers = live.Select(kv => (kv.Key, Orders: kv.Value.Where(e => e.Type == "order_placed").DistinctBy(e => e.Text("OrderId")).ToList()))
            .Where(c => c.Orders.Count > 0)
            .Select(c => (c.Key, Count: c.Orders.Count, Total: c.Orders.Sum(o => o.Data.GetProperty("Total").GetDecimal()), Last: c.Orders.Max(o => o.Time)))
            .ToList();
        var rfm = await _marketing.GetFromJsonAsync<JsonElement>("/v1/reports/rfm");
        var now = rfm.GetProperty("asOf").GetDateTimeOffset(); // scored at the report's instant: a cut point is exact only there
        var thresholds = Rfm.Thresholds(customers.Select(c => ((now - c.Last).TotalDays, c.Count, c.Total)), now);
        var cells = customers.GroupBy(c => Rfm.CellOf(c.Last, c.Count, c.Total, thresholds, now) is var cell ? (cell.Recency, cell.Frequency) : default)
            .ToDictionary(g => g.Key, g => (Visitors: g.Count(), Monetary: g.Sum(c => c.Total), Ids: g.Select(c => c.Key).Order(StringComparer.Ordinal).ToList()));
        var grid = rfm.GetProperty("cells").EnumerateArray().ToList();
        Assert.Equal(25, grid.Count);
        foreach (var c in grid)
        {
            var key = (c.GetProperty("recency").GetInt32(), c.GetProperty("frequency").GetInt32());
            var expected = cells.GetValueOrDefault(key);
            Assert.True(expected.Visitors == c.GetProperty("visitors").GetInt32(), $"{c}: expected {expected.Visitors}");
            Assert.Equal(expected.Monetary, c.GetProperty("monetary").GetDecimal());
        }
        var fullest = cells.MaxBy(kv => kv.Value.Visitors);
        Assert.Equal(fullest.Value.Ids, await DrillAsync($"/v1/reports/rfm/visitors?recency={fullest.Key.Recency}&frequency={fullest.Key.Frequency}&asOf={Uri.EscapeDataString(now.ToString("O"))}", 500));

        // Newsletter: per day, the heatmap of unsubscriptions and its drill-down, the alarm.
        var newsletterEvents = live.Values.SelectMany(s => s).Where(e => e.Type is "newsletter_subscribed" or "newsletter_unsubscribed" && InRange(e.Time)).ToList();
        var newsletter = await _marketing.GetFromJsonAsync<JsonElement>($"/v1/reports/newsletter?from={from}&to={to}");
        var perDay = newsletterEvents.GroupBy(e => e.Time.UtcDateTime.ToString("yyyy-MM-dd"))
            .ToDictionary(g => g.Key, g => (Sub: g.Count(e => e.Type == "newsletter_subscribed"), Unsub: g.Count(e => e.Type == "newsletter_unsubscribed")));
        foreach (var d in newsletter.GetProperty("days").EnumerateArray())
        {
            var expected = perDay.GetValueOrDefault(d.GetProperty("date").GetString()!);
            Assert.Equal(expected.Sub, d.GetProperty("subscribed").GetInt32());
            Assert.Equal(expected.Unsub, d.GetProperty("unsubscribed").GetInt32());
        }
        Assert.Equal(perDay.Values.Sum(v => v.Unsub) > perDay.Values.Sum(v => v.Sub), newsletter.GetProperty("alarm").GetBoolean());
        var unsubscriptions = newsletterEvents.Where(e => e.Type == "newsletter_unsubscribed").ToList();
        var heat = unsubscriptions.GroupBy(e => (((int)e.Time.UtcDateTime.DayOfWeek + 6) % 7, e.Time.UtcDateTime.Hour)).ToDictionary(g => g.Key, g => g.Select(e => e.Stream).ToHashSet());
        var heatmap = newsletter.GetProperty("heatmap").EnumerateArray().ToList();
        Assert.Equal(168, heatmap.Count);
        foreach (var cell in heatmap)
            Assert.Equal(heat.GetValueOrDefault((cell.GetProperty("weekday").GetInt32(), cell.GetProperty("hour").GetInt32()))?.Count ?? 0,
                cell.GetProperty("unsubscribed").GetInt32());
        var busiest = heat.MaxBy(kv => kv.Value.Count);
        Assert.Equal(busiest.Value.Order(StringComparer.Ordinal).ToList(),
            await DrillAsync($"/v1/reports/newsletter/unsubscribers?weekday={busiest.Key.Item1}&hour={busiest.Key.Item2}&from={from}&to={to}", 500));
        Assert.Equal(unsubscriptions.Count(e => e.Maybe("Source") == "one_click"), newsletter.GetProperty("bySource").GetProperty("one_click").GetInt32());
        Assert.Equal(unsubscriptions.Count(e => e.Maybe("Source") == "one_click"), newsletter.GetProperty("preferenceCentre").GetProperty("lost").GetInt32());

        // Messages: the journey's verdicts and outcomes from every stream (a device's decisions stay in its own stream).
        var decided = raw.Where(e => e.Type == "message_decided" && InRange(e.Time)).ToList();
        Assert.NotEmpty(decided);
        var messages = await _marketing.GetFromJsonAsync<JsonElement>($"/v1/reports/messages?from={from}&to={to}&journey={journey}");
        var rows = messages.GetProperty("rows").EnumerateArray().ToDictionary(r => $"{r.GetProperty("channel").GetString()}|{r.GetProperty("stepId").GetString()}");
        foreach (var g in decided.Where(e => e.Text("JourneyId") == journey).GroupBy(e => $"{e.Text("Channel")}|{e.Text("StepId")}"))
        {
            var row = rows[g.Key];
            Assert.Equal(g.Count(), row.GetProperty("decided").GetInt32());
            foreach (var reason in g.Where(e => e.Text("Outcome") == "Suppressed").GroupBy(e => e.Text("Reason")))
                Assert.Equal(reason.Count(), row.GetProperty("suppressed").GetProperty(reason.Key).GetInt32());
            Assert.Equal(raw.Count(e => e.Type == "message_sent" && e.Maybe("JourneyId") == journey && InRange(e.Time)), row.GetProperty("sent").GetInt32());
        }
        var entered = live.Values.SelectMany(s => s).Where(e => e.Type == "journey_entered" && e.Text("JourneyId") == journey && InRange(e.Time)).ToList();
        var holdout = Assert.Single(messages.GetProperty("holdout").EnumerateArray());
        Assert.Equal(entered.Count, holdout.GetProperty("entrants").GetInt32());
        Assert.Equal(entered.Count(e => e.Data.GetProperty("HeldOut").GetBoolean()), holdout.GetProperty("holdout").GetInt32());
        Assert.True(holdout.GetProperty("liftLow").GetDouble() <= holdout.GetProperty("lift").GetDouble()
            && holdout.GetProperty("lift").GetDouble() <= holdout.GetProperty("liftHigh").GetDouble(), holdout.ToString());

        // Popular products: the on-site board's tally, per product of a category, against the stored views and ordered lines.
        JsonElement popular;
        var boardDeadline = DateTime.UtcNow.AddMinutes(1);
        while ((popular = await _marketing.GetFromJsonAsync<JsonElement>("/v1/reports/products/popular?category=shoes&limit=100")).GetProperty("position").GetInt64() < raw[^1].Seq)
        {
            Assert.True(DateTime.UtcNow < boardDeadline, $"the popularity board did not read up to {raw[^1].Seq}: {popular}");
            await Task.Delay(500);
        }
        var views = raw.Where(e => e.Type == "product_viewed" && e.Maybe("Category") == "shoes").GroupBy(e => e.Text("Sku")).ToDictionary(g => g.Key, g => g.Count());
        var lines = raw.Where(e => e.Type == "order_placed").SelectMany(e => e.Data.GetProperty("Lines").EnumerateArray())
            .Where(l => l.GetProperty("Category").GetString() == "shoes").GroupBy(l => l.GetProperty("Sku").GetString()!).ToDictionary(g => g.Key, g => g.Count());
        var products = popular.GetProperty("products").EnumerateArray().ToList();
        var carted = raw.Where(e => e.Type == "cart_item_added" && e.Maybe("Category") == "shoes").Select(e => e.Text("Sku"));
        Assert.Equal(views.Keys.Union(lines.Keys).Union(carted).Order(StringComparer.Ordinal), products.Select(p => p.GetProperty("productId").GetString()!).Order(StringComparer.Ordinal));
        foreach (var p in products)
        {
            var sku = p.GetProperty("productId").GetString()!;
            Assert.Equal(views.GetValueOrDefault(sku), p.GetProperty("views").GetInt64());
            Assert.Equal(lines.GetValueOrDefault(sku), p.GetProperty("orders").GetInt64());
        }

        // Segment flows: entries and exits per day from every stream, the size their running sum, as the member count.
        var flows = (await _marketing.GetFromJsonAsync<JsonElement>($"/v1/reports/segments/{segment}/flows?from={from}&to={to}")).GetProperty("days").EnumerateArray().ToList();
        var changes = raw.Where(e => e.Type is "segment_entered" or "segment_left" && e.Text("SegmentId") == segment).ToList();
        var size = 0;
        foreach (var f in flows)
        {
            var date = f.GetProperty("date").GetString()!;
            var enteredThatDay = changes.Count(e => e.Type == "segment_entered" && e.Time.UtcDateTime.ToString("yyyy-MM-dd") == date);
            var leftThatDay = changes.Count(e => e.Type == "segment_left" && e.Time.UtcDateTime.ToString("yyyy-MM-dd") == date);
            size += enteredThatDay - leftThatDay;
            Assert.Equal(enteredThatDay, f.GetProperty("entered").GetInt32());
            Assert.Equal(leftThatDay, f.GetProperty("left").GetInt32());
            Assert.Equal(size, f.GetProperty("size").GetInt32());
        }
        var count = (await _marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/{segment}/count")).GetProperty("members").GetInt32();
        Assert.Equal(count, size);
        var row2 = (await _marketing.GetFromJsonAsync<JsonElement>($"/v1/reports/segments?from={from}&to={to}")).GetProperty("segments").EnumerateArray()
            .Single(s => s.GetProperty("segmentId").GetString() == segment);
        Assert.Equal(count, row2.GetProperty("size").GetInt32());
        Assert.Equal(changes.Count(e => e.Type == "segment_entered" && InRange(e.Time)), row2.GetProperty("entered").GetInt32());
        var sizes = row2.GetProperty("sizes").EnumerateArray().ToList();
        Assert.Equal(sizes.Select(p => p.GetProperty("at").GetDateTimeOffset()).Order(), sizes.Select(p => p.GetProperty("at").GetDateTimeOffset()));
        Assert.Equal(count, sizes[^1].GetProperty("size").GetInt32()); // today's point is now
        foreach (var f in flows)
        {
            var dayEnd = Start(f.GetProperty("date").GetString()!).AddDays(1);
            if (dayEnd > DateTimeOffset.UtcNow) continue;
            Assert.Contains(sizes, p => p.GetProperty("at").GetDateTimeOffset() == dayEnd && p.GetProperty("size").GetInt32() == f.GetProperty("size").GetInt32());
        }
    }

    /// <summary>"source|medium|campaign|category" of a stream: its earliest page's UTM tags or referrer, its most viewed category.</summary>
    private static string GroupOf(List<Raw> events)
    {
        var first = events.Where(e => e.Type == "page_viewed").OrderBy(e => e.Time).ThenBy(e => e.Seq).FirstOrDefault();
        string source = "direct", medium = "", campaign = "";
        if (first is not null)
        {
            var url = new Uri(first.Maybe("Url") ?? "https://shop.example/");
            var query = System.Web.HttpUtility.ParseQueryString(url.Query);
            if (query["utm_source"] is { } s) (source, medium, campaign) = (s, query["utm_medium"] ?? "", query["utm_campaign"] ?? "");
            else if (first.Data.TryGetProperty("Campaign", out var tags) && tags.GetProperty("Source").GetString() is { } tagged)
                (source, medium, campaign) = (tagged, tags.GetProperty("Medium").GetString() ?? "", tags.GetProperty("Name").GetString() ?? "");
            else if (first.Maybe("Referrer") is { } r) (source, medium) = (new Uri(r).Host, "referral");
        }
        var categories = events.Where(e => e.Type is "product_viewed" or "category_viewed" or "cart_item_added").Select(e => e.Maybe("Category")).OfType<string>()
            .GroupBy(c => c).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).Select(g => g.Key).FirstOrDefault() ?? "none";
        return $"{source}|{medium}|{campaign}|{categories}";
    }

    private async Task<List<string>> DrillAsync(string url, int limit)
    {
        var ids = new List<string>();
        string? after = null;
        int? total = null;
        do
        {
            var page = await _marketing.GetFromJsonAsync<JsonElement>($"{url}&limit={limit}{(after is null ? "" : $"&after={Uri.EscapeDataString(after)}")}");
            total ??= page.GetProperty("total").GetInt32();
            ids.AddRange(page.GetProperty("visitors").EnumerateArray().Select(v => v.GetProperty("profileId").GetString()!));
            after = page.GetProperty("next").GetString();
        } while (after is not null);
        Assert.Equal(total, ids.Count);
        return ids;
    }

    private static string Camel(Stage stage) => stage switch
    {
        Stage.RepeatCustomer => "repeatCustomer",
        Stage.AtRisk => "atRisk",
        _ => stage.ToString().ToLowerInvariant(),
    };

    private static DateTimeOffset Start(string date) => new(DateOnly.ParseExact(date, "yyyy-MM-dd").ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

    private async Task<string> PublishCartJourneyAsync(string category)
    {
        await TestTemplates.EnsureAsync(_marketing, "cart-reminder-1");
        var id = $"j-{Guid.NewGuid():N}"[..20];
        var journey = new
        {
            name = $"Cart {category}",
            trigger = new { @event = "cart_item_added", category },
            start = "remind",
            steps = new object[] { new { id = "remind", send = new { channel = "email", template = "cart-reminder-1" } } },
            goal = new { @event = "order_placed", attributionWindow = "P7D" },
            holdoutPercent = 30,
        };
        var create = await _marketing.PostAsJsonAsync("/v1/journeys", new { id, journey });
        Assert.True(create.StatusCode == HttpStatusCode.Created, await create.Content.ReadAsStringAsync());
        var publish = await _marketing.PostAsync($"/v1/journeys/{id}/publish", null);
        Assert.True(publish.StatusCode == HttpStatusCode.OK, await publish.Content.ReadAsStringAsync());
        return id;
    }

    /// <summary>Batches of 200 messages, four at a time; the batch answer must store every message.</summary>
    private async Task SendAsync(IReadOnlyList<object> messages)
    {
        await Parallel.ForEachAsync(messages.Chunk(200), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (chunk, ct) =>
        {
            var response = await _ingest.PostAsJsonAsync("/v1/batch", new { batch = chunk }, ct);
            Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync(ct));
        });
    }

    /// <summary>The log's head once nothing has been appended for 3 s (journeys and deliveries have settled).</summary>
    private async Task<long> QuiescentHighWaterAsync()
    {
        var deadline = DateTime.UtcNow.AddMinutes(3);
        var last = -1L;
        while (true)
        {
            await using var connection = new NpgsqlConnection(host.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("select coalesce(max(seq_id), 0) from actors.mt_events", connection);
            var head = (long)(await command.ExecuteScalarAsync())!;
            if (head == last) return head;
            Assert.True(DateTime.UtcNow < deadline, "the event log kept growing");
            last = head;
            await Task.Delay(TimeSpan.FromSeconds(3));
        }
    }

    private async Task WaitForProjectionsAsync(long high, bool rebuilt)
    {
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (true)
        {
            var status = await _marketing.GetFromJsonAsync<JsonElement>("/v1/reports/status");
            var projections = status.GetProperty("projections").EnumerateArray().ToList();
            Assert.Equal(3, projections.Count);
            Assert.False(string.IsNullOrEmpty(status.GetProperty("daemonNode").GetString()), status.ToString());
            if (projections.All(p => p.GetProperty("state").GetString() == "running" && p.GetProperty("position").GetInt64() >= high
                    && p.GetProperty("progress").GetDouble() >= 1.0))
                return;
            Assert.True(DateTime.UtcNow < deadline, $"projections did not catch up with {high}{(rebuilt ? " after the rebuild" : "")}: {status}");
            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }
    }

    private async Task<List<Raw>> RawEventsAsync()
    {
        await using var connection = new NpgsqlConnection(host.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("select seq_id, stream_id, type, data::text from actors.mt_events order by seq_id", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var events = new List<Raw>();
        while (await reader.ReadAsync())
            events.Add(new Raw(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), JsonDocument.Parse(reader.GetString(3)).RootElement.Clone()));
        return events;
    }
}
