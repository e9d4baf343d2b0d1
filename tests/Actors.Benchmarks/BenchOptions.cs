namespace Actors.Benchmarks;

/// <summary>How long and how big each phase is. Quick mode finishes in about 4 minutes on 2 cores.</summary>
public sealed record BenchOptions(bool Quick, IReadOnlySet<string>? Only = null, bool QuickAppend = false, bool WithoutOperatorViews = false,
    IReadOnlyList<string>? ExtraHostArguments = null, bool SkipTrigger = false, bool Timeline = false, bool HoldReports = false)
{
    /// <summary>Whether a group of scenarios runs: all by default, or those named by --only=segments,ingest,decisions,...</summary>
    public bool Runs(string group) => Only is null || Only.Contains(group);

    public TimeSpan Warmup => TimeSpan.FromSeconds(Quick ? 1 : 3);
    public TimeSpan Window => TimeSpan.FromSeconds(Quick ? 4 : 20);
    public TimeSpan ScaleWindow => TimeSpan.FromSeconds(Quick ? 3 : 15);

    /// <summary>Requests in flight for HTTP load and the raw INSERT ceiling alike.</summary>
    public int HttpConcurrency => 32;

    /// <summary>Calls in flight for the in-process comparison (grain calls against stateless load-evaluate-append).</summary>
    public int InProcessConcurrency => 32;

    public int IngestUsers => 10_000;
    public int[] ScaleProfiles => [1_000, 100_000, 1_000_000];
    public int WarmUsers => 1_000;
    public int[] ActivationSizes => [10, 1_000, 100_000];
    public int ActivationSamples => Quick ? 5 : 9;
    public int MemoryGrains => Quick ? 10_000 : 100_000;

    /// <summary>Host arguments of the experiment that leaves out what serves operators and marketers, not the shop.</summary>
    public IEnumerable<string> HostArguments() => (WithoutOperatorViews
        ? ["--Actors:EventStore:RunProjections=false", "--Actors:OrleansDashboard:Enabled=false"]
        : (string[])[]).Concat(ExtraHostArguments ?? []);

    public static BenchOptions Parse(string[] args)
    {
        var only = args.FirstOrDefault(a => a.StartsWith("--only=", StringComparison.Ordinal))?["--only=".Length..]
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.OrdinalIgnoreCase);
        // --experiment=quick-append: the host with Marten's Quick append mode, to compare ingest; never a "latest" run.
        // --experiment=no-operator-views: no reporting daemon and no Orleans dashboard (its call timing), to weigh them.
        // --host-arg=--Actors:…=…: any host setting, for one-off comparisons (the run is then partial, never "latest").
        var extra = args.Where(a => a.StartsWith("--host-arg=", StringComparison.Ordinal)).Select(a => a["--host-arg=".Length..]).ToList();
        // --skip-trigger: the journeys group without journey-trigger-100k and its floor, to compare the open loop's p99 in
        // half the time (a partial run).
        // --timeline: the journey's open loop prints, second by second, what the machine did (diagnostic).
        // --experiment=hold-reports: the reporting projections paused through the journey's open loop (a partial run).
        return new(args.Contains("--quick"), only, args.Contains("--experiment=quick-append"), args.Contains("--experiment=no-operator-views"), extra,
            args.Contains("--skip-trigger"), args.Contains("--timeline"), args.Contains("--experiment=hold-reports"));
    }
}
