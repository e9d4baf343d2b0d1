using Actors.Grains.Hosting;
using Actors.Storage.Reporting;
using Marten;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Actors.Grains.Reporting;

/// <summary>
/// On the node that runs the reporting daemon: writes its silo address and a heartbeat, so every node's
/// /v1/reports/status can name the daemon's node and tell when it went away (heartbeat older than a minute).
/// </summary>
public sealed partial class ReportDaemonBeacon(IDocumentStore store, ILocalSiloDetails silo, TimeProvider clock, OutageLog outage,
    ILogger<ReportDaemonBeacon> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var started = clock.GetUtcNow();
        var node = silo.SiloAddress.ToString();
        LogRunning(logger, node);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var session = store.LightweightSession();
                session.Store(new ReportDaemonNode(ReportDaemonNode.TheId, node, started, clock.GetUtcNow()));
                await session.SaveChangesAsync(stoppingToken);
                outage.Succeeded("reporting daemon heartbeat");
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                outage.Failed("reporting daemon heartbeat", e);
            }
            try { await Task.Delay(ReportDaemonNode.Beat, clock, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    [LoggerMessage(LogLevel.Information, "Reporting projections run on this node ({Node})")]
    private static partial void LogRunning(ILogger logger, string node);
}
