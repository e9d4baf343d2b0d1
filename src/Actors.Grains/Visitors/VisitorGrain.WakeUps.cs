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
    private bool _hasWakeUp;

    private async Task ScheduleWakeUpAsync()
    {
        var next = StageMachine.NextInactivityCheck(_profile, settings.Lifecycle);
        if (next is { } due && !_hasWakeUp)
        {
            var dueIn = due - clock.GetUtcNow();
            if (dueIn < TimeSpan.Zero) dueIn = TimeSpan.Zero;
            await this.RegisterOrUpdateReminder(WakeUpReminder, dueIn, settings.WakeUpPeriod);
            _hasWakeUp = true;
        }
        else if (next is null && _hasWakeUp)
        {
            if (await this.GetReminder(WakeUpReminder) is { } reminder) await this.UnregisterReminder(reminder);
            _hasWakeUp = false;
        }
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != WakeUpReminder) return;
        await EnsureLoadedAsync();
        _hasWakeUp = true; // it exists, since it fired

        VisitorEvent? changed = null;
        LogWakeUp(ProfileId, _profile.Version, _profile.Stage.ToWire(), _profile.LastActivity, clock.GetUtcNow());
        await AppendWithRetryAsync(() =>
        {
            changed = Intake.HandleWakeUp(_profile, clock.GetUtcNow(), settings.Lifecycle);
            return changed is null ? [] : [changed];
        });
        if (changed is StageChanged s) LogStageByTime(ProfileId, s.From.ToWire(), s.To.ToWire(), s.Reason);
        await AfterChangeAsync();

        // Still active: sleep until the next moment inactivity could matter instead of waking every period.
        if (_hasWakeUp && StageMachine.NextInactivityCheck(_profile, settings.Lifecycle) is { } next
            && next - clock.GetUtcNow() > settings.WakeUpPeriod)
            await this.RegisterOrUpdateReminder(WakeUpReminder, next - clock.GetUtcNow(), settings.WakeUpPeriod);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Wake-up of {ProfileId} at version {Version}: stage {Stage}, last activity {LastActivity:O}, now {Now:O}")]
    private partial void LogWakeUp(string profileId, long version, string stage, DateTimeOffset? lastActivity, DateTimeOffset now);

    [LoggerMessage(Level = LogLevel.Information, Message = "Profile {ProfileId} moved from {From} to {To} by inactivity ({Reason})")]
    private partial void LogStageByTime(string profileId, string from, string to, string reason);
}
