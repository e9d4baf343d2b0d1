using JasperFx.Events.Daemon;
using JasperFx.Events.Projections;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Actors.Storage.Reporting;

public sealed record ProjectionStatus(string Name, long Position, long HighWater, string State, double Progress);
public sealed record ReportStatus(IReadOnlyList<ProjectionStatus> Projections, string? DaemonNode, DateTimeOffset? PausedSince = null)
{
    /// <summary>The daemon's node paused the projections for a large trigger: those not rebuilding say "paused".</summary>
    public ReportStatus PausedFrom(DateTimeOffset since) => this with
    {
        PausedSince = since,
        Projections = [.. Projections.Select(p => p.State == "running" ? p with { State = "paused" } : p)],
    };
}

/// <summary>The node that runs the reporting daemon says so here, with a heartbeat (one document).</summary>
public sealed record ReportDaemonNode(string Id, string Node, DateTimeOffset StartedAt, DateTimeOffset HeartbeatAt)
{
    public const string TheId = "daemon";

    /// <summary>A heartbeat older than this means the node went away (it beats every <see cref="Beat"/>).</summary>
    public static readonly TimeSpan Stale = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan Beat = TimeSpan.FromSeconds(15);
}

/// <summary>The reporting projections: registration (async, run by the daemon), status, rebuild.</summary>
public static class ReportProjections
{
    public static readonly IReadOnlyList<string> Names =
        [ReportVisitorProjection.ProjectionName, MessageDayProjection.ProjectionName, SegmentFlowProjection.ProjectionName];

    public static void Register(StoreOptions options)
    {
        options.Schema.For<ReportVisitor>().Index(v => v.Stage);
        options.Schema.For<MessageDay>().Index(m => m.Day);
        options.Schema.For<SegmentFlowDay>().Index(f => f.SegmentId);
        options.Schema.For<ReportDaemonNode>();
        options.Projections.Add(new ReportVisitorProjection(), ProjectionLifecycle.Async);
        options.Projections.Add(new MessageDayProjection(), ProjectionLifecycle.Async);
        options.Projections.Add(new SegmentFlowProjection(), ProjectionLifecycle.Async);
    }

    /// <summary>Each projection's position against the log's high water mark, as stored in PostgreSQL (true on every node).</summary>
    public static async Task<(IReadOnlyList<(string Name, long Position)> Positions, long HighWater)> ProgressAsync(IDocumentStore store, CancellationToken ct)
    {
        var progress = await store.Advanced.AllProjectionProgress(token: ct);
        var highWater = await store.Storage.Database.FetchHighestEventSequenceNumber(ct);
        var positions = Names.Select(name => (name, progress.Where(s => ShardOf(s.ShardName) == name).Select(s => s.Sequence).DefaultIfEmpty(0).Max())).ToList();
        return (positions, highWater);
    }

    private static string ShardOf(string shardName) => shardName.Split(':')[0];

    /// <summary>
    /// Rebuilds every reporting projection from the event log, one after the other, on the given daemon; progress goes
    /// to <paramref name="report"/> about once a second.
    /// </summary>
    public static async Task RebuildAsync(IDocumentStore store, IProjectionDaemon daemon, Action<string, long, long> report, TimeSpan timeout,
        Action<string>? started, CancellationToken ct)
    {
        foreach (var name in Names)
        {
            started?.Invoke(name);
            using var watch = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var watcher = Task.Run(async () =>
            {
                while (!watch.IsCancellationRequested)
                {
                    try
                    {
                        var (positions, high) = await ProgressAsync(store, watch.Token);
                        report(name, positions.First(p => p.Name == name).Position, high);
                        await Task.Delay(TimeSpan.FromSeconds(1), watch.Token);
                    }
                    catch (OperationCanceledException) { return; }
                }
            }, CancellationToken.None);
            try { await daemon.RebuildProjectionAsync(name, timeout, ct); }
            finally
            {
                await watch.CancelAsync();
                await watcher;
            }
            var (done, highWater) = await ProgressAsync(store, ct);
            report(name, done.First(p => p.Name == name).Position, highWater);
        }
    }
}

/// <summary>
/// Rebuilds asked for through the API, run on this node's daemon (the node that runs the projections), one at a time;
/// their progress is read back by <see cref="StatusAsync"/>.
/// </summary>
public sealed partial class ReportRebuilds(IDocumentStore store, IServiceProvider services, TimeProvider clock, ILogger<ReportRebuilds> logger)
{
    private readonly Lock _gate = new();
    private Task? _running;
    private volatile string? _current;
    private readonly HashSet<string> _pending = new(StringComparer.Ordinal);

    /// <summary>A rebuild asked for through the API is running on this node.</summary>
    public bool Rebuilding => _running is { IsCompleted: false };

    /// <summary>This node runs the daemon (Actors:EventStore:RunProjections), so it can rebuild.</summary>
    public bool RunsDaemon => services.GetService<Marten.Events.Daemon.Coordination.IProjectionCoordinator>() is not null;

    /// <summary>Starts a rebuild of every projection; false when one is already running.</summary>
    public bool Start()
    {
        var coordinator = services.GetService<Marten.Events.Daemon.Coordination.IProjectionCoordinator>()
            ?? throw new InvalidOperationException("This node does not run the reporting daemon.");
        lock (_gate)
        {
            if (_running is { IsCompleted: false }) return false;
            _pending.Clear();
            foreach (var n in ReportProjections.Names) _pending.Add(n);
            _running = Task.Run(async () =>
            {
                try
                {
                    var daemon = coordinator.DaemonForMainDatabase();
                    await ReportProjections.RebuildAsync(store, daemon, (name, position, high) => LogProgress(logger, name, position, high),
                        TimeSpan.FromMinutes(30), name => { _current = name; lock (_gate) _pending.Remove(name); }, CancellationToken.None);
                    LogRebuilt(logger);
                }
                catch (Exception e)
                {
                    LogRebuildFailed(logger, e);
                }
                finally
                {
                    _current = null;
                    lock (_gate) _pending.Clear();
                }
            });
            return true;
        }
    }

    public async Task<ReportStatus> StatusAsync(CancellationToken ct)
    {
        var (positions, high) = await ReportProjections.ProgressAsync(store, ct);
        await using var session = store.QuerySession();
        var node = await session.LoadAsync<ReportDaemonNode>(ReportDaemonNode.TheId, ct);
        var alive = node is not null && clock.GetUtcNow() - node.HeartbeatAt < ReportDaemonNode.Stale;
        string[] waiting;
        lock (_gate) waiting = [.. _pending];
        var rows = positions.Select(p =>
        {
            var rebuilding = p.Name == _current || waiting.Contains(p.Name);
            var state = rebuilding ? "rebuilding" : alive ? "running" : "stopped";
            var progress = high <= 0 ? 1.0 : Math.Clamp((double)p.Position / high, 0, 1);
            // A projection waiting for its turn in a rebuild has not started over yet: its old position means nothing.
            if (waiting.Contains(p.Name)) progress = 0;
            return new ProjectionStatus(p.Name, p.Position, high, state, progress);
        }).ToList();
        return new ReportStatus(rows, alive ? node!.Node : null);
    }

    [LoggerMessage(LogLevel.Information, "Rebuilding {Projection}: {Position} of {HighWater}")]
    private static partial void LogProgress(ILogger logger, string projection, long position, long highWater);

    [LoggerMessage(LogLevel.Information, "Reporting projections rebuilt")]
    private static partial void LogRebuilt(ILogger logger);

    [LoggerMessage(LogLevel.Error, "Rebuilding the reporting projections failed")]
    private static partial void LogRebuildFailed(ILogger logger, Exception e);
}
