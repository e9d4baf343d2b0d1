namespace Actors.Grains.Channels;

/// <summary>
/// Keeps one shard's sends at least an interval apart (the channel's cluster-wide rate split between its shards). A
/// send takes its moment when it goes, not ahead: sends in flight that booked consecutive moments and slept until
/// theirs all woke late at once after a stall of the process (a GC, a starved CPU), and the provider saw a shard's
/// whole parallelism in one burst (4 shards × 8 = 32 messages in a second against a limit of 20, in CI). Each one that
/// wakes to find the moment taken waits for the next, so sends stay one interval apart whatever the scheduler does.
/// </summary>
public sealed class SendPacer(TimeProvider clock)
{
    private long _nextTicks; // the earliest moment of the next send

    public async Task WaitTurnAsync(TimeSpan interval, CancellationToken ct)
    {
        while (true)
        {
            var now = clock.GetUtcNow().UtcTicks;
            var next = Interlocked.Read(ref _nextTicks);
            if (next > now)
            {
                await Task.Delay(TimeSpan.FromTicks(next - now), clock, ct);
                continue;
            }
            if (Interlocked.CompareExchange(ref _nextTicks, now + interval.Ticks, next) == next) return;
        }
    }
}
