using Microsoft.Extensions.Hosting;

namespace Actors.Storage.Postgres;

/// <summary>
/// Something a node does to the database once when it starts (an index, a column's setting), in the background: a
/// failure (the database away, a lock held) never stops the node; the step is tried again every 30 s until it succeeds.
/// </summary>
public abstract class StartupStep : BackgroundService
{
    private static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(30);

    /// <summary>The step itself; it must be safe to repeat.</summary>
    protected abstract Task RunAsync(CancellationToken ct);

    /// <summary>Logs a failed attempt (each step in its own words).</summary>
    protected abstract void Failed(Exception e, TimeSpan retryAfter);

    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunAsync(stoppingToken);
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                Failed(e, RetryAfter);
            }
            try { await Task.Delay(RetryAfter, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }
}
