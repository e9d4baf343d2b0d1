using Actors.Grains.Hosting;
using Actors.Storage.Reporting;
using Actors.Storage.Streams;
using Marten.Events.Daemon.Coordination;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Actors.Grains.Reporting;

/// <summary>
/// On the node that runs the reporting daemon: pauses the projections while a large trigger runs anywhere in the
/// cluster (<see cref="IReportsHoldGrain"/>, asked every second) and resumes them when it ends; they then catch up on
/// what the trigger wrote. A pause lasts at most <see cref="EventStoreSettings.MaxReportPause"/>: after that the reports
/// run until the holds end, so back-to-back triggers cannot freeze them. No pause while a rebuild runs.
/// </summary>
public sealed partial class ReportsPause(IGrainFactory grains, IProjectionCoordinator coordinator, ReportRebuilds rebuilds, EventStoreSettings settings,
    TimeProvider clock, ILogger<ReportsPause> logger) : BackgroundService
{
    public static readonly TimeSpan CheckEvery = TimeSpan.FromSeconds(1);

    private readonly ReportPausePolicy _policy = new(settings.MaxReportPause);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var hold = grains.GetGrain<IReportsHoldGrain>(IReportsHoldGrain.TheKey);
                await ApplyAsync(await hold.IsHeld());
                if (_policy.PausedAt is { } since) _ = hold.DaemonPaused(since); // for /v1/reports/status, told again each second
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogCheckFailed(logger, e); // a pause the check cannot end is ended when a later check succeeds
            }
            try { await Task.Delay(CheckEvery, clock, stoppingToken); }
            catch (OperationCanceledException) { break; }
        }
        if (_policy.PausedAt is not null) await ResumeAsync("the node stops");
    }

    private async Task ApplyAsync(bool held)
    {
        var now = clock.GetUtcNow();
        switch (_policy.Next(held, rebuilds.Rebuilding, now))
        {
            case ReportPausePolicy.Step.Pause:
                await coordinator.PauseAsync();
                _policy.Paused(now);
                LogPaused(logger);
                break;
            case ReportPausePolicy.Step.Resume:
                await ResumeAsync(held ? $"paused for the limit of {settings.MaxReportPause}" : "no large trigger runs");
                break;
        }
    }

    private async Task ResumeAsync(string why)
    {
        var since = _policy.PausedAt;
        await coordinator.ResumeAsync();
        _policy.Resumed();
        _ = grains.GetGrain<IReportsHoldGrain>(IReportsHoldGrain.TheKey).DaemonPaused(null);
        LogResumed(logger, why, since is { } s ? (clock.GetUtcNow() - s).TotalSeconds : 0);
    }

    [LoggerMessage(LogLevel.Information, "Reporting projections paused while a large trigger runs; they catch up after it")]
    private static partial void LogPaused(ILogger logger);

    [LoggerMessage(LogLevel.Information, "Reporting projections resumed ({Why}) after {Seconds:0.0} s paused")]
    private static partial void LogResumed(ILogger logger, string why, double seconds);

    [LoggerMessage(LogLevel.Warning, "Checking whether a large trigger runs failed; trying again")]
    private static partial void LogCheckFailed(ILogger logger, Exception e);
}

/// <summary>
/// When the reports pause and resume: paused while held (not during a rebuild), resumed when the hold ends or the pause
/// has lasted <paramref name="maxPause"/>; after such a long pause, none again until the hold has ended once.
/// </summary>
public sealed class ReportPausePolicy(TimeSpan maxPause)
{
    public enum Step { None, Pause, Resume }

    private bool _usedUp; // the last pause reached its limit while the hold went on

    public DateTimeOffset? PausedAt { get; private set; }

    public Step Next(bool held, bool rebuilding, DateTimeOffset now)
    {
        if (PausedAt is { } since)
        {
            if (!held) return Step.Resume;
            if (now - since < maxPause) return Step.None;
            _usedUp = true;
            return Step.Resume;
        }
        if (!held)
        {
            _usedUp = false;
            return Step.None;
        }
        return _usedUp || rebuilding ? Step.None : Step.Pause;
    }

    public void Paused(DateTimeOffset at) => PausedAt = at;

    public void Resumed() => PausedAt = null;
}
