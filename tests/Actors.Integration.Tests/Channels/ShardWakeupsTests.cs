using Actors.Grains.Channels;
using Microsoft.Extensions.Time.Testing;

namespace Actors.Integration.Tests.Channels;

/// <summary>
/// A silo's wake-ups of channel shards: one per shard per window, never one lost. The fake clock runs the window's
/// timer inside <see cref="FakeTimeProvider.Advance"/>, so every count below is exact.
/// </summary>
public class ShardWakeupsTests
{
    private static readonly TimeSpan Window = TimeSpan.FromMilliseconds(10);

    private sealed class Recorder
    {
        private readonly List<string> _sent = [];
        public Func<string, bool> Throws { get; set; } = _ => false;

        public void Send(string key)
        {
            lock (_sent) _sent.Add(key);
            if (Throws(key)) throw new InvalidOperationException("the silo is stopping");
        }

        public int Count(string key)
        {
            lock (_sent) return _sent.Count(k => k == key);
        }

        public int Total
        {
            get { lock (_sent) return _sent.Count; }
        }
    }

    private static (ShardWakeups Wakeups, Recorder Sent, FakeTimeProvider Clock) Build(TimeSpan window)
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var sent = new Recorder();
        return (new ShardWakeups(sent.Send, window, clock), sent, clock);
    }

    [Fact]
    public void A_burst_for_one_shard_sends_one_wake_at_once_and_one_at_the_end_of_the_window_then_none()
    {
        var (wakeups, sent, clock) = Build(Window);
        for (var i = 0; i < 500; i++) wakeups.Wake("email", 3);
        Assert.Equal(1, sent.Count("email/3")); // the first, at once

        clock.Advance(Window);
        Assert.Equal(2, sent.Count("email/3")); // the trailing wake for the 499 that came after it

        clock.Advance(Window);
        clock.Advance(Window);
        Assert.Equal(2, sent.Count("email/3")); // nothing asked since: the gate went idle

        wakeups.Wake("email", 3);
        Assert.Equal(3, sent.Count("email/3")); // idle again: the next wake goes at once
    }

    [Fact]
    public void A_single_wake_is_sent_once_with_no_trailing_wake()
    {
        var (wakeups, sent, clock) = Build(Window);
        wakeups.Wake("sms", 0);
        clock.Advance(Window);
        clock.Advance(Window);
        Assert.Equal(1, sent.Total);
    }

    [Fact]
    public void Shards_and_channels_have_windows_of_their_own()
    {
        var (wakeups, sent, _) = Build(Window);
        foreach (var channel in new[] { "email", "push" })
            for (var shard = 0; shard < 8; shard++)
            {
                wakeups.Wake(channel, shard);
                wakeups.Wake(channel, shard);
            }
        Assert.Equal(16, sent.Total);
        Assert.Equal(1, sent.Count("push/7"));
    }

    [Fact]
    public void With_no_window_every_wake_is_sent()
    {
        var (wakeups, sent, _) = Build(TimeSpan.Zero);
        for (var i = 0; i < 5; i++) wakeups.Wake("email", 1);
        Assert.Equal(5, sent.Count("email/1"));
    }

    [Fact]
    public void A_wake_asked_while_the_trailing_one_is_out_is_followed_by_another_window()
    {
        var (wakeups, sent, clock) = Build(Window);
        wakeups.Wake("email", 2);
        wakeups.Wake("email", 2);
        clock.Advance(Window); // trailing wake: a new window starts
        wakeups.Wake("email", 2);
        Assert.Equal(2, sent.Count("email/2"));
        clock.Advance(Window);
        Assert.Equal(3, sent.Count("email/2"));
    }

    [Fact]
    public void A_send_that_throws_reaches_neither_the_decision_nor_the_timer_and_holds_back_no_later_wake()
    {
        var (wakeups, sent, clock) = Build(Window);
        sent.Throws = _ => true;
        wakeups.Wake("email", 5); // the decision that asked is stored already: it must not fail
        wakeups.Wake("email", 5);
        clock.Advance(Window); // the trailing send throws on the timer: swallowed
        sent.Throws = _ => false;
        clock.Advance(Window);
        clock.Advance(Window);
        wakeups.Wake("email", 5);
        Assert.Equal(3, sent.Count("email/5"));
    }

    [Fact]
    public async Task Wakes_from_many_threads_at_once_are_all_followed_by_a_send_and_are_few()
    {
        var (wakeups, sent, clock) = Build(Window);
        using var start = new Barrier(4);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            start.SignalAndWait();
            for (var i = 0; i < 20_000; i++) wakeups.Wake("email", i % 2);
        })));
        Assert.Equal(1, sent.Count("email/0"));
        Assert.Equal(1, sent.Count("email/1"));
        clock.Advance(Window);
        Assert.Equal(2, sent.Count("email/0"));
        Assert.Equal(2, sent.Count("email/1"));
    }
}
