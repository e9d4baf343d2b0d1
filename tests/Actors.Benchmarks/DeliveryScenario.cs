using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Channels.Delivery;
using Actors.Channels.Email;
using Actors.Domain.Channels;
using Actors.Domain.Tracking;
using Actors.Grains.Hosting;
using Actors.Grains.Visitors;
using Actors.Storage.Channels;
using Actors.Storage.Streams;
using HdrHistogram;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.DependencyInjection;
using MimeKit;
using Orleans.Concurrency;

namespace Actors.Benchmarks;

/// <summary>
/// Delivery (issue 12) to a real SMTP server on loopback (<see cref="SmtpCountSink"/>, which stores nothing), on N
/// visitors with an email address and email:marketing consent written through their grains.
/// 1. <c>delivery-emails-per-s</c>: a published manual journey whose only step is an email send (HTML with two links,
/// so links are signed and the pixel added), triggered for all N at once; timed from the trigger POST until the server
/// has received every message (its own receive time of the last one). The whole path: decision and outbox row in one
/// append, shard grains claiming, the provider rendering and composing, SmtpTransport's pool, the row marked sent.
/// Every message key must arrive exactly once and every outbox row end sent, or the group fails. Reference, same run
/// and server: the same N messages, composed beforehand by the host's own renderer and composer from the outbox rows,
/// sent by MailKit in plain loops over as many connections as the provider's pool (Actors:Email:Smtp:Connections),
/// once before and once after a loop over one connection (in the notes); the faster pool-sized loop is the reference.
/// 1b. <c>delivery-outbox-drain-per-s</c>: the dispatcher alone, without the decisions: copies of those rows under new
/// keys staged by one SQL INSERT, the shards woken, timed from the commit until the server has every copy.
/// 2. <c>decision-to-provider-p99</c>: a second such journey triggered in small batches at a steady rate (half the
/// rate of 1, capped by the visitors there are); per message, the outbox row's finished_at (written right after the
/// server's 250) minus its created_at (the decision's time), p50/p99/max; the server's receive time gives the same
/// figure without our UPDATE, and the claim's time (due_at minus the lease) splits it in two. Reference: the p99 of a
/// single MailKit send in the one-connection loop. CPU time per email (this process, PostgreSQL, the SMTP server) is
/// measured for each phase: on a shared machine it drifts less than a rate.
/// </summary>
public static class DeliveryScenario
{
    private const string Journey = "bench-delivery";
    private const string SteadyJourney = "bench-delivery-p99";
    private const string WarmUpJourney = "bench-delivery-warm-up";
    private const int ProfilesPerTriggerMax = 10_000; // the trigger route's limit
    private const int SteadyTriggersPerSecond = 25;
    private const string CopySuffix = ":drain";

    public static async Task<List<Scenario>> RunAsync(BenchHost host, SmtpCountSink sink, BenchOptions o, CancellationToken ct)
    {
        var n = o.Quick ? 3_000 : 10_000;
        var warm = n; // as many visitors of their own for the warm-up (so the measured ones have received nothing yet): per-batch methods must reach the JIT's call counts too
        string Id(int i) => $"anon:dl-{i}";
        using var marketing = host.Client(8, BenchHost.MarketingKey);
        var services = host.Host.App.Services;
        var schema = services.GetRequiredService<EventStoreSettings>().Schema;
        var channels = services.GetRequiredService<ActorsSettings>().Channels;
        var connections = services.GetRequiredService<EmailSettings>().Connections;
        var setup = $"Shards {channels.Shards}, BatchSize {channels.BatchSize}, Parallelism {channels.Parallelism}, PollEvery {channels.PollEvery.TotalMilliseconds:N0} ms, Smtp:Connections {connections}";

        // Earlier groups' emails go to the same server: let the outbox drain so they neither compete nor get counted.
        await WaitForIdleOutboxAsync(host, schema, ct);

        await Load.ForEachAsync("delivery: visitors with an address and consent (in-process Track)", n + warm, o.InProcessConcurrency, async i =>
        {
            var at = DateTimeOffset.UtcNow.AddDays(-1);
            var events = Payloads.History(new Random(70_000 + i), 3, TimeSpan.FromDays(10));
            events.Add(new ConsentGiven("email", "marketing") { MessageId = Guid.NewGuid().ToString(), EventTime = at, ReceivedTime = at });
            events.Add(new AttributesUpdated(new Dictionary<string, string?> { ["email"] = $"dl-{i}@example.com", ["first_name"] = $"Ana {i}" }, "crm")
                { MessageId = Guid.NewGuid().ToString(), EventTime = at, ReceivedTime = at });
            IReadOnlyList<VisitorEvent> list = events;
            await host.Grains.GetGrain<IVisitorGrain>(Id(i)).Track(list.AsImmutable());
        }, ct);
        await CreateAndPublishAsync(marketing, Journey, ct);
        await CreateAndPublishAsync(marketing, SteadyJourney, ct);
        await CreateAndPublishAsync(marketing, WarmUpJourney, ct);
        sink.Drain(); // whatever arrived before this group is not ours

        // 0. Warm-up: the whole path (trigger, decision, outbox, render, compose, send, report) runs once on visitors of
        // its own, until the JIT is done with it. Measured cold, the first phase paid for compiling itself (a sixth of
        // the host's samples were in the JIT), while the MailKit reference below runs on code that is warm by then.
        var warmUp = new Arrivals(k => k.Contains($":{WarmUpJourney}:", StringComparison.Ordinal));
        await TriggerAsync(marketing, WarmUpJourney, "delivery-warm-up", Enumerable.Range(n, warm).Select(Id).ToArray(), ct);
        await warmUp.WaitForAsync(sink, warm, "delivery: warm-up emails", ct);
        await WaitForRowsAsync(host, schema, WarmUpJourney, warm, ct);
        await Progress.SettleJitAsync("delivery", ct);

        // What the node keeps for good per email: the live heap after full collections, before and after phase 1 (not
        // timed). A composer that kept every email it built (2026-12-01) showed here as about 10 KB an email.
        var management = host.Grains.GetGrain<IManagementGrain>(0);
        var (heapBefore, activationsBefore) = (MemoryScenario.Heap(), await management.GetTotalActivationCount());

        // 1. Everyone at once, through the outbox.
        var load = SegmentsScenario.LoadAverage();
        var outboxPhase = new Arrivals(k => k.Contains($":{Journey}:", StringComparison.Ordinal) && !k.EndsWith(CopySuffix, StringComparison.Ordinal));
        var cpuBefore = CpuTime.Now(host, sink);
        using var providerTime = new ProviderTime();
        var started = DateTimeOffset.UtcNow;
        for (var from = 0; from < n; from += ProfilesPerTriggerMax)
        {
            var profiles = Enumerable.Range(from, Math.Min(ProfilesPerTriggerMax, n - from)).Select(Id).ToArray();
            await TriggerAsync(marketing, Journey, $"delivery-{from}", profiles, ct);
        }
        await outboxPhase.WaitForAsync(sink, n, "delivery: emails through the outbox", ct);
        var outboxCpu = CpuTime.Now(host, sink) - cpuBefore;
        var outboxProvider = providerTime.Take();
        var outboxElapsed = outboxPhase.Last - started;
        var rows = await WaitForRowsAsync(host, schema, Journey, n, ct);
        outboxPhase.Verify(rows.Select(r => r.Key), "outbox");
        var rate = n / outboxElapsed.TotalSeconds;
        var decided = rows.Max(r => r.Created) - started;
        var firstToLast = outboxPhase.Last - outboxPhase.First;
        Progress.Line($"delivery: {n:N0} emails through the outbox in {outboxElapsed.TotalSeconds:N2} s ({rate:N0}/s); last decision {decided.TotalSeconds:N2} s after the POST");
        var (heapAfter, activationsAfter) = (MemoryScenario.Heap(), await management.GetTotalActivationCount());
        var kept = (heapAfter - heapBefore) / (double)n;
        Progress.Line($"delivery: live heap {heapBefore / 1e6:N1} → {heapAfter / 1e6:N1} MB over {n:N0} emails ({kept:N0} B an email); activations {activationsBefore:N0} → {activationsAfter:N0}");

        // Reference: the same messages, composed by the host's renderer and composer (not timed), sent in plain loops.
        // The pool-sized loop runs before and after the single connection and the faster counts, so a slow moment on this
        // shared machine does not flatter the ratio.
        var composed = await ComposeAsync(host, schema, Journey, ct);
        var pooledA = await SendPlainAsync(host, sink, composed, connections, $"delivery: MailKit plain loop, {connections} connections", ct);
        var single = await SendPlainAsync(host, sink, composed, 1, "delivery: MailKit plain loop, 1 connection", ct);
        var pooledB = await SendPlainAsync(host, sink, composed, connections, $"delivery: MailKit plain loop, {connections} connections, again", ct);
        // Closed as the provider closes its own (MimeKit's messages have finalizers): left to the collector, they would
        // burden the phases after this one.
        foreach (var email in composed) email.Dispose();
        var reference = pooledA.Rate >= pooledB.Rate ? pooledA : pooledB;
        var ratio = rate / reference.Rate;

        // 1b. The dispatcher alone: copies of those rows (new keys) staged by SQL in one statement, as after a broadcast
        // decided faster than it is delivered, then the shards woken; timed from the commit until the server has them all.
        var drainPhase = new Arrivals(k => k.EndsWith(CopySuffix, StringComparison.Ordinal));
        var drainCpuBefore = CpuTime.Now(host, sink);
        providerTime.Take();
        var drainStarted = await StageCopiesAsync(host, schema, Journey, ct);
        Actors.Grains.Channels.ChannelDispatch.WakeAll(host.Grains, channels);
        await drainPhase.WaitForAsync(sink, n, "delivery: staged rows drained by the dispatcher", ct);
        var drainCpu = CpuTime.Now(host, sink) - drainCpuBefore;
        var drainProvider = providerTime.Take();
        var drainElapsed = drainPhase.Last - drainStarted;
        var drainRows = await WaitForRowsAsync(host, schema, Journey, n, ct, copies: true);
        drainPhase.Verify(drainRows.Select(r => r.Key), "staged copies");
        var drainRate = n / drainElapsed.TotalSeconds;
        Progress.Line($"delivery: {n:N0} staged rows drained in {drainElapsed.TotalSeconds:N2} s ({drainRate:N0}/s)");

        // 2. A steady trigger load, below the rate of 1.
        var steadyRate = Math.Min(rate / 2, n / o.Window.TotalSeconds);
        var perTrigger = Math.Max(1, (int)Math.Ceiling(steadyRate / SteadyTriggersPerSecond));
        var triggerRate = steadyRate / perTrigger;
        var steadyPhase = new Arrivals(k => k.Contains($":{SteadyJourney}:", StringComparison.Ordinal));
        var steadyLoad = SegmentsScenario.LoadAverage();
        providerTime.Take();
        var triggers = await Load.OpenAsync($"delivery: triggers of {perTrigger} at {steadyRate:N0} visitors/s", triggerRate, 8, o.Window, async k =>
        {
            var from = (int)k * perTrigger;
            if (from + perTrigger > n) throw new InvalidOperationException($"delivery: trigger {k} would need visitors beyond the {n:N0} there are");
            var profiles = Enumerable.Range(from, perTrigger).Select(Id).ToArray();
            await TriggerAsync(marketing, SteadyJourney, $"steady-{k}", profiles, ct);
            return true;
        }, ct);
        if (triggers.Errors > 0) throw new InvalidOperationException($"delivery: {triggers.Errors} trigger POSTs failed in the steady phase");
        var expected = (int)triggers.Ops * perTrigger;
        await steadyPhase.WaitForAsync(sink, expected, "delivery: steady-load emails", ct);
        var steadyRows = await WaitForRowsAsync(host, schema, SteadyJourney, expected, ct);
        steadyPhase.Verify(steadyRows.Select(r => r.Key), "outbox");
        var steadyProvider = providerTime.Take();
        var toAccepted = Histogram(steadyRows.Select(r => r.Finished - r.Created));
        var toServer = Histogram(steadyRows.Select(r => steadyPhase.At(r.Key) - r.Created));
        // Where the time goes: decision → claim (the append's commit, the wake, the shard finishing what it was doing) and claim → sent.
        var toClaim = Histogram(steadyRows.Select(r => r.Due - channels.Lease - r.Created));
        var claimToSent = Histogram(steadyRows.Select(r => r.Finished - (r.Due - channels.Lease)));
        var p99 = Ms(toAccepted, 99);
        Progress.Line($"delivery: decision to acceptance at {steadyRate:N0}/s: p50 {Ms(toAccepted, 50):N1}, p99 {p99:N1}, max {Ms(toAccepted, 100):N1} ms");

        await ArchiveAsync(marketing, [Journey, SteadyJourney, WarmUpJourney], ct);
        return
        [
            new("delivery-emails-per-s", rate, "emails/s", reference.Rate, ratio, "≥ 0.8× MailKit plain loop", ratio >= 0.8,
                $"{n:N0} visitors (email address, email:marketing consent) triggered into a manual journey of one email send (HTML with 2 tracked links; " +
                $"after a warm-up of {warm:N0} other visitors through a copy of the journey and the JIT settled; " +
                $"{(n > ProfilesPerTriggerMax ? "POSTs" : "one POST")} of /v1/journeys/{{id}}/trigger with profiles), timed from the POST until the loopback SMTP server " +
                $"(Node, smtp_count_sink.mjs: counts and stores nothing) had every message: {outboxElapsed.TotalSeconds:N2} s; the last decision was stored {decided.TotalSeconds:N2} s after the POST, " +
                $"first to last arrival {firstToLast.TotalSeconds:N2} s; every key arrived once and every outbox row is sent; {setup} (defaults); " +
                $"reference: the same {n:N0} messages composed beforehand by the host's renderer and composer, MailKit SendAsync in plain loops over {connections} connections " +
                $"(the pool's size) to the same server, the faster of a run before and one after the single connection ({pooledA.Rate:N0} and {pooledB.Rate:N0}/s): {reference.Elapsed.TotalSeconds:N2} s, per send p50 {Ms(reference.Sends, 50):N2} / p99 {Ms(reference.Sends, 99):N2} ms; " +
                $"over 1 connection {single.Rate:N0}/s ({rate / single.Rate:N2}×); the provider's own time per message (actors.messages.provider.duration: render, compose, " +
                $"waiting for a pooled connection, SMTP) p50 {Ms(outboxProvider, 50):N2} / p99 {Ms(outboxProvider, 99):N2} ms; CPU per email through the outbox: {outboxCpu.Per(n)} " +
                $"(decision, row, claim, send, marked sent, message_sent appended), MailKit loop: {reference.Cpu.Per(n)}, over 1 connection: {single.Cpu.Per(n)}; " +
                $"SMTP server busy {Percent(outboxCpu.Sink, outboxElapsed)} of a core in the outbox phase, {Percent(reference.Cpu.Sink, reference.Elapsed)} in the reference, " +
                $"{Percent(single.Cpu.Sink, single.Elapsed)} over 1 connection; load average {load} at start"),
            new("delivery-kept-bytes-per-email", kept, "B", null, null, "≤ 4 KB (ours, against leaks; none in the issue)", kept <= 4_096,
                $"the process's live heap (GC.GetTotalMemory after full collections, outside any timed window) before and after the {n:N0} emails above were " +
                $"decided, sent and reported: {heapBefore / 1e6:N1} → {heapAfter / 1e6:N1} MB, divided by {n:N0}; it holds what the visitors' grains keep of each " +
                $"(the journey's place, the sent-message log) and whatever else the node kept; activations {activationsBefore:N0} → {activationsAfter:N0} " +
                $"(a grain collected in between would hide bytes); absolute, no reference needed"),
            new("delivery-outbox-drain-per-s", drainRate, "emails/s", reference.Rate, drainRate / reference.Rate, null, null,
                $"the dispatcher alone: copies of the {n:N0} rows above under new keys staged pending by one SQL INSERT (as after a broadcast decided faster than it is " +
                $"delivered), the shards woken, timed from the commit until the server had every copy: {drainElapsed.TotalSeconds:N2} s; every key arrived once, every row sent " +
                $"and its message_sent appended; the provider's own time p50 {Ms(drainProvider, 50):N2} / p99 {Ms(drainProvider, 99):N2} ms; CPU per email: {drainCpu.Per(n)} (claim, render, compose, send, marked sent, message_sent appended); " +
                $"reference: the MailKit loop over {connections} connections above ({reference.Cpu.Per(n)})"),
            new("decision-to-provider-p99", p99, "ms", Ms(single.Sends, 99), null, null, null,
                $"{expected:N0} emails of a second such journey triggered {perTrigger} visitors at a time at {steadyRate:N0} visitors/s (half the rate above, at most the visitors there are " +
                $"over the {o.Window.TotalSeconds:N0} s window) in an open loop; per message, the outbox row's finished_at (marked sent right after the server's 250) minus its " +
                $"created_at (the decision's time): p50 {Ms(toAccepted, 50):N1}, p99 {p99:N1}, p99.9 {Ms(toAccepted, 99.9):N1}, max {Ms(toAccepted, 100):N1} ms; to the server's " +
                $"receive time: p50 {Ms(toServer, 50):N1}, p99 {Ms(toServer, 99):N1} ms; split at the claim (its lease's end minus the lease): decision to claim p50 {Ms(toClaim, 50):N1} / p99 {Ms(toClaim, 99):N1} ms, claim to marked sent p50 {Ms(claimToSent, 50):N1} / p99 {Ms(claimToSent, 99):N1} ms; the provider's own time p50 {Ms(steadyProvider, 50):N2} / p99 {Ms(steadyProvider, 99):N2} ms; every key arrived once; {setup}; no target in the issue; reference: " +
                $"p99 of one MailKit send over 1 connection in the plain loop above (p50 {Ms(single.Sends, 50):N2} ms); load average {steadyLoad} at start"),
        ];
    }

    /// <summary>What the server received in one phase, by message key; keys of other phases are counted apart.</summary>
    private sealed class Arrivals(Func<string, bool> ours)
    {
        private readonly Dictionary<string, (int Count, DateTimeOffset At)> _keys = new(StringComparer.Ordinal);
        private long _others;

        public DateTimeOffset First { get; private set; } = DateTimeOffset.MaxValue;
        public DateTimeOffset Last { get; private set; } = DateTimeOffset.MinValue;
        public int Distinct => _keys.Count;
        public DateTimeOffset At(string key) => _keys[key].At;

        private void Take(SmtpCountSink sink)
        {
            foreach (var (key, at) in sink.Drain())
            {
                if (!ours(key))
                {
                    _others++;
                    continue;
                }
                _keys[key] = _keys.TryGetValue(key, out var seen) ? (seen.Count + 1, seen.At) : (1, at);
                if (at < First) First = at;
                if (at > Last) Last = at;
            }
        }

        /// <summary>Until <paramref name="expected"/> distinct keys arrived; fails when nothing new comes for a minute.</summary>
        public async Task WaitForAsync(SmtpCountSink sink, int expected, string label, CancellationToken ct)
        {
            var lastProgress = Stopwatch.StartNew();
            var lastReport = Stopwatch.StartNew();
            var seen = 0;
            while (true)
            {
                Take(sink);
                if (Distinct >= expected) break;
                if (Distinct > seen)
                {
                    seen = Distinct;
                    lastProgress.Restart();
                }
                if (lastProgress.Elapsed > TimeSpan.FromSeconds(60))
                    throw new InvalidOperationException($"{label}: {Distinct:N0} of {expected:N0} messages arrived at the SMTP server, none for a minute");
                if (lastReport.Elapsed > TimeSpan.FromSeconds(2))
                {
                    Progress.Line($"  {label}: {Distinct:N0}/{expected:N0}");
                    lastReport.Restart();
                }
                await Task.Delay(5, ct);
            }
            // A moment for a duplicate that would come right behind (a retried send, a row claimed twice).
            await Task.Delay(500, ct);
            Take(sink);
            Progress.Line($"{label}: {Distinct:N0} messages at the server in {(Last - First).TotalSeconds:N2} s from first to last ({_others:N0} of other journeys)");
        }

        /// <summary>Each of <paramref name="keys"/> arrived exactly once and nothing else of ours did.</summary>
        public void Verify(IEnumerable<string> keys, string source)
        {
            var expected = keys.ToHashSet(StringComparer.Ordinal);
            var missing = expected.Where(k => !_keys.ContainsKey(k)).Take(3).ToList();
            var unexpected = _keys.Keys.Where(k => !expected.Contains(k)).Take(3).ToList();
            var duplicated = _keys.Where(k => k.Value.Count > 1).Select(k => $"{k.Key} ×{k.Value.Count}").Take(3).ToList();
            if (missing.Count + unexpected.Count + duplicated.Count > 0 || _keys.Count != expected.Count)
                throw new InvalidOperationException(
                    $"delivery: the SMTP server's messages do not match the {source}: {expected.Count:N0} expected, {_keys.Count:N0} arrived; " +
                    $"missing e.g. [{string.Join(", ", missing)}], unexpected e.g. [{string.Join(", ", unexpected)}], duplicated e.g. [{string.Join(", ", duplicated)}]");
        }
    }

    /// <param name="Due">For a sent row claimed once: its claim's time plus the lease (the claim sets due_at to the lease's end).</param>
    private sealed record Row(string Key, string Status, DateTimeOffset Created, DateTimeOffset Finished, bool Reported, DateTimeOffset Due);

    private sealed record PlainResult(double Rate, TimeSpan Elapsed, HistogramBase Sends, CpuTime Cpu);

    /// <summary>
    /// The journey's outbox rows once <paramref name="expected"/> exist and all are finished and reported into the visitors'
    /// streams (so no delivery work is left running into the next phase); every one must be sent.
    /// </summary>
    private static async Task<List<Row>> WaitForRowsAsync(BenchHost host, string schema, string journey, int expected, CancellationToken ct, bool copies = false)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var rows = new List<Row>(expected);
            await using (var command = host.Database.CreateCommand(
                $"select o.message_key, o.status, o.created_at, o.finished_at, o.reported, o.due_at from {schema}.{OutboxStore.TableName} o " +
                $"left join {schema}.{OutboxStore.BodyTableName} b on b.message_key = o.message_key " +
                $"where {OutboxStore.MessageOf("o", "b")} ->> 'journeyId' = @journey and (o.message_key like '%' || @suffix) = @copies"))
            {
                command.Parameters.AddWithValue("journey", journey);
                command.Parameters.AddWithValue("suffix", CopySuffix);
                command.Parameters.AddWithValue("copies", copies);
                await using var reader = await command.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    rows.Add(new Row(reader.GetString(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2),
                        reader.IsDBNull(3) ? DateTimeOffset.MaxValue : reader.GetFieldValue<DateTimeOffset>(3), reader.GetBoolean(4),
                        reader.GetFieldValue<DateTimeOffset>(5)));
                }
            }
            var open = rows.Count(r => r.Status is "pending" or "sending" || !r.Reported);
            if (rows.Count == expected && open == 0)
            {
                var notSent = rows.Where(r => r.Status != "sent").Take(3).Select(r => $"{r.Key}: {r.Status}").ToList();
                if (notSent.Count > 0) throw new InvalidOperationException($"delivery: outbox rows of {journey} not sent: {string.Join(", ", notSent)}");
                return rows;
            }
            if (rows.Count > expected) throw new InvalidOperationException($"delivery: {rows.Count:N0} outbox rows for {journey}, expected {expected:N0}");
            if (deadline.Elapsed > TimeSpan.FromSeconds(60))
                throw new InvalidOperationException($"delivery: {rows.Count:N0} outbox rows for {journey} ({open:N0} still open or unreported), expected {expected:N0} finished and reported");
            await Task.Delay(50, ct);
        }
    }

    /// <summary>
    /// Waits until no email is open in the outbox and every finished one's outcome is in its visitor's stream, so that
    /// an earlier phase's deliveries neither compete with the next phase nor get counted in it. With
    /// <paramref name="poll"/>, it looks that often throughout (when the wait itself is timed).
    /// </summary>
    internal static async Task WaitForIdleOutboxAsync(BenchHost host, string schema, CancellationToken ct, string label = "delivery: waiting for {0:N0} emails of earlier groups to leave the outbox",
        TimeSpan? poll = null)
    {
        var waited = Stopwatch.StartNew();
        var printed = TimeSpan.Zero;
        while (true)
        {
            await using var command = host.Database.CreateCommand(
                $"select count(*) filter (where status in ('pending', 'sending') and due_at <= now() + interval '1 minute') " +
                $"+ count(*) filter (where reported = false and status in ('sent', 'failed', 'bounced')) from {schema}.{OutboxStore.TableName} where channel = 'email'");
            var open = (long)(await command.ExecuteScalarAsync(ct))!;
            if (open == 0) return;
            if (waited.Elapsed > TimeSpan.FromMinutes(15)) throw new InvalidOperationException($"{open:N0} emails still open or unreported after 15 minutes");
            if (waited.Elapsed > TimeSpan.FromSeconds(2) && waited.Elapsed - printed >= TimeSpan.FromSeconds(2))
            {
                Progress.Line("  " + string.Format(System.Globalization.CultureInfo.InvariantCulture, label, open));
                printed = waited.Elapsed;
            }
            await Task.Delay(poll ?? TimeSpan.FromMilliseconds(waited.Elapsed > TimeSpan.FromSeconds(2) ? 2_000 : 200), ct);
        }
    }

    /// <summary>Copies of the journey's rows under new keys ({key}:drain, in the JSON too), pending and due now; returns the commit time.</summary>
    private static async Task<DateTimeOffset> StageCopiesAsync(BenchHost host, string schema, string journey, CancellationToken ct)
    {
        var keys = new List<string>();
        var messages = new List<string>();
        await using (var command = host.Database.CreateCommand(
            $"select o.message_key || @suffix, jsonb_set({OutboxStore.MessageOf("o", "b")}, '{{messageKey}}', to_jsonb(o.message_key || @suffix))::text " +
            $"from {schema}.{OutboxStore.TableName} o left join {schema}.{OutboxStore.BodyTableName} b on b.message_key = o.message_key " +
            $"where {OutboxStore.MessageOf("o", "b")} ->> 'journeyId' = @journey and o.message_key not like '%' || @suffix"))
        {
            command.Parameters.AddWithValue("journey", journey);
            command.Parameters.AddWithValue("suffix", CopySuffix);
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                keys.Add(reader.GetString(0));
                messages.Add(reader.GetString(1));
            }
        }
        await using (var insert = host.Database.CreateCommand(
            "with t as (select * from unnest(@keys, @buckets, @messages) as t(k, b, m)), " +
            $"rows as (insert into {schema}.{OutboxStore.TableName} (message_key, channel, bucket, profile_id, message, status, due_at, created_at) " +
            "select k, 'email', b, m::jsonb ->> 'profileId', '{}'::jsonb, 'pending', now(), now() from t) " +
            $"insert into {schema}.{OutboxStore.BodyTableName} (message_key, message) select k, m::jsonb from t"))
        {
            insert.Parameters.AddWithValue("keys", keys.ToArray());
            insert.Parameters.AddWithValue("buckets", keys.Select(OutboxStore.BucketOf).ToArray());
            insert.Parameters.AddWithValue("messages", messages.ToArray());
            await insert.ExecuteNonQueryAsync(ct);
        }
        return DateTimeOffset.UtcNow;
    }

    /// <summary>The journey's messages as the provider composes them, from their outbox rows, in key order.</summary>
    private static async Task<List<MimeMessage>> ComposeAsync(BenchHost host, string schema, string journey, CancellationToken ct)
    {
        var renderer = host.Host.App.Services.GetRequiredService<IMessageRenderer>();
        var composer = host.Host.App.Services.GetRequiredService<EmailComposer>();
        var json = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        var messages = new List<OutboundMessage>();
        await using (var command = host.Database.CreateCommand(
            $"select {OutboxStore.MessageOf("o", "b")}::text from {schema}.{OutboxStore.TableName} o left join {schema}.{OutboxStore.BodyTableName} b on b.message_key = o.message_key " +
            $"where {OutboxStore.MessageOf("o", "b")} ->> 'journeyId' = @journey and o.message_key not like '%' || @suffix order by o.message_key"))
        {
            command.Parameters.AddWithValue("journey", journey);
            command.Parameters.AddWithValue("suffix", CopySuffix);
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) messages.Add(JsonSerializer.Deserialize<OutboundMessage>(reader.GetString(0), json)!);
        }
        var composed = new List<MimeMessage>(messages.Count);
        foreach (var m in messages)
        {
            var rendered = await renderer.RenderAsync(m, ct);
            var to = EmailComposer.Recipient(m.Recipient.Email) ?? throw new InvalidOperationException($"delivery: {m.MessageKey} has no address");
            composed.Add(await composer.ComposeAsync(m, rendered, to));
        }
        return composed;
    }

    /// <summary>MailKit alone: <paramref name="connections"/> clients, each sending its share one after another.</summary>
    private static async Task<PlainResult> SendPlainAsync(BenchHost host, SmtpCountSink sink, List<MimeMessage> messages, int connections, string label, CancellationToken ct)
    {
        var keys = messages.Select(m => m.Headers[EmailComposer.MessageKeyHeader] ?? throw new InvalidOperationException("delivery: a composed message has no key")).ToHashSet(StringComparer.Ordinal);
        var arrivals = new Arrivals(keys.Contains);
        var histograms = new LongHistogram[connections];
        var cpuBefore = CpuTime.Now(host, sink);
        var started = DateTimeOffset.UtcNow;
        await Task.WhenAll(Enumerable.Range(0, connections).Select(w => Task.Run(async () =>
        {
            var h = histograms[w] = new LongHistogram(60_000_000, 3);
            using var client = new SmtpClient();
            await client.ConnectAsync(sink.Host, sink.Port, SecureSocketOptions.None, ct);
            for (var i = w; i < messages.Count; i += connections)
            {
                var at = Stopwatch.GetTimestamp();
                await client.SendAsync(messages[i], ct);
                h.RecordValue(Load.Micros(at, Stopwatch.GetTimestamp()));
            }
            await client.DisconnectAsync(quit: true, ct);
        }, ct)));
        await arrivals.WaitForAsync(sink, messages.Count, label, ct);
        var cpu = CpuTime.Now(host, sink) - cpuBefore;
        arrivals.Verify(keys, "messages sent");
        var elapsed = arrivals.Last - started;
        var merged = Load.Merge(histograms);
        var rate = messages.Count / elapsed.TotalSeconds;
        Progress.Line($"{label}: {messages.Count:N0} in {elapsed.TotalSeconds:N2} s ({rate:N0}/s), per send p50 {Ms(merged, 50):N2} / p99 {Ms(merged, 99):N2} ms");
        return new PlainResult(rate, elapsed, merged, cpu);
    }

    internal static async Task TriggerAsync(HttpClient client, string journey, string triggerId, string[] profiles, CancellationToken ct)
    {
        using var post = await client.PostAsJsonAsync($"/v1/journeys/{journey}/trigger", new { profiles, triggerId }, ct);
        if (post.StatusCode != HttpStatusCode.Accepted)
            throw new InvalidOperationException($"trigger {triggerId}: {(int)post.StatusCode} {await post.Content.ReadAsStringAsync(ct)}");
    }

    /// <summary>A template named as the journey (an email with the usual parts: subject, text, HTML with links), then the journey.</summary>
    private static async Task CreateAndPublishAsync(HttpClient client, string id, CancellationToken ct)
    {
        await JourneysScenario.Send(client, HttpMethod.Put, $"/v1/templates/{id}", new
        {
            channel = "email",
            subject = "Your cart, {{ visitor.first_name | default: 'friend' }}",
            text = "{{ cart_count }} items are waiting: https://shop.example/cart\nUnsubscribe: {{ unsubscribe_url }}",
            html = "<html><body><h1>Hello {{ visitor.first_name | default: 'friend' }}</h1><p>{{ cart_count }} items are waiting.</p>" +
                   "<p><a href=\"https://shop.example/cart\">Back to your cart</a> or <a href=\"https://shop.example/new\">see what is new</a>.</p>" +
                   "<p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p></body></html>",
        }, ct);
        var journey = $$$"""{"name":"{{{id}}}","trigger":{"manual":true},"start":"send","steps":[{"id":"send","send":{"channel":"email","template":"{{{id}}}"}}]}""";
        await JourneysScenario.Send(client, HttpMethod.Post, "/v1/journeys", new { id, journey = JourneysScenario.Json(journey) }, ct);
        await JourneysScenario.Send(client, HttpMethod.Post, $"/v1/journeys/{id}/publish", null, ct);
    }

    private static async Task ArchiveAsync(HttpClient client, IEnumerable<string> ids, CancellationToken ct)
    {
        foreach (var id in ids) await JourneysScenario.Send(client, HttpMethod.Post, $"/v1/journeys/{id}/archive", null, ct);
    }

    /// <summary>The host's actors.messages.provider.duration of accepted emails, in microseconds, since the last <see cref="Take"/>.</summary>
    private sealed class ProviderTime : IDisposable
    {
        private readonly MeterListener _listener = new();
        private LongHistogram _values = new(600_000_000, 3);

        public ProviderTime()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == ActorsMetrics.MeterName && instrument.Name == "actors.messages.provider.duration") listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<double>((_, ms, tags, _) =>
            {
                string? channel = null, status = null;
                foreach (var tag in tags)
                {
                    if (tag.Key == "channel") channel = tag.Value as string;
                    else if (tag.Key == "status") status = tag.Value as string;
                }
                if (channel != EmailComposer.Channel || status != nameof(DeliveryStatus.Accepted)) return;
                lock (this) _values.RecordValue(Math.Clamp((long)(ms * 1000), 0, 600_000_000));
            });
            _listener.Start();
        }

        public LongHistogram Take()
        {
            lock (this)
            {
                var taken = _values;
                _values = new LongHistogram(600_000_000, 3);
                return taken;
            }
        }

        public void Dispose() => _listener.Dispose();
    }

    private static LongHistogram Histogram(IEnumerable<TimeSpan> values)
    {
        var h = new LongHistogram(600_000_000, 3);
        foreach (var v in values) h.RecordValue(Math.Clamp((long)v.TotalMicroseconds, 0, 600_000_000));
        return h;
    }

    private static double Ms(HistogramBase h, double percentile) => Load.Ms(h, percentile);

    private static string Percent(TimeSpan cpu, TimeSpan wall) => $"{cpu.TotalSeconds / wall.TotalSeconds:P0}";
}
