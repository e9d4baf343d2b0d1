using Actors.Domain.Lifecycle;
using Actors.Domain.Tracking;
using Microsoft.Extensions.Logging;

namespace Actors.Grains.Visitors;

/// <summary>
/// Wake-ups: time alone moves a known visitor to at-risk and lapsed. A durable reminder (on PostgreSQL) wakes the
/// grain even when it is not active. Only visitors whose stage can still change by inactivity hold one, so anonymous
/// and lapsed visitors cost nothing; it is registered once, not on every event.
/// </summary>
public sealed partial class VisitorGrain
{
    private const string WakeUpReminder = "lifecycle";

    // The due time of the reminder as last registered (null: none). A later next change needs no new registration:
    // the reminder fires early, finds nothing to do and is re-armed. An earlier one must move it.
    private DateTimeOffset? _wakeUpDue;
    private IGrainTimer? _timer;

    private async Task ScheduleWakeUpAsync()
    {
        var now = clock.GetUtcNow();
        var next = Intake.NextWakeUp(_profile, now, settings.Lifecycle, segments.Context);
        ArmTimer(next);
        if (next is { } due && (_wakeUpDue is null || due < SafeTime.Subtract(_wakeUpDue.Value, Tolerance)))
        {
            await this.RegisterOrUpdateReminder(WakeUpReminder, DueIn(due, now), settings.WakeUpPeriod);
            _wakeUpDue = due;
        }
        else if (next is null && _wakeUpDue is not null)
        {
            if (await this.GetReminder(WakeUpReminder) is { } reminder) await this.UnregisterReminder(reminder);
            _wakeUpDue = null;
        }
    }

    private static readonly TimeSpan Tolerance = TimeSpan.FromMilliseconds(500);

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>
    /// The longest due time we give a reminder. The reminder service adds it to its own clock, and a wake-up can be
    /// years away (9999-12-31 for a stream dated there, from before the edge bounded event times), which would
    /// overflow; armed at most this far ahead, the reminder fires early, finds nothing to do and sleeps again.
    /// </summary>
    internal static readonly TimeSpan MaxReminderDue = TimeSpan.FromDays(30);

    /// <summary>How long from <paramref name="now"/> until <paramref name="due"/>, within [0, <see cref="MaxReminderDue"/>].</summary>
    internal static TimeSpan DueIn(DateTimeOffset due, DateTimeOffset now)
    {
        var dueIn = due - now; // a difference of two instants always fits a TimeSpan
        return dueIn <= TimeSpan.Zero ? TimeSpan.Zero : dueIn > MaxReminderDue ? MaxReminderDue : dueIn;
    }

    /// <summary>While active, a timer wakes the grain at the exact moment (a window closing); the reminder is the durable backup.</summary>
    private void ArmTimer(DateTimeOffset? next)
    {
        _timer?.Dispose();
        _timer = null;
        if (next is not { } due) return;
        var dueIn = due - clock.GetUtcNow();
        if (dueIn > TimeSpan.FromHours(1)) return; // the reminder covers it; the activation will likely be gone by then
        _timer = this.RegisterGrainTimer(WakeUpAsync, new GrainTimerCreationOptions(Max(dueIn, TimeSpan.Zero), Timeout.InfiniteTimeSpan) { Interleave = false });
    }

    private Task WakeUpAsync(CancellationToken ct) => HandleWakeUpAsync();

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != WakeUpReminder) return;
        _wakeUpDue ??= clock.GetUtcNow(); // it exists, since it fired
        await HandleWakeUpAsync();

        // Sleep until the next moment anything can change instead of waking every period.
        var now = clock.GetUtcNow();
        if (_wakeUpDue is not null && Intake.NextWakeUp(_profile, now, settings.Lifecycle, segments.Context) is { } next
            && next - now > settings.WakeUpPeriod)
        {
            await this.RegisterOrUpdateReminder(WakeUpReminder, DueIn(next, now), settings.WakeUpPeriod);
            _wakeUpDue = next;
        }
    }

    private async Task HandleWakeUpAsync()
    {
        await EnsureLoadedAsync();
        LogWakeUp(ProfileId, _profile.Version, _profile.Stage.ToWire(), _profile.LastActivity, clock.GetUtcNow());
        IReadOnlyList<VisitorEvent> changes = [];
        await AppendWithRetryAsync(() => changes = Intake.HandleWakeUp(_profile, clock.GetUtcNow(), settings.Lifecycle, segments.Context));
        foreach (var s in changes.OfType<StageChanged>()) LogStageByTime(ProfileId, s.From.ToWire(), s.To.ToWire(), s.Reason);
        await AfterChangeAsync();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Wake-up of {ProfileId} at version {Version}: stage {Stage}, last activity {LastActivity:O}, now {Now:O}")]
    private partial void LogWakeUp(string profileId, long version, string stage, DateTimeOffset? lastActivity, DateTimeOffset now);

    [LoggerMessage(Level = LogLevel.Information, Message = "Profile {ProfileId} moved from {From} to {To} by inactivity ({Reason})")]
    private partial void LogStageByTime(string profileId, string from, string to, string reason);
}
