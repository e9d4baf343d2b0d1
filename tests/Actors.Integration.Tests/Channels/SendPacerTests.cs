using Actors.Grains.Channels;
using Microsoft.Extensions.Time.Testing;

namespace Actors.Integration.Tests.Channels;

/// <summary>A shard's pacer under a stall: the sends waiting in it go one interval apart after it, not all at once.</summary>
public class SendPacerTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Waits (up to 10 s, for a loaded machine) until the turns the clock released have run, then a little longer for any
    /// that should not have been released, and counts.
    /// </summary>
    private static async Task<int> SettledCountAsync(IReadOnlyList<Task> turns, int expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (turns.Count(t => t.IsCompleted) < expected && DateTime.UtcNow < deadline) await Task.Delay(10);
        await Task.Delay(200);
        return turns.Count(t => t.IsCompleted);
    }

    [Fact]
    public async Task Eight_sends_in_flight_go_one_at_a_time_after_the_process_wakes_a_second_late()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var pacer = new SendPacer(clock);
        var turns = Enumerable.Range(0, 8).Select(_ => pacer.WaitTurnAsync(Interval, CancellationToken.None)).ToList();
        Assert.Equal(1, await SettledCountAsync(turns, 1)); // the first goes at once

        clock.Advance(TimeSpan.FromSeconds(1)); // a stall: every wait is long overdue when the process runs again
        Assert.Equal(2, await SettledCountAsync(turns, 2)); // one more, not the five whose moments the stall passed

        for (var expected = 3; expected <= 8; expected++)
        {
            clock.Advance(Interval);
            Assert.Equal(expected, await SettledCountAsync(turns, expected));
        }
    }

    [Fact]
    public async Task Without_a_stall_sends_go_one_interval_apart()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var pacer = new SendPacer(clock);
        var turns = Enumerable.Range(0, 4).Select(_ => pacer.WaitTurnAsync(Interval, CancellationToken.None)).ToList();
        Assert.Equal(1, await SettledCountAsync(turns, 1));
        clock.Advance(Interval / 2);
        Assert.Equal(1, await SettledCountAsync(turns, 1));
        clock.Advance(Interval / 2);
        Assert.Equal(2, await SettledCountAsync(turns, 2));
        clock.Advance(Interval * 2);
        Assert.Equal(3, await SettledCountAsync(turns, 3));
    }
}
