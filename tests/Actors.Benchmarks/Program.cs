using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Actors.Benchmarks;

// dotnet run -c Release --project tests/Actors.Benchmarks -- soak [--minutes 10]   (see SoakCommand)
// dotnet run -c Release --project tests/Actors.Benchmarks -- [--quick] [--only=segments,journeys,ingest,decisions,stateless,activation,memory,delivery] [--jit=tiered]
// Progress on stderr; the markdown table on stdout; JSON in artifacts/benchmarks/latest.json.
// The table measures warm code: see SteadyStateJit (--jit=tiered for the runtime's defaults).
if (args is not ["soak", ..] && SteadyStateJit.RestartIfTiered(args) is { } exitCode)
{
    Environment.ExitCode = exitCode;
    return;
}
var options = BenchOptions.Parse(args);
using var cancel = new CancellationTokenSource();
// Ctrl+C or a kill: stop the phases and clean up (server, data folder) rather than die and leave PostgreSQL running.
void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    Progress.Line($"{context.Signal}: stopping");
    cancel.Cancel();
}
using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
var ct = cancel.Token;

// The soak (issue 16) is a separate command: a long run at half the maximum rate, not a scenario of the table.
if (args is ["soak", ..])
{
    Environment.ExitCode = await SoakCommand.RunAsync(args, ct);
    return;
}

#if DEBUG
Progress.Line("warning: a Debug build; figures are only meaningful with -c Release");
#endif
var mode = (options.Quick ? "quick" : "full") + (options.QuickAppend ? ", experiment: Marten Quick append" : "")
    + (options.WithoutOperatorViews ? ", experiment: no reporting daemon, no Orleans dashboard" : "")
    + (options.HoldReports ? ", experiment: reporting projections paused through the journey's open loop" : "")
    + (options.ExtraHostArguments is { Count: > 0 } extra ? ", host arguments: " + string.Join(' ', extra) : "")
    + ", " + SteadyStateJit.Mode;
Progress.Line($"benchmark ({mode}): starting the host with a private durable PostgreSQL");
// The collector's settings decide the length of every pause the open loops see, so the log names them.
Progress.Line("GC: " + string.Join(", ", GC.GetConfigurationVariables()
    .Where(kv => kv.Key is "ServerGC" or "ConcurrentGC" or "HeapCount" or "GCDynamicAdaptationMode" or "GCGen0MaxBudget" or "GCgen0size" or "NoAffinitize")
    .Select(kv => $"{kv.Key}={kv.Value}")));
var total = Stopwatch.StartNew();
var scenarios = new List<Scenario>();
var diagnostics = new List<DiagnosticsSection>();
// The delivery group's SMTP server comes first: the host's email transport is chosen at startup. With it, every
// group's emails go there (counted, not stored) instead of to .eml files. The journeys group sends email too.
using var smtp = options.Runs("delivery") || options.Runs("journeys") ? SmtpCountSink.Start() : null;
await using (var host = await BenchHost.StartAsync(options.QuickAppend, [.. smtp?.Arguments() ?? [], .. options.HostArguments()]))
{
    Progress.Line($"host up at {host.BaseAddress} (PostgreSQL in {host.DataDirectory})");
    // Each group's WAL and checkpoints, between its phases too (setup, triggers, archiving): a checkpoint in a measured
    // window is often the WAL of the group before it.
    async Task Group(string name, bool runs, Func<Task<List<Scenario>>> run)
    {
        if (!runs) return;
        var wal = WalCounters.Read();
        scenarios.AddRange(await run());
        Progress.Line($"{name} group done{WalCounters.Describe(wal, 0)}");
    }
    // Segments first: a segment's backfill visits every stream in the database, and the group archives its segments
    // at the end, so the groups after it run with none active, as before.
    await Group("segments", options.Runs("segments"), () => SegmentsScenario.RunAsync(host, options, ct));
    // Journeys next, for the same reason: their segment's backfill visits every stream. It archives its journeys and
    // segment at the end.
    await Group("journeys", options.Runs("journeys"), () => JourneysScenario.RunAsync(host, options, ct));
    await Group("ingest", options.Runs("ingest"), () => IngestScenario.RunAsync(host, options, diagnostics, ct));
    await Group("decisions", options.Runs("decisions"), () => DecisionsScenario.RunAsync(host, options, ct));
    await Group("stateless", options.Runs("stateless"), () => StatelessScenario.RunAsync(host, options, ct));
    await Group("activation", options.Runs("activation"), () => ActivationScenario.RunAsync(host, options, ct));
    await Group("memory", options.Runs("memory"), () => MemoryScenario.RunAsync(host, options, ct));
    // Last: it waits for the emails earlier groups decided to leave the outbox first.
    await Group("delivery", options.Runs("delivery") && smtp is not null, () => DeliveryScenario.RunAsync(host, smtp!, options, ct));
    Progress.Line("stopping the host and deleting its data");
}

// The scenarios first, in its order; extra figures (scale curve, replay rate) after.
string[] order = ["ingest", "ingest-p99-ms", "ingest-new-visitors", "ingest-new-visitors-p99-ms", "ingest-wrk", "ingest-wrk-p99-ms", "ingest-new-visitors-wrk", "ingest-new-visitors-wrk-p99-ms", "decisions", "decisions-p99-ms", "onsite-decisions", "onsite-decisions-p99-ms", "stateless-reads", "stateless-writes", "activation-100k-vs-10", "bytes-per-grain", "segments-100-cost", "segments-10-cost", "rule-evaluations-per-s-per-core", "journey-trigger-100k", "journey-trigger-10k", "journey-event-to-decision-p99", "journeys-20-cost", "delivery-emails-per-s", "decision-to-provider-p99", "delivery-outbox-drain-per-s", "delivery-kept-bytes-per-email"];
var sorted = scenarios.OrderBy(s => Array.IndexOf(order, s.Name) is var i and >= 0 ? i : order.Length).ToList();
var report = new BenchmarkReport(DateTimeOffset.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture), Report.Machine(), mode, sorted, diagnostics);
// A partial run (--only) must not pass for the latest full picture.
var file = await Report.WriteJsonAsync(report, options.Only is null && !options.QuickAppend && !options.WithoutOperatorViews && !options.HoldReports && options.ExtraHostArguments is not { Count: > 0 } && !options.SkipTrigger ? "latest.json" : "partial.json");
Console.Out.Write(Report.Markdown(report));
Progress.Line($"done in {total.Elapsed.TotalSeconds:N0} s; wrote {file}");
