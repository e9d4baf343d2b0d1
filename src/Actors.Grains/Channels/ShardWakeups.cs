using System.Collections.Concurrent;

namespace Actors.Grains.Channels;

/// <summary>
/// The wake-ups this silo sends to channel shards after decisions: at most one per shard per window (the shard's
/// linger), plus one at the window's end when more decisions asked meanwhile. A woken shard waits the linger before it
/// claims, so the wakes of those milliseconds only told it again what it already knew; during a 100,000-visitor trigger
/// they were one grain call per decided message, about 4 % of the host's running samples. No wake is lost: a decision
/// in the window is followed by the trailing wake, at most one window later than its own would have come.
/// </summary>
public sealed class ShardWakeups
{
    private const int Idle = 0, Sent = 1, SentAndAskedAgain = 2;

    private readonly Action<string> _send;
    private readonly TimeSpan _window;
    private readonly TimeProvider _clock;
    private readonly ConcurrentDictionary<string, Gate> _gates = new(StringComparer.Ordinal);

    /// <param name="send">Sends one wake to the shard with that key (a one-way grain call).</param>
    /// <param name="window">How long after a wake the next one waits; zero sends every wake.</param>
    public ShardWakeups(Action<string> send, TimeSpan window, TimeProvider clock)
    {
        _send = send;
        _window = window;
        _clock = clock;
    }

    public ShardWakeups(IGrainFactory grains, ChannelSettings settings, TimeProvider clock)
        : this(key => _ = grains.GetGrain<IChannelShardGrain>(key).Wake(), settings.WakeLingerTaken, clock)
    {
    }

    /// <summary>The shard has a new row: wake it now, or at the end of the window of the wake sent last.</summary>
    public void Wake(string channel, int shard)
    {
        var key = IChannelShardGrain.KeyOf(channel, shard);
        if (_window <= TimeSpan.Zero)
        {
            Send(key);
            return;
        }
        var gate = _gates.GetOrAdd(key, static (k, self) => new Gate(k, self), this);
        while (true)
        {
            var state = Volatile.Read(ref gate.State);
            if (state == Idle)
            {
                if (Interlocked.CompareExchange(ref gate.State, Sent, Idle) != Idle) continue;
                Send(key);
                gate.Timer.Change(_window, Timeout.InfiniteTimeSpan);
                return;
            }
            if (state == SentAndAskedAgain || Interlocked.CompareExchange(ref gate.State, SentAndAskedAgain, Sent) == Sent) return;
        }
    }

    // A wake that cannot be sent (the silo is stopping) costs only time: the shard's poll finds the rows. It must not fail
    // the decision that asked for it, which is stored already, nor escape a timer's thread.
    private void Send(string key)
    {
        try { _send(key); }
        catch (Exception) { }
    }

    private void WindowEnded(Gate gate)
    {
        while (true)
        {
            var state = Volatile.Read(ref gate.State);
            if (state == SentAndAskedAgain)
            {
                if (Interlocked.CompareExchange(ref gate.State, Sent, SentAndAskedAgain) != SentAndAskedAgain) continue;
                Send(gate.Key);
                gate.Timer.Change(_window, Timeout.InfiniteTimeSpan);
                return;
            }
            if (state != Sent || Interlocked.CompareExchange(ref gate.State, Idle, Sent) == Sent) return;
        }
    }

    /// <summary>One shard's state and the timer that ends its window (created once, re-armed per wake sent).</summary>
    private sealed class Gate
    {
        public readonly string Key;
        public readonly ShardWakeups Owner;
        public readonly ITimer Timer;
        public int State;

        public Gate(string key, ShardWakeups owner)
        {
            Key = key;
            Owner = owner;
            Timer = owner._clock.CreateTimer(static g => ((Gate)g!).Owner.WindowEnded((Gate)g!), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }
}
