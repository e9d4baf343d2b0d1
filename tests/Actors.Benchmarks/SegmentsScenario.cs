using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Reflection;
using System.Text.Json;
using Actors.Domain.Profiles;
using Actors.Domain.Segments;
using Actors.Domain.Tracking;
using Actors.Grains.Segments;
using Actors.Grains.Visitors;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Concurrency;

namespace Actors.Benchmarks;

/// <summary>
/// 7. What segments cost at ingest. In one run: in-process <c>IVisitorGrain.Track</c> of one event (durable), 32 in
/// flight, over warm users with realistic histories, with 0 active segments; then 10 segments are created through the
/// API (POST /v1/segments, marketing key) and their backfills awaited, and the same load is measured; then 90 more (100
/// in all), measured again; then all are archived (members leave) and 0 is measured again. Cost per event = 1 / rate,
/// so the ratio is rate(0) / rate(100), with rate(0) the mean of the phases before and after (A-B-A, against drift).
/// The rules are the day-one templates and variations of them (count windows per category, stage, attribute, consent,
/// topic, lastEvent, cartAbandoned, orders, ordersTotal, noOrderForDays, rfm). Segment changes add events (segment_entered/left) to the
/// streams: they are counted in the database for each phase.
/// Also a pure-domain figure: SegmentRule.Matches evaluations per second on one thread over profiles folded by Intake.
/// This group runs first and archives its segments at the end: a backfill visits every stream in the database, and the
/// other groups must run with no active segment as before.
/// </summary>
public static class SegmentsScenario
{
    private const int Users = 2_000;
    private const int HistoryEvents = 30;
    private const double Target = 2.0;

    public static async Task<List<Scenario>> RunAsync(BenchHost host, BenchOptions o, CancellationToken ct)
    {
        var rules = Rules();
        var c = o.InProcessConcurrency;
        string Id(int i) => $"anon:seg-{i}";

        // The pure-domain figure first, while nothing else runs in the process.
        var domain = DomainEvaluations(host, rules, o);

        await Load.ForEachAsync("segments: users with history", Users, 16,
            i => Writer.WriteAsync(host, Id(i), Payloads.RichHistory(new Random(1_000 + i), HistoryEvents, TimeSpan.FromDays(60))), ct);
        // RFM thresholds come from the customers' projection every 10 minutes (SegmentCatalog, RfmEvery): computed at
        // start-up over no customer. Have them computed now over these users, so rfm rules see real cut points.
        var rfm = await ForceRfmAsync(host, ct);
        await Load.ForEachAsync("segments: activating users", Users, c, async i => await host.Grains.GetGrain<IVisitorGrain>(Id(i)).GetProfile(), ct);

        using var marketing = host.Client(8, BenchHost.MarketingKey);
        var phases = new List<Phase>();
        async Task MeasureAsync(int segments)
        {
            var active = host.Host.App.Services.GetRequiredService<SegmentCatalog>().Context.Active.Count;
            if (active != segments) throw new InvalidOperationException($"{active} active segments, expected {segments}");
            var load = LoadAverage();
            var (segBefore, allBefore) = await CountEventsAsync(host, ct);
            var r = await Load.ClosedAsync($"segments: Track with {segments} segments", c, o.Warmup, o.Window, async (_, _) =>
            {
                IReadOnlyList<VisitorEvent> events = [Payloads.DomainEvent(Random.Shared, DateTimeOffset.UtcNow)];
                var result = await host.Grains.GetGrain<IVisitorGrain>(Id(Random.Shared.Next(Users))).Track(events.AsImmutable());
                return result.Events.Count == 1;
            }, ct);
            var (segAfter, allAfter) = await CountEventsAsync(host, ct);
            phases.Add(new Phase(segments, r, segAfter - segBefore, allAfter - allBefore, load));
            Progress.Line($"segments: {segments} active: {segAfter - segBefore:N0} segment events of {allAfter - allBefore:N0} stored during the phase (warm-up + window)");
        }

        // This group runs first in the process: the Track path is still being JIT-compiled (tiered, PGO), which made the
        // first measured phase the slowest in earlier runs whatever its segments. One uncounted phase first.
        await Load.ClosedAsync("segments: warming the Track path (not counted)", c, o.Warmup, o.Window, async (_, _) =>
        {
            IReadOnlyList<VisitorEvent> events = [Payloads.DomainEvent(Random.Shared, DateTimeOffset.UtcNow)];
            var result = await host.Grains.GetGrain<IVisitorGrain>(Id(Random.Shared.Next(Users))).Track(events.AsImmutable());
            return result.Events.Count == 1;
        }, ct);
        await MeasureAsync(0);
        var backfill10 = await CreateAsync(marketing, rules.Take(10), host, ct);
        await MeasureAsync(10);
        var backfill100 = await CreateAsync(marketing, rules.Skip(10), host, ct);
        await MeasureAsync(100);
        var members = await MembershipsAsync(host, Users, Id);

        // Leave the database as the other groups expect it: no active segment.
        var archived = await ArchiveAsync(marketing, rules, host, ct);
        // 0 again (A-B-A): drift of the shared machine and the first phase's own warming would otherwise count as
        // (or hide) the cost of segments. The reference is the mean of both 0-segment phases.
        await MeasureAsync(0);

        var p0 = phases[0];
        var again = phases[3];
        var rate0 = (p0.Result.PerSecond + again.Result.PerSecond) / 2;
        // Cost per event = 1 / throughput (µs of the whole system per event at this concurrency); ratio = cost / cost with 0.
        Scenario Row(Phase p, string name, string? target, bool? met) => new(name, 1e6 / p.Result.PerSecond, "µs/event",
            1e6 / rate0, rate0 / p.Result.PerSecond, target, met,
            $"in-process IVisitorGrain.Track of 1 event (durable), {c} in flight, {Users:N0} warm users ({HistoryEvents}-event histories with identity data): " +
            $"{p.Result.PerSecond:N0} events/s with {p.Segments} segments vs {rate0:N0} with 0 (mean of {p0.Result.PerSecond:N0} before and {again.Result.PerSecond:N0} after, segments archived; " +
            $"ratio {p0.Result.PerSecond / p.Result.PerSecond:N2}× / {again.Result.PerSecond / p.Result.PerSecond:N2}× against each); p99 {p.Result.Ms(99):N1} vs {p0.Result.Ms(99):N1} / {again.Result.Ms(99):N1} ms; " +
            $"segment_entered/left written during the phase: {p.SegmentEvents:N0} of {p.AllEvents:N0} events stored ({(double)p.SegmentEvents / Math.Max(1, p.AllEvents - p.SegmentEvents):N2} per other stored event; most are first entries into short windows, e.g. cart additions in the last 24 h, as the 60-day-old histories get new events); " +
            $"load average {p.Load} at start (0 segments: {p0.Load}); errors {p.Result.Errors}");
        var ratio100 = rate0 / phases[2].Result.PerSecond;
        return
        [
            Row(phases[2], "segments-100-cost", "≤ 2× cost with 0 segments", ratio100 <= Target) with
            {
                Notes = Row(phases[2], "", null, null).Notes +
                        $"; backfills: 10 segments {backfill10.TotalSeconds:N1} s, 90 more {backfill100.TotalSeconds:N1} s; memberships after: {members}; " +
                        $"RFM thresholds {(rfm ? "computed over the users" : "NOT available")}; archived afterwards in {archived.TotalSeconds:N1} s; no journey active (the journeys group runs after)",
            },
            Row(phases[1], "segments-10-cost", null, null),
            domain,
        ];
    }

    private sealed record Phase(int Segments, LoadResult Result, long SegmentEvents, long AllEvents, string Load);

    /// <summary>Creates the segments through the API, then waits until every backfill has completed.</summary>
    internal static async Task<TimeSpan> CreateAsync(HttpClient client, IEnumerable<(string Id, string Name, string Rule)> rules, BenchHost host, CancellationToken ct)
    {
        var started = Stopwatch.StartNew();
        var ids = new List<string>();
        foreach (var (id, name, rule) in rules)
        {
            using var body = JsonDocument.Parse(rule);
            using var response = await client.PostAsJsonAsync("/v1/segments", new { id, name, rule = body.RootElement }, ct);
            if (!response.IsSuccessStatusCode)
                throw new InvalidOperationException($"POST /v1/segments {id}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
            ids.Add(id);
        }
        await WaitForBackfillsAsync(client, ids, "segments: backfill", ct);
        Progress.Line($"segments: {ids.Count} created and backfilled in {started.Elapsed.TotalSeconds:N1} s");
        return started.Elapsed;
    }

    private static async Task<TimeSpan> ArchiveAsync(HttpClient client, IEnumerable<(string Id, string Name, string Rule)> rules, BenchHost host, CancellationToken ct)
    {
        var started = Stopwatch.StartNew();
        var ids = rules.Select(r => r.Id).ToList();
        foreach (var id in ids)
        {
            using var response = await client.PostAsync($"/v1/segments/{id}/archive", null, ct);
            response.EnsureSuccessStatusCode();
        }
        await WaitForBackfillsAsync(client, ids, "segments: archiving (members leave)", ct);
        var active = host.Host.App.Services.GetRequiredService<SegmentCatalog>().Context.Active.Count;
        Progress.Line($"segments: archived in {started.Elapsed.TotalSeconds:N1} s; {active} active");
        return started.Elapsed;
    }

    private static async Task WaitForBackfillsAsync(HttpClient client, List<string> ids, string label, CancellationToken ct)
    {
        var pending = new HashSet<string>(ids);
        var lastReport = Stopwatch.StartNew();
        while (pending.Count > 0)
        {
            foreach (var id in pending.ToList())
            {
                using var response = await client.GetAsync($"/v1/segments/{id}/backfill", ct);
                response.EnsureSuccessStatusCode();
                using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
                var state = json.RootElement.GetProperty("state").GetString();
                if (state == "completed") pending.Remove(id);
                else if (state is "failed" or "superseded")
                    throw new InvalidOperationException($"backfill of {id}: {state} {json.RootElement}");
            }
            if (pending.Count == 0) break;
            if (lastReport.Elapsed > TimeSpan.FromSeconds(2))
            {
                Progress.Line($"{label}: {ids.Count - pending.Count}/{ids.Count} completed");
                lastReport.Restart();
            }
            await Task.Delay(250, ct);
        }
    }

    /// <summary>Members per segment over the users: how many memberships there are and in how many segments.</summary>
    private static async Task<string> MembershipsAsync(BenchHost host, int users, Func<int, string> id)
    {
        long total = 0;
        var bySegment = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < users; i += 10)
        {
            var view = (await host.Grains.GetGrain<IVisitorGrain>(id(i)).GetProfile()).Value;
            foreach (var s in view.Segments)
            {
                total++;
                bySegment[s] = bySegment.GetValueOrDefault(s) + 1;
            }
        }
        var sampled = (users + 9) / 10;
        return $"{total / (double)sampled:N1} segments per user on average (sample of {sampled:N0}), {bySegment.Count} of 100 segments non-empty";
    }

    private static async Task<(long Segment, long All)> CountEventsAsync(BenchHost host, CancellationToken ct)
    {
        var schema = host.Host.App.Services.GetRequiredService<IDocumentStore>().Options.Events.DatabaseSchemaName;
        await using var command = host.Database.CreateCommand(
            $"select count(*) filter (where type in ('{EventNames.SegmentEntered}', '{EventNames.SegmentLeft}')), count(*) from {schema}.mt_events");
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>
    /// SegmentCatalog recomputes RFM thresholds only every RfmEvery (10 minutes), and first at start-up, when there is
    /// no customer. No public way to ask for it now: reset its private clock and refresh. Returns whether thresholds exist.
    /// </summary>
    private static async Task<bool> ForceRfmAsync(BenchHost host, CancellationToken ct)
    {
        var catalog = host.Host.App.Services.GetRequiredService<SegmentCatalog>();
        var field = typeof(SegmentCatalog).GetField("_rfmComputedAt", BindingFlags.Instance | BindingFlags.NonPublic);
        if (field is null)
        {
            Progress.Line("segments: cannot force an RFM computation (SegmentCatalog changed); rfm rules run without thresholds");
            return catalog.Context.Rfm is not null;
        }
        field.SetValue(catalog, DateTimeOffset.MinValue);
        await catalog.RefreshAsync(ct);
        Progress.Line($"segments: RFM thresholds {(catalog.Context.Rfm is { } t ? $"recency {string.Join("/", t.RecencyDays.Select(d => d.ToString("N0", CultureInfo.InvariantCulture)))} days, frequency {string.Join("/", t.Frequency)}" : "none")}");
        return catalog.Context.Rfm is not null;
    }

    /// <summary>SegmentRule.Matches on one thread: every rule against every profile, round after round.</summary>
    private static Scenario DomainEvaluations(BenchHost host, List<(string Id, string Name, string Rule)> rules, BenchOptions o)
    {
        var now = DateTimeOffset.UtcNow;
        var profiles = new List<VisitorProfile>();
        for (var i = 0; i < 1_000; i++)
        {
            var profile = new VisitorProfile($"anon:dom-{i}");
            var history = Payloads.RichHistory(new Random(1_000 + i), HistoryEvents, TimeSpan.FromDays(60));
            Intake.Handle(profile, history, history[^1].ReceivedTime, host.Settings.Lifecycle);
            profiles.Add(profile);
        }
        var customers = profiles.Where(p => p.Orders.Count > 0)
            .Select(p => ((now - (p.Orders.LastAt ?? now)).TotalDays, p.Orders.Count, p.Orders.Total - p.Orders.Refunded));
        var rfm = Rfm.Thresholds(customers, now);
        var parsed = rules.Select(r =>
        {
            using var json = JsonDocument.Parse(r.Rule);
            return SegmentRule.Parse(json.RootElement).Rule!;
        }).ToArray();

        long Round(ref long matched)
        {
            foreach (var p in profiles)
                foreach (var rule in parsed)
                    if (rule.Matches(p, now, rfm)) matched++;
            return (long)profiles.Count * parsed.Length;
        }

        long matches = 0, evaluations = 0, ignored = 0;
        var duration = o.Quick ? TimeSpan.FromSeconds(2) : TimeSpan.FromSeconds(5);
        var warmEnd = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 2;
        while (Stopwatch.GetTimestamp() < warmEnd) Round(ref ignored);
        var load = LoadAverage();
        var started = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(started) < duration) evaluations += Round(ref matches);
        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var perSecond = evaluations / elapsed;

        // What the grain does after each change, for scale: NextChange of every rule (the wake-up time).
        long nextChanges = 0;
        var nextStarted = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(nextStarted) < duration / 2)
            foreach (var p in profiles)
                foreach (var rule in parsed)
                {
                    if (rule.NextChange(p, now, rfm) is not null) ignored++;
                    nextChanges++;
                }
        var nextPerSecond = nextChanges / Stopwatch.GetElapsedTime(nextStarted).TotalSeconds;
        Progress.Line($"segments (domain): {perSecond:N0} Matches/s, {nextPerSecond:N0} NextChange/s on one thread; {matches / (double)evaluations:P1} match");

        return new("rule-evaluations-per-s-per-core", perSecond, "evaluations/s", null, null, null, null,
            $"pure domain, one thread: SegmentRule.Matches of the same 100 rules over 1,000 profiles folded by Intake.Handle from {HistoryEvents}-event histories " +
            $"(with identity data; RFM thresholds from those profiles), {duration.TotalSeconds:N0} s after a 2 s warm-up (tiered JIT); {matches / (double)evaluations:P1} of evaluations match; " +
            $"{perSecond / parsed.Length:N0} profiles × 100 rules per second; NextChange (the grain's wake-up search, after each change): {nextPerSecond:N0}/s; load average {load} at start");
    }

    internal static string LoadAverage()
    {
        try
        {
            return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException) { return "?"; }
        catch (UnauthorizedAccessException) { return "?"; }
    }

    /// <summary>
    /// 100 realistic rules: the templates, then variations. The first 10 (the "10 segments" phase) are a mix of kinds.
    /// </summary>
    public static List<(string Id, string Name, string Rule)> Rules()
    {
        var all = new List<(string Id, string Name, string Rule)>();
        void Add(string id, string rule) => all.Add((id, id.Replace('-', ' '), rule));

        foreach (var t in SegmentTemplates.All) all.Add((t.Id, t.Name, t.RuleJson));
        var interested = SegmentTemplates.All.Single(t => t.Id == "interested-in-category").RuleJson;
        var anonymous = SegmentTemplates.All.Single(t => t.Id == "anonymous-by-category-interest").RuleJson;
        var categories = Payloads.CategoryNames;
        foreach (var cat in categories.Where(c => c != "shoes"))
        {
            Add($"interested-in-{cat}", interested.Replace("shoes", cat, StringComparison.Ordinal));
            Add($"anonymous-interest-{cat}", anonymous.Replace("shoes", cat, StringComparison.Ordinal));
        }
        foreach (var cat in categories)
        {
            Add($"hot-{cat}-7d", $$$"""{"count":{"event":"product_viewed","category":"{{{cat}}}","atLeast":5,"withinDays":7}}""");
            Add($"carted-{cat}-24h", $$$"""{"lastEvent":{"event":"cart_item_added","category":"{{{cat}}}","withinHours":24}}""");
            Add($"bought-{cat}-90d", $$$"""{"count":{"event":"order_placed","category":"{{{cat}}}","atLeast":1,"withinDays":90}}""");
            Add($"topic-{cat}-emailable", $$$"""{"all":[{"topic":"{{{cat}}}"},{"consent":"email:marketing"}]}""");
            Add($"browsed-not-bought-{cat}",
                $$$$"""{"all":[{"count":{"event":"product_viewed","category":"{{{{cat}}}}","atLeast":3,"withinDays":30}},{"not":{"count":{"event":"order_placed","category":"{{{{cat}}}}","atLeast":1,"withinDays":30}}}]}""");
        }
        foreach (var stage in new[] { "anonymous", "lead", "customer", "repeat_customer", "at_risk", "lapsed" })
            Add($"emailable-{stage.Replace('_', '-')}", $$$"""{"all":[{"stage":"{{{stage}}}"},{"consent":"email:marketing"}]}""");
        foreach (var tier in new[] { "gold", "silver", "bronze" }) Add($"tier-{tier}", $$$"""{"attribute":"tier","equals":"{{{tier}}}"}""");
        Add("tier-top-customers", """{"all":[{"attribute":"tier","in":["gold","silver"]},{"orders":{"atLeast":1}}]}""");
        Add("high-ltv", """{"attribute":"ltv","gte":1000}""");
        foreach (var (after, within, checkout) in new[] { (1, 24, false), (4, 72, false), (24, 168, false), (1, 24, true), (2, 48, true), (12, 336, true) })
            Add($"cart-abandoned-{after}h-{within}h{(checkout ? "-checkout" : "")}",
                "{\"cartAbandoned\":{\"afterHours\":" + after + ",\"withinHours\":" + within + ",\"checkoutStarted\":" + (checkout ? "true" : "false") + "}}");
        Add("frequent-buyers-30d", """{"orders":{"atLeast":3,"withinDays":30}}""");
        Add("big-spenders-365d", """{"ordersTotal":{"atLeast":200,"withinDays":365}}""");
        Add("mid-spenders", """{"ordersTotal":{"atLeast":50,"atMost":200}}""");
        Add("rfm-top-cells", """{"rfmCell":["555","554","545"]}""");
        Add("rfm-cant-lose", """{"rfm":{"recency":[1,2],"frequency":[4,5]}}""");
        Add("rfm-big-wallets", """{"rfm":{"monetary":5}}""");
        Add("rfm-new-customers", """{"rfm":{"recency":5,"frequency":1}}""");
        foreach (var days in new[] { 30, 60, 180 }) Add($"no-order-{days}d", $$$"""{"all":[{"orders":{"atLeast":1}},{"noOrderForDays":{{{days}}}}]}""");
        Add("searchers-48h", """{"count":{"event":"products_searched","atLeast":3,"withinHours":48}}""");
        Add("heavy-browsers-1d", """{"count":{"event":"page_viewed","atLeast":10,"withinDays":1}}""");
        Add("video-watchers", """{"count":{"event":"behaviour_tracked","atLeast":1,"withinDays":30}}""");
        Add("checkout-2h", """{"lastEvent":{"event":"checkout_started","withinHours":2}}""");
        Add("prefs-updated-7d", """{"lastEvent":{"event":"preferences_updated","withinDays":7}}""");
        Add("weekly-readers", """{"all":[{"frequency":"weekly"},{"newsletter":true},{"paused":false}]}""");
        Add("video-lovers", """{"any":[{"contentType":"video"},{"count":{"event":"behaviour_tracked","atLeast":2,"withinDays":14}}]}""");
        Add("account-leads", """{"all":[{"leadKind":"account"},{"orders":{"atMost":0}}]}""");
        Add("not-subscribed-buyers", """{"all":[{"not":{"newsletter":true}},{"orders":{"atLeast":1,"withinDays":60}}]}""");
        Add("source-google", """{"attribute":"utm_source","equals":"google"}""");
        Add("source-social-anonymous", """{"all":[{"stage":"anonymous"},{"attribute":"utm_source","in":["instagram","newsletter"]}]}""");

        if (all.Count < 100) throw new InvalidOperationException($"only {all.Count} rules");
        all = all.Take(100).ToList();
        // The 10-segment phase: every tenth, which spreads over the kinds above.
        var first = Enumerable.Range(0, 10).Select(i => all[i * 10]).ToList();
        var ordered = first.Concat(all.Where(r => !first.Contains(r))).ToList();
        foreach (var (id, _, rule) in ordered)
        {
            using var json = JsonDocument.Parse(rule);
            var parsed = SegmentRule.Parse(json.RootElement);
            if (!parsed.IsValid) throw new InvalidOperationException($"rule {id}: " + string.Join("; ", parsed.Errors.Select(e => $"{e.Path}: {e.Message}")));
        }
        if (ordered.Select(r => r.Id).Distinct().Count() != ordered.Count) throw new InvalidOperationException("duplicate segment ids");
        return ordered;
    }
}
