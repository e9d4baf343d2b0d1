using System.Diagnostics;
using Actors.Grains.Hosting;
using Actors.Storage.Postgres;
using Npgsql;

namespace Actors.Silo.Hosting;

/// <summary>How the host looks after the PostgreSQL server it started itself (section Actors:Postgres).</summary>
public sealed record PostgresSupervisorSettings
{
    /// <summary>False: a dead embedded server stays dead (something else supervises it).</summary>
    public bool Supervise { get; init; } = true;

    /// <summary>How often the postmaster is looked for (a file and /proc, no connection).</summary>
    public TimeSpan CheckEvery { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The wait after the first failed restart, doubled after each further one up to <see cref="MaxRestartDelay"/>.</summary>
    public TimeSpan FirstRestartDelay { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxRestartDelay { get; init; } = TimeSpan.FromSeconds(30);

    public static PostgresSupervisorSettings From(IConfiguration configuration)
    {
        var settings = configuration.GetSection("Actors:Postgres").Get<PostgresSupervisorSettings>() ?? new();
        if (settings.CheckEvery <= TimeSpan.Zero || settings.FirstRestartDelay <= TimeSpan.Zero || settings.MaxRestartDelay < settings.FirstRestartDelay)
            throw new InvalidOperationException(
                "Actors:Postgres:CheckEvery and FirstRestartDelay must be positive, and MaxRestartDelay at least FirstRestartDelay.");
        return settings;
    }
}

/// <summary>
/// Brings the embedded PostgreSQL back when its postmaster dies (killed, out of memory) without the host having asked
/// it to stop: pg_ctl start on the same folder and port, where crash recovery replays the WAL. Requests meanwhile get
/// 503 with Retry-After (StoreUnavailableHandler). Only registered when the host owns an embedded server.
/// </summary>
public sealed partial class EmbeddedPostgresSupervisor(
    EmbeddedPostgres postgres, PostgresSupervisorSettings settings, ActorsMetrics metrics, ILogger<EmbeddedPostgresSupervisor> logger)
    : BackgroundService
{
    private int _restarts;

    /// <summary>Times the server was found dead and brought back.</summary>
    public int Restarts => Volatile.Read(ref _restarts);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (true)
            {
                await Task.Delay(settings.CheckEvery, stoppingToken);
                if (postgres.StopRequested) return; // the host stops it on purpose: nothing to watch any more
                if (postgres.IsRunning) continue;
                // postgres rewrites postmaster.pid in place at state changes: a torn read must not count as a death.
                await Task.Delay(TimeSpan.FromMilliseconds(200), stoppingToken);
                if (postgres.StopRequested || postgres.IsRunning) continue;
                await BringBackAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task BringBackAsync(CancellationToken ct)
    {
        var down = Stopwatch.StartNew();
        LogDead(postgres.Port, postgres.ClusterDirectory);
        // Pooled connections lead to the dead server: drop them so requests fail fast now and connect afresh later.
        NpgsqlConnection.ClearAllPools();
        var delay = settings.FirstRestartDelay;
        for (var attempt = 1; ; attempt++)
        {
            if (postgres.StopRequested) return;
            try
            {
                await postgres.RestartAsync(ct);
                NpgsqlConnection.ClearAllPools();
                Interlocked.Increment(ref _restarts);
                metrics.EmbeddedPostgresRestarted();
                LogBack(postgres.Port, down.Elapsed.TotalSeconds, attempt);
                return;
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                // Typically old server processes still hold the shared memory for a moment after a SIGKILL.
                LogRestartFailed(attempt, delay.TotalSeconds, e.Message.Trim(), Path.Combine(postgres.DataDirectory, "postgres.log"));
            }
            await Task.Delay(delay, ct);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, settings.MaxRestartDelay.Ticks));
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning,
        Message = "The embedded PostgreSQL server on port {Port} is dead ({ClusterDirectory}); restarting it. Requests answer 503 until it is back")]
    private partial void LogDead(int port, string clusterDirectory);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information,
        Message = "The embedded PostgreSQL server on port {Port} is back after {DownSeconds:0.0} s down (start attempts: {Attempts})")]
    private partial void LogBack(int port, double downSeconds, int attempts);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning,
        Message = "Restarting the embedded PostgreSQL server failed (attempt {Attempt}); next attempt in {DelaySeconds} s. Its log is {LogFile}: {Error}")]
    private partial void LogRestartFailed(int attempt, double delaySeconds, string error, string logFile);
}
