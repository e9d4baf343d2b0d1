using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Actors.Domain.Tracking;
using Actors.Grains.Visitors;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Concurrency;

namespace Actors.Benchmarks;

/// <summary>
/// Journeys (issue 11), on visitors written with a short history, an email:marketing consent, an email address and a CRM
/// attribute that puts them in one segment (created through the API, its backfill awaited). The host runs with no quiet
/// hours and no marketing cap (see <see cref="BenchHost"/>), so every send step is really decided "sent", and delivered
/// to the benchmark's SMTP server (<see cref="SmtpCountSink"/>) while the group runs. Before 2026-12-01 the visitors
/// had no address: every message was decided "sent" and then failed by the provider (no_email_address), never rendered.
/// 0. A warm-up (since 2026-12-01): the same shape of journey triggered for 2,000 visitors of its own, delivered before
/// anything is timed, so that the trigger is not timed while its code is first compiled (as the delivery group does).
/// 1. <c>journey-trigger-100k</c>: a published manual journey whose first step is a send, triggered for the segment
/// (POST /v1/journeys/{id}/trigger); timed from the POST until the progress says done, then the figures route must
/// count a sent message for every member (the grain enters and sends in the same call and append).
/// 2. <c>journey-event-to-decision-p99</c>: a journey triggered by cart_item_added of a category, with a send at once;
/// Segment "Product Added" messages of that category over HTTP, first at the maximum rate (closed loop), then in an
/// open loop at half of it (its first seconds a warm-up, described apart). The decision is stored in the same append as the event, so it is durable when the 200
/// arrives: the figure is the p99 of those requests, and the decisions stored during the open loop are counted. Reference:
/// the same requests at the same rate once the journey is archived. Since 2026-12-03 the notes also give the open loop at
/// half the sustained maximum: the closed loop's requests over its time and the time its emails, reports and
/// projections took to finish after it (the closed loop leaves most of them for after it).
/// 3. <c>journeys-20-cost</c>: per-event cost of in-process Track (as segments-100-cost) with 20 active journeys whose
/// triggers match the traffic and whose first step is a 1-day wait (visitors stay inside), against none (A-B-A).
/// Everything is archived at the end (journeys and the segment), so the groups after this one run without them.
/// </summary>
public static class JourneysScenario
{
    private const string SegmentId = "bench-journeys";
    private const string Category = "shoes";
    private const int CostUsers = 2_000;

    public static async Task<List<Scenario>> RunAsync(BenchHost host, BenchOptions o, CancellationToken ct)
    {
        var n = o.Quick ? 10_000 : 100_000;
        var c = o.InProcessConcurrency;
        string Id(int i) => $"anon:jb-{i}";
        using var marketing = host.Client(8, BenchHost.MarketingKey);

        // The segment first (its backfill meets only the streams earlier groups left), then the visitors through their
        // grains, in-process: each is activated and its history appended with segment_entered in the same append.
        var setup = Stopwatch.StartNew();
        await Send(marketing, HttpMethod.Post, "/v1/segments",
            new { id = SegmentId, name = "Bench journeys", rule = Json("""{"attribute":"bench","equals":"journeys"}""") }, ct);
        await WaitForBackfillAsync(marketing, "journeys: segment backfill", ct);
        await Load.ForEachAsync("journeys: visitors with consent (in-process Track)", n, c, async i =>
        {
            var random = new Random(50_000 + i);
            var events = Payloads.History(random, 3, TimeSpan.FromDays(10));
            var at = DateTimeOffset.UtcNow.AddDays(-1);
            events.Add(new ConsentGiven("email", "marketing") { MessageId = Guid.NewGuid().ToString(), EventTime = at, ReceivedTime = at });
            // An address: a visitor without one is suppressed when the message is decided (no_email_address), never sent.
            events.Add(new AttributesUpdated(new Dictionary<string, string?> { ["bench"] = "journeys", ["email"] = $"jb-{i}@example.test" }, "crm")
                { MessageId = Guid.NewGuid().ToString(), EventTime = at, ReceivedTime = at });
            IReadOnlyList<VisitorEvent> list = events;
            await host.Grains.GetGrain<IVisitorGrain>(Id(i)).Track(list.AsImmutable());
        }, ct);
        var size = await SegmentSizeAsync(marketing, ct);
        Progress.Line($"journeys: segment of {size:N0} members in {setup.Elapsed.TotalSeconds:N1} s");
        if (size != n) throw new InvalidOperationException($"segment {SegmentId} has {size} members, expected {n}");

        var results = new List<Scenario>();
        var journeyIds = new List<string>();
        var outboxSchema = host.Host.App.Services.GetRequiredService<IDocumentStore>().Options.Events.DatabaseSchemaName;
        const string waitLabel = "journeys: waiting for {0:N0} messages of the previous phase to be delivered and reported";

        // 0. Warm-up, as the delivery group's: the trigger's whole path (trigger, decision, outbox, render, compose, send,
        // report) runs once on visitors of its own (not in the segment), so the trigger below is not timed while its code
        // is first compiled. perf put the JIT at 10-13 % of the host's samples over a quick trigger without it.
        const int warm = 2_000;
        await Load.ForEachAsync("journeys: warm-up visitors with consent (in-process Track)", warm, c, async i =>
        {
            var at = DateTimeOffset.UtcNow.AddDays(-1);
            IReadOnlyList<VisitorEvent> list =
            [
                new ConsentGiven("email", "marketing") { MessageId = Guid.NewGuid().ToString(), EventTime = at, ReceivedTime = at },
                new AttributesUpdated(new Dictionary<string, string?> { ["email"] = $"jbw-{i}@example.test" }, "crm")
                    { MessageId = Guid.NewGuid().ToString(), EventTime = at, ReceivedTime = at },
            ];
            await host.Grains.GetGrain<IVisitorGrain>($"anon:jbw-{i}").Track(list.AsImmutable());
        }, ct);
        const string warmJourney = """{"name":"Bench warm-up","trigger":{"manual":true},"start":"send","steps":[{"id":"send","send":{"channel":"email","template":"bench-warm-up"}}]}""";
        await CreateAndPublishAsync(marketing, "bench-warm-up", warmJourney, ct);
        journeyIds.Add("bench-warm-up");
        await DeliveryScenario.TriggerAsync(marketing, "bench-warm-up", "warm-up", [.. Enumerable.Range(0, warm).Select(i => $"anon:jbw-{i}")], ct);
        while ((await GetJsonAsync(marketing, "/v1/journeys/bench-warm-up/triggers/warm-up", ct)).GetProperty("state").GetString() == "running")
            await Task.Delay(50, ct);
        await DeliveryScenario.WaitForIdleOutboxAsync(host, outboxSchema, ct, waitLabel);
        await WaitForReportsAsync(host, outboxSchema, ct);
        await VacuumBeforeTimingAsync(host, "after the visitors were loaded", ct);

        // 1. Trigger for the segment (left out by --skip-trigger, a diagnostic run of the phases after it).
        if (!o.SkipTrigger)
        {
            await CreateAndPublishAsync(marketing, "bench-manual",
                """{"name":"Bench manual","trigger":{"manual":true},"start":"send","steps":[{"id":"send","send":{"channel":"email","template":"bench-manual"}}]}""", ct);
            journeyIds.Add("bench-manual");
            var triggerLoad = SegmentsScenario.LoadAverage();
            var triggerCpu = CpuTime.Now(host);
            var started = Stopwatch.StartNew();
            using (var post = await marketing.PostAsJsonAsync("/v1/journeys/bench-manual/trigger", new { segment = SegmentId, triggerId = "bench-1" }, ct))
            {
                if (post.StatusCode != System.Net.HttpStatusCode.Accepted)
                    throw new InvalidOperationException($"trigger: {(int)post.StatusCode} {await post.Content.ReadAsStringAsync(ct)}");
            }
            JsonElement progress;
            var lastReport = Stopwatch.StartNew();
            while (true)
            {
                progress = await GetJsonAsync(marketing, "/v1/journeys/bench-manual/triggers/bench-1", ct);
                var state = progress.GetProperty("state").GetString();
                if (state == "done") break;
                if (state == "failed") throw new InvalidOperationException($"trigger failed: {progress}");
                if (lastReport.Elapsed > TimeSpan.FromSeconds(2))
                {
                    Progress.Line($"  journeys: trigger {progress.GetProperty("done").GetInt64():N0}/{progress.GetProperty("total").GetInt64():N0}");
                    lastReport.Restart();
                }
                await Task.Delay(20, ct);
            }
            var elapsed = started.Elapsed;
            // CPU used while the trigger ran (its delivery and reports beside it), per visitor and as cores busy.
            var triggerUsed = CpuTime.Now(host) - triggerCpu;
            // How much of its email left while it ran, and how fast the rest leaves after it: a trigger's grain calls in
            // flight take the thread pool's turns from the delivery beside it (docs/benchmarks-log.md, thirteenth session).
            var deliveredDuring = await FinishedAsync(host, outboxSchema, "bench-manual", ct);
            var drainWatch = Stopwatch.StartNew();
            // The reporting projections pause while a large trigger runs and catch up after it (docs/benchmarks-log.md, eighteenth session).
            var reportsBehind = await ReportsBehindAsync(host, outboxSchema, ct);
            var figures = await GetJsonAsync(marketing, "/v1/journeys/bench-manual/figures", ct);
            var sent = figures.GetProperty("messagesSent").GetInt64();
            var decided = Decided(figures);
            var entered = progress.GetProperty("entered").GetInt64();
            var rate = n / elapsed.TotalSeconds;
            Progress.Line($"journeys: trigger for {n:N0} in {elapsed.TotalSeconds:N2} s ({rate:N0}/s): {entered:N0} entered, {sent:N0} sent, {decided:N0} decided");
            var complete = entered == n && sent == n;

            // The floor under any trigger on this machine now: the same visitors, the same grain calls in flight, each call
            // appending one event that starts nothing (no journey, no segment change, no message). A trigger does that and
            // more (entry, decision, outbox row, and the delivery running beside it), so it cannot go faster than this.
            await DeliveryScenario.WaitForIdleOutboxAsync(host, outboxSchema, ct, waitLabel);
            var drainRate = (n - deliveredDuring) / Math.Max(0.001, drainWatch.Elapsed.TotalSeconds);
            Progress.Line($"journeys: {deliveredDuring:N0} of the trigger's emails left while it ran ({deliveredDuring / elapsed.TotalSeconds:N0}/s), " +
                $"the other {n - deliveredDuring:N0} at {drainRate:N0}/s after it");
            await WaitForReportsAsync(host, outboxSchema, ct);
            var reportsCaughtUp = drainWatch.Elapsed;
            Progress.Line($"journeys: the reports were {reportsBehind:N0} events behind when the trigger ended and had caught up within {reportsCaughtUp.TotalSeconds:N1} s after it, " +
                "while its emails left");
            var parallelism = host.Host.App.Services.GetRequiredService<Actors.Grains.Journeys.JourneyTriggers>().Parallelism;
            var floorCpu = CpuTime.Now(host);
            var floorWatch = Stopwatch.StartNew();
            await Load.ForEachAsync("journeys: floor, one plain append per visitor (in-process Track)", n, parallelism, async i =>
            {
                var at = DateTimeOffset.UtcNow;
                IReadOnlyList<VisitorEvent> list = [new AttributesUpdated(new Dictionary<string, string?> { ["bench_floor"] = "1" }, "crm")
                    { MessageId = Guid.NewGuid().ToString(), EventTime = at, ReceivedTime = at }];
                await host.Grains.GetGrain<IVisitorGrain>(Id(i)).Track(list.AsImmutable());
            }, ct);
            var floor = n / floorWatch.Elapsed.TotalSeconds;
            var floorUsed = CpuTime.Now(host) - floorCpu;
            string Busy(CpuTime used, TimeSpan window) => $"{used.PerWithoutSink(n)} per visitor, {(used.Process + used.Postgres) / window:N2} cores busy";
            Progress.Line($"journeys: floor for {n:N0} in {floorWatch.Elapsed.TotalSeconds:N2} s ({floor:N0}/s, {Busy(floorUsed, floorWatch.Elapsed)}); " +
                $"the trigger {rate / floor:P0} of it ({Busy(triggerUsed, elapsed)})");
            results.Add(new($"journey-trigger-{(n >= 100_000 ? "100k" : "10k")}", rate, "visitors/s", floor, rate / floor, "≥ 5,000 visitors/s (absolute, from the issue)",
                complete && rate >= 5_000,
                $"POST /v1/journeys/{{id}}/trigger for a segment of {n:N0} visitors (active grains: each was written through its grain) until GET …/triggers/{{id}} says done, " +
                $"{elapsed.TotalSeconds:N2} s; the journey's first step is an email send, decided in the same grain call and append as the entry; " +
                $"figures after: {entered:N0} entered, {sent:N0} messages sent, {decided - sent:N0} deferred or suppressed{(complete ? "" : " — NOT every visitor has a sent message, so the target is missed")}; " +
                $"emails that left the outbox while it ran: {deliveredDuring:N0} ({deliveredDuring / elapsed.TotalSeconds:N0}/s), the rest at {drainRate:N0}/s after it; " +
                $"the reports were {reportsBehind:N0} events behind when it ended (bulk delivery and the reporting projections wait while a large trigger runs) and had caught up within {reportsCaughtUp.TotalSeconds:N1} s; " +
                $"the trigger runs {parallelism} grain calls at a time, after a warm-up trigger of the same journey shape for {warm:N0} other visitors (delivered before it); an absolute target, on 2 cores shared by client, host and PostgreSQL; load average {triggerLoad} at start; " +
                $"reference: the floor, the same {n:N0} visitors each sent one event that starts nothing (in-process IVisitorGrain.Track, one durable append, {parallelism} in flight, " +
                $"after the trigger's messages were delivered): {floorWatch.Elapsed.TotalSeconds:N2} s, {floor:N0}/s"));
        }

        // 2. Event to decision: cart_item_added of a category, send at once.
        await CreateAndPublishAsync(marketing, "bench-event",
            $$$"""{"name":"Bench event","trigger":{"event":"cart_item_added","category":"{{{Category}}}"},"start":"send","steps":[{"id":"send","send":{"channel":"email","template":"bench-event"}}]}""", ct);
        journeyIds.Add("bench-event");
        using var client = host.Client(o.HttpConcurrency * 2);
        var json = new MediaTypeHeaderValue("application/json");
        long cartAdds = 0; // every request sent, warm-ups included: what a phase's CPU is divided by
        async Task<bool> AddToCart()
        {
            Interlocked.Increment(ref cartAdds);
            using var content = new ByteArrayContent(CartMessage());
            content.Headers.ContentType = json;
            using var response = await client.PostAsync($"/v1/visitors/jb-{Random.Shared.Next(n)}/events", content, ct);
            return response.IsSuccessStatusCode;
        }
        // Each phase delivers its own messages while it runs, not the ones an earlier phase decided (the trigger's
        // 10,000 are still leaving the outbox when it reports done). Then what the host costs with every visitor's grain
        // active and nothing to do: at the open loop's low rate that is a large part of each request's CPU.
        var quiet = await IngestScenario.SettleAsync(host, "journeys", ct, quietSeconds: 5);
        var eventLoad = SegmentsScenario.LoadAverage();
        // CPU per request at the maximum too: at half of it each request costs more (smaller batches everywhere), and
        // that ratio, not the maximum, is what leaves the open loop's machine full or not. Read once the loop's emails
        // are delivered and its events projected, so work the loop put off counts in its cost.
        var maxCounted = o.Timeline ? await OpenLoopTimeline.StartCountingAsync(host) : null;
        var (maxCpu, maxWakeups, maxSent) = (CpuTime.Now(host), Wakeups.Now(host), Interlocked.Read(ref cartAdds));
        var maxWatch = Stopwatch.StartNew();
        var max = await Load.ClosedAsync("journeys: cart adds that trigger a send, max rate", o.HttpConcurrency, o.Warmup, o.Window, (_, _) => AddToCart(), ct);
        var maxLoop = maxWatch.Elapsed;
        var sentAtMax = Interlocked.Read(ref cartAdds) - maxSent;
        var before = Decided(await GetJsonAsync(marketing, "/v1/journeys/bench-event/figures", ct));
        var half = max.PerSecond / 2;
        await DeliveryScenario.WaitForIdleOutboxAsync(host, outboxSchema, ct, waitLabel, poll: TimeSpan.FromMilliseconds(200));
        await WaitForReportsAsync(host, outboxSchema, ct);
        // The closed loop's maximum leaves most of its emails, their reports and their projections for after it (they
        // run below the requests). What the node sustains is its requests over the loop and the time all that took.
        var maxSettled = maxWatch.Elapsed;
        var sustained = sentAtMax / maxSettled.TotalSeconds;
        Progress.Line($"  journeys: sustained maximum {sustained:N0}/s: the closed loop's {sentAtMax:N0} requests (warm-up included) over its {maxLoop.TotalSeconds:N1} s " +
            $"and the {(maxSettled - maxLoop).TotalSeconds:N1} s until their emails were delivered and reported and their events projected");
        var maxCpuPer = (CpuTime.Now(host) - maxCpu).PerWithoutSink(sentAtMax) + ", " + (Wakeups.Now(host) - maxWakeups).Per(sentAtMax);
        // PostgreSQL's statements per request at the maximum too, its delivery and reports included: against the open
        // loop's, they say which statements cost a request more at half the rate.
        if (maxCounted is not null) await OpenLoopTimeline.PrintCountsAsync(host, "journeys: cart adds at max rate, statements", sentAtMax, maxCounted);
        Progress.Line($"  journeys: cart adds at max rate: {maxCpuPer} per request, their delivery and reports included");
        await VacuumBeforeTimingAsync(host, "before the open loop", ct);
        // Both open loops run their first seconds as a warm-up (as every closed loop does): from an idle node to the rate
        // at once is not what the p99 is about, and their first second or two were slow with a journey and not without
        // one. What the warm-up saw is in the notes; its requests count in the CPU per request and the decisions.
        static long Served(LoadResult r) => r.Ops + (r.Warmup?.Ops ?? 0);
        var (openCpu, openWakeups, openProviders) = (CpuTime.Now(host), Wakeups.Now(host), CpuTime.ProviderThreads());
        using var diagnostics = new CancellationTokenSource();
        var holding = o.HoldReports ? OpenLoopTimeline.HoldReportsAsync(host, diagnostics.Token) : Task.CompletedTask;
        if (o.HoldReports) await Task.Delay(TimeSpan.FromSeconds(2), ct); // the daemon's node asks about holds every second
        var counted = o.Timeline ? await OpenLoopTimeline.StartCountingAsync(host) : null;
        var sampling = o.Timeline ? OpenLoopTimeline.RunAsync(host, outboxSchema, o.Warmup, diagnostics.Token) : null;
        var open = await Load.OpenAsync("journeys: cart adds at half max", half, o.HttpConcurrency * 2, o.Window, _ => AddToCart(), ct, o.Warmup);
        await diagnostics.CancelAsync();
        await holding;
        if (sampling is not null) (await sampling).Print("journeys: cart adds at half max, timeline");
        if (counted is not null) await OpenLoopTimeline.PrintCountsAsync(host, "journeys: cart adds at half max, statements", Served(open), counted);
        // CPU per request, here and in the reference: where a decided message's work goes (this process or PostgreSQL),
        // and how much of the host's ran on the channel providers' threads, below the requests' priority.
        var openCpuPer = (CpuTime.Now(host) - openCpu).PerWithoutSink(Served(open)) +
            $" (of the host's, {(CpuTime.ProviderThreads() - openProviders).TotalMilliseconds / Served(open):N2} ms on the channel provider threads at nice " +
            $"{host.Host.App.Services.GetRequiredService<Actors.Grains.Channels.ProviderThreads>().Nice}; threads they started set back to 0 so far: " +
            $"{host.Host.App.Services.GetRequiredService<Actors.Grains.Channels.ProviderThreads>().Restored})" +
            ", " + (Wakeups.Now(host) - openWakeups).Per(Served(open));
        Progress.Line($"  journeys: cart adds at half max: {openCpuPer} per request");
        var afterFigures = await GetJsonAsync(marketing, "/v1/journeys/bench-event/figures", ct);
        var during = Decided(afterFigures) - before;
        var p99 = open.Ms(99);
        // The same requests at half of what the node sustains (not the row's figure: the issue's is half the maximum).
        await DeliveryScenario.WaitForIdleOutboxAsync(host, outboxSchema, ct, waitLabel);
        await WaitForReportsAsync(host, outboxSchema, ct);
        await VacuumBeforeTimingAsync(host, "before the open loop at half the sustained maximum", ct);
        var atSustained = await Load.OpenAsync("journeys: cart adds at half the sustained max", sustained / 2, o.HttpConcurrency * 2, o.Window, _ => AddToCart(), ct, o.Warmup);
        var sustainedNote = $"at half of the sustained maximum ({sustained:N0}/s: the closed loop's requests over its {maxLoop.TotalSeconds:N1} s and the " +
            $"{(maxSettled - maxLoop).TotalSeconds:N1} s its emails, reports and projections took after it), {atSustained.PerSecond:N0}/s: p50 {atSustained.Ms(50):N2}, " +
            $"p99 {atSustained.Ms(99):N2}, p99.9 {atSustained.Ms(99.9):N2} ms, errors {atSustained.Errors}";
        Progress.Line($"  journeys: {sustainedNote}");
        await ArchiveJourneysAsync(marketing, journeyIds, ct);
        await DeliveryScenario.WaitForIdleOutboxAsync(host, outboxSchema, ct, waitLabel);
        // Reference: the same requests at the same rate with no journey active (what ingest alone costs on this machine now).
        await WaitForReportsAsync(host, outboxSchema, ct);
        await VacuumBeforeTimingAsync(host, "before the reference's open loop", ct);
        var bareCounted = o.Timeline ? await OpenLoopTimeline.StartCountingAsync(host) : null;
        var (bareCpu, bareWakeups) = (CpuTime.Now(host), Wakeups.Now(host));
        var bare = await Load.OpenAsync("journeys: the same cart adds, no journey active (reference)", half, o.HttpConcurrency * 2, o.Window, _ => AddToCart(), ct, o.Warmup);
        var bareCpuPer = (CpuTime.Now(host) - bareCpu).PerWithoutSink(Served(bare)) + ", " + (Wakeups.Now(host) - bareWakeups).Per(Served(bare));
        Progress.Line($"  journeys: the same cart adds, no journey: {bareCpuPer} per request");
        if (bareCounted is not null) await OpenLoopTimeline.PrintCountsAsync(host, "journeys: the same cart adds, no journey, statements", Served(bare), bareCounted);
        results.Add(new("journey-event-to-decision-p99", p99, "ms", bare.Ms(99), p99 / bare.Ms(99), "p99 < 50 ms at half of max rate", p99 < 50 && during == Served(open),
            $"POST /v1/visitors/{{id}}/events of a Segment \"Product Added\" ({Category}) for {n:N0} visitors with consent; the journey (trigger cart_item_added " +
            $"of {Category}, then a send) enters and decides in the same append, so the decision is durable at the 200: the figure is that request's latency; " +
            $"max rate {max.PerSecond:N0}/s (closed loop, {o.HttpConcurrency} in flight, p99 {max.Ms(99):N1} ms, CPU per request {maxCpuPer}), open loop at {half:N0}/s: p50 {open.Ms(50):N2}, " +
            $"p99 {p99:N2}, p99.9 {open.Ms(99.9):N2} ms; {sustainedNote}; message_decided stored during the open loop and its warm-up: {during:N0} for {Served(open):N0} requests answered 200 " +
            $"({afterFigures.GetProperty("messagesSent").GetInt64():N0} sent in all); load average {eventLoad} at start; errors {open.Errors}; reference: the same requests at the same rate after the journey was archived " +
            $"(nothing entered or decided): p50 {bare.Ms(50):N2}, p99 {bare.Ms(99):N2}, p99.9 {bare.Ms(99.9):N2} ms, errors {bare.Errors}; CPU per request {openCpuPer} " +
            $"(reference {bareCpuPer}); before the phases, {quiet} ({n:N0} visitors' grains active); collections during the open loop: {open.Gc}; " +
            $"before its window the open loop ran {open.Warmup?.Summary ?? "no warm-up"}, and the reference's {bare.Warmup?.Summary ?? "no warm-up"}"));

        // 3. Cost of 20 active event-triggered journeys per event.
        var phases = new List<(int Journeys, LoadResult Result, string Load)>();
        async Task MeasureAsync(int journeys)
        {
            var load = SegmentsScenario.LoadAverage();
            var r = await Load.ClosedAsync($"journeys: Track with {journeys} journeys", c, o.Warmup, o.Window, async (_, _) =>
            {
                IReadOnlyList<VisitorEvent> events = [Payloads.DomainEvent(Random.Shared, DateTimeOffset.UtcNow)];
                var result = await host.Grains.GetGrain<IVisitorGrain>(Id(Random.Shared.Next(CostUsers))).Track(events.AsImmutable());
                return result.Events.Count >= 1;
            }, ct);
            phases.Add((journeys, r, load));
        }
        await MeasureAsync(0);
        var costIds = new List<string>();
        foreach (var (id, trigger) in CostTriggers())
        {
            await CreateAndPublishAsync(marketing, id,
                $$$"""{"name":"{{{id}}}","trigger":{{{trigger}}},"start":"wait","steps":[{"id":"wait","wait":{"duration":"P1D"},"next":"send"},{"id":"send","send":{"channel":"email","template":"{{{id}}}"}}]}""", ct);
            costIds.Add(id);
        }
        // Visitors enter on their first matching event and then stay inside (a 1-day wait): one uncounted phase lets most
        // of them in, so the measured one shows the steady cost; the entries it still makes are counted.
        await Load.ClosedAsync("journeys: visitors entering the 20 journeys (not counted)", c, o.Warmup, o.Window, async (_, _) =>
        {
            IReadOnlyList<VisitorEvent> events = [Payloads.DomainEvent(Random.Shared, DateTimeOffset.UtcNow)];
            var result = await host.Grains.GetGrain<IVisitorGrain>(Id(Random.Shared.Next(CostUsers))).Track(events.AsImmutable());
            return result.Events.Count >= 1;
        }, ct);
        // One count by SQL (the figures route per journey also counts steps and took seconds for 20 journeys).
        var schema = host.Host.App.Services.GetRequiredService<IDocumentStore>().Options.Events.DatabaseSchemaName;
        async Task<long> EnteredAsync()
        {
            await using var command = host.Database.CreateCommand(
                $"select count(*) from {schema}.mt_events where type = 'journey_entered' and data ->> 'JourneyId' like 'bench-cost-%'");
            return (long)(await command.ExecuteScalarAsync(ct))!;
        }
        var enteredBefore = await EnteredAsync();
        await MeasureAsync(20);
        var enteredAfter = await EnteredAsync();
        await ArchiveJourneysAsync(marketing, costIds, ct);
        await MeasureAsync(0);

        var rate0 = (phases[0].Result.PerSecond + phases[2].Result.PerSecond) / 2;
        var with20 = phases[1].Result;
        var ratio = rate0 / with20.PerSecond;
        results.Add(new("journeys-20-cost", 1e6 / with20.PerSecond, "µs/event", 1e6 / rate0, ratio, "≤ 1.5× cost with 0 journeys", ratio <= 1.5,
            $"in-process IVisitorGrain.Track of 1 event (durable), {c} in flight, {CostUsers:N0} of the visitors above (active grains, 1 active segment throughout), " +
            $"with 20 published journeys triggered by the traffic's own events (product_viewed and cart_item_added per category, category_viewed, page_viewed, " +
            $"products_searched, order_placed), each waiting 1 day first so entrants stay inside: {with20.PerSecond:N0} events/s vs {rate0:N0} with 0 " +
            $"(mean of {phases[0].Result.PerSecond:N0} before and {phases[2].Result.PerSecond:N0} after, journeys archived); p99 {with20.Ms(99):N1} vs " +
            $"{phases[0].Result.Ms(99):N1} / {phases[2].Result.Ms(99):N1} ms; entries: {enteredBefore:N0} before the phase (an uncounted phase of the same load let them in), {enteredAfter - enteredBefore:N0} during it (warm-up + window) " +
            $"of {with20.Ops:N0} events counted; load average {phases[1].Load} at start (0 journeys: {phases[0].Load} / {phases[2].Load}); errors {with20.Errors}"));

        // Leave the database as the other groups expect it: no active segment or journey.
        using (var archive = await marketing.PostAsync($"/v1/segments/{SegmentId}/archive", null, ct)) archive.EnsureSuccessStatusCode();
        await WaitForBackfillAsync(marketing, "journeys: archiving the segment", ct);
        return results;
    }

    /// <summary>20 triggers on the events <see cref="Payloads.DomainEvent"/> makes.</summary>
    internal static IEnumerable<(string Id, string Trigger)> CostTriggers()
    {
        var categories = Payloads.CategoryNames.Take(8).ToList();
        foreach (var category in categories)
            yield return ($"bench-cost-view-{category}", $$"""{"event":"product_viewed","category":"{{category}}"}""");
        foreach (var category in categories)
            yield return ($"bench-cost-cart-{category}", $$"""{"event":"cart_item_added","category":"{{category}}"}""");
        foreach (var name in new[] { "category_viewed", "page_viewed", "products_searched", "order_placed" })
            yield return ($"bench-cost-{name.Replace('_', '-')}", $$"""{"event":"{{name}}"}""");
    }

    private static long Decided(JsonElement figures)
    {
        var suppressed = 0L;
        foreach (var p in figures.GetProperty("suppressedByReason").EnumerateObject()) suppressed += p.Value.GetInt64();
        return figures.GetProperty("messagesSent").GetInt64() + figures.GetProperty("messagesDeferred").GetInt64() + suppressed;
    }

    private static byte[] CartMessage()
    {
        var id = Guid.NewGuid().ToString();
        var sku = $"sku-{Random.Shared.Next(5_000)}";
        return Encoding.UTF8.GetBytes(
            $$"""{"type":"track","event":"Product Added","properties":{"product_id":"{{sku}}","category":"{{Category}}","quantity":1,"price":49.9},"messageId":"{{id}}","timestamp":"{{DateTimeOffset.UtcNow:O}}"}""");
    }

    /// <summary>Each bench journey sends the template named as the journey: saved first, as journeys need their templates.</summary>
    internal static async Task CreateAndPublishAsync(HttpClient client, string id, string journey, CancellationToken ct)
    {
        await Send(client, HttpMethod.Put, $"/v1/templates/{id}",
            new { channel = "email", subject = "Your cart, {{ visitor.first_name | default: 'friend' }}", text = "{{ cart_count }} items are waiting." }, ct);
        await Send(client, HttpMethod.Post, "/v1/journeys", new { id, journey = Json(journey) }, ct);
        await Send(client, HttpMethod.Post, $"/v1/journeys/{id}/publish", null, ct);
    }

    private static async Task ArchiveJourneysAsync(HttpClient client, IEnumerable<string> ids, CancellationToken ct)
    {
        foreach (var id in ids) await Send(client, HttpMethod.Post, $"/v1/journeys/{id}/archive", null, ct);
    }

    internal static JsonElement Json(string text)
    {
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    internal static async Task Send(HttpClient client, HttpMethod method, string path, object? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        using var response = await client.SendAsync(request, ct);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"{method} {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
    }

    internal static async Task<JsonElement> GetJsonAsync(HttpClient client, string path, CancellationToken ct)
    {
        using var response = await client.GetAsync(path, ct);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"GET {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        return document.RootElement.Clone();
    }

    private static async Task<long> SegmentSizeAsync(HttpClient client, CancellationToken ct)
    {
        var segment = await GetJsonAsync(client, $"/v1/segments/{SegmentId}", ct);
        return segment.GetProperty("members").GetInt64();
    }

    private static async Task WaitForBackfillAsync(HttpClient client, string label, CancellationToken ct)
    {
        var lastReport = Stopwatch.StartNew();
        while (true)
        {
            var backfill = await GetJsonAsync(client, $"/v1/segments/{SegmentId}/backfill", ct);
            var state = backfill.GetProperty("state").GetString();
            if (state == "completed") return;
            if (state is "failed" or "superseded") throw new InvalidOperationException($"backfill of {SegmentId}: {state} {backfill}");
            if (lastReport.Elapsed > TimeSpan.FromSeconds(2))
            {
                Progress.Line($"  {label}: {backfill}");
                lastReport.Restart();
            }
            await Task.Delay(100, ct);
        }
    }

    /// <summary>Messages of the journey that have left the outbox (sent, failed or bounced), by their keys ("{profile}:{journey}:…").</summary>
    private static async Task<long> FinishedAsync(BenchHost host, string schema, string journeyId, CancellationToken ct)
    {
        await using var command = host.Database.CreateCommand(
            $"select count(*) from {schema}.{Actors.Storage.Channels.OutboxStore.TableName} where status in ('sent', 'failed', 'bounced') and message_key like '%:' || $1 || ':%'");
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = journeyId });
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }

    /// <summary>
    /// Waits until the reporting daemon has projected every event stored before the wait began. An open loop measures
    /// the requests of its own window: the daemon catching up on an earlier phase's events (a trigger of 100,000 writes
    /// half a million) would otherwise take the machine's CPU during the window's first seconds, as the outbox would.
    /// </summary>
    /// <summary>Events stored that the slowest reporting projection has not projected yet (0 with no daemon).</summary>
    private static async Task<long> ReportsBehindAsync(BenchHost host, string schema, CancellationToken ct)
    {
        await using var command = host.Database.CreateCommand(
            $"select coalesce((select max(seq_id) from {schema}.mt_events), 0) - coalesce(min(last_seq_id), 0), count(*) from {schema}.mt_event_progression where name like '%:%'");
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return reader.GetInt64(1) == 0 ? 0 : reader.GetInt64(0);
    }

    /// <summary>
    /// VACUUM (ANALYZE) of the whole database before a timed phase, as pgbench runs after its load: the group writes a
    /// million events and a hundred thousand messages in minutes (and the closed loop, twice the open loop's rate, just
    /// before it), and autovacuum then spends seconds of a core on them (an ANALYZE of the event log took 3 s in the
    /// middle of an open loop) whenever its thresholds are crossed. That debt is the load's, not the timed traffic's:
    /// without this the journey's open loop paid it and the reference after it did not. Before the trigger, the open
    /// loop and the reference alike; the vacuums the timed traffic itself calls for (the outbox's, every few seconds
    /// under steady sends) still fall inside the windows, as they would in a shop.
    /// </summary>
    private static async Task VacuumBeforeTimingAsync(BenchHost host, string when, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        await using (var command = host.Database.CreateCommand("vacuum (analyze)"))
        {
            command.CommandTimeout = 0;
            await command.ExecuteNonQueryAsync(ct);
        }
        Progress.Line($"  journeys: VACUUM (ANALYZE) of the database {when}: {watch.Elapsed.TotalSeconds:N1} s");
    }

    internal static async Task WaitForReportsAsync(BenchHost host, string schema, CancellationToken ct, string group = "journeys")
    {
        await using (var head = host.Database.CreateCommand($"select coalesce(max(seq_id), 0) from {schema}.mt_events"))
        {
            var target = (long)(await head.ExecuteScalarAsync(ct))!;
            var waited = Stopwatch.StartNew();
            var lastReport = Stopwatch.StartNew();
            while (true)
            {
                // Projection shards only ("name:All"): Marten keeps its own rows here too (HighWaterMark, the allocation
                // fence, and HighWaterStuckGap at 0 once it skipped a gap), which are not projections and never "catch up".
                await using var progress = host.Database.CreateCommand(
                    $"select coalesce(min(last_seq_id), 0), count(*) from {schema}.mt_event_progression where name like '%:%'");
                await using var reader = await progress.ExecuteReaderAsync(ct);
                await reader.ReadAsync(ct);
                var (behind, shards) = (target - reader.GetInt64(0), reader.GetInt64(1));
                if (shards == 0) return; // no daemon on this host
                if (behind <= 0)
                {
                    Progress.Line($"  {group}: the reporting daemon had projected every earlier event after {waited.Elapsed.TotalSeconds:N1} s");
                    return;
                }
                if (waited.Elapsed > TimeSpan.FromMinutes(5))
                {
                    Progress.Line($"{group}: the reporting daemon is still {behind:N0} events behind after 5 minutes; measuring anyway");
                    return;
                }
                if (lastReport.Elapsed > TimeSpan.FromSeconds(2))
                {
                    Progress.Line($"  {group}: waiting for the reporting daemon: {behind:N0} events behind");
                    lastReport.Restart();
                }
                await Task.Delay(200, ct);
            }
        }
    }
}
