using System.Collections.Concurrent;

namespace Actors.Grains.Channels;

/// <summary>
/// The wake-ups this silo sends to channel shards after decisions: at most one per shard per window (the shard's
/// linger), plus one at the window's end when more decisions asked meanwhile. A woken shard waits the linger before it
/// claims, so the wakes of those milliseconds only told it again what it already knew; during a 100,000-visitor trigger
/// they were one grain call per decided message, about 4 % of the host's running samples. No wake is lost: a decision
/// in the window is followed by the trailing wake, at most about one window later than its own would have come.
/// </summary>
public sealed class ShardWakeups
{
    private readonly Action<string> _send;
    private readonly long _window; // in the clock's timestamp units
    private readonly TimeSpan _flushAfter;
    private readonly TimeProvider _clock;
    private readonly ConcurrentDictionary<string, Gate> _gates = new(StringComparer.Ordinal);
    private readonly ITimer? _flush;
    private int _flushArmed;

    /// <param name="send">Sends one wake to the shard with that key (a one-way grain call).</param>
    /// <param name="window">How long after a wake the next one waits; zero sends every wake.</param>
    public ShardWakeups(Action<string> send, TimeSpan window, TimeProvider clock)
    {
        _send = send;
        _clock = clock;
        _flushAfter = window;
        _window = (long)(window.TotalSeconds * clock.TimestampFrequency);
        // One timer for every shard, armed only while some wake waits: under a burst it fires once per window for all
        // the shards, and a lone wake never touches it (re-arming a timer per wake cost a system call each).
        if (window > TimeSpan.Zero) _flush = clock.CreateTimer(static s => ((ShardWakeups)s!).Flush(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public ShardWakeups(IGrainFactory grains, ChannelSettings settings, TimeProvider clock)
        : this(SenderFor(grains), settings.WakeLingerTaken, clock)
    {
    }

    // Grain references kept per key: resolving one formats the interface's type name each time.
    private static Action<string> SenderFor(IGrainFactory grains)
    {
        var shards = new ConcurrentDictionary<string, IChannelShardGrain>(StringComparer.Ordinal);
        return key => _ = shards.GetOrAdd(key, static (k, g) => g.GetGrain<IChannelShardGrain>(k), grains).Wake();
    }

    /// <summary>The shard has a new row: wake it now, or at the end of the window of the wake sent last.</summary>
    public void Wake(string channel, int shard)
    {
        var key = IChannelShardGrain.KeyOf(channel, shard);
        if (_flush is null)
        {
            Send(key);
            return;
        }
        var gate = _gates.GetOrAdd(key, static k => new Gate(k));
        while (true)
        {
            var last = Volatile.Read(ref gate.SentAt);
            var now = _clock.GetTimestamp();
            if (last == Gate.Never || now - last >= _window)
            {
                if (Interlocked.CompareExchange(ref gate.SentAt, now, last) != last) continue; // another caller sent it
                Interlocked.Exchange(ref gate.Waiting, 0); // this wake covers any that waited
                Send(key);
                return;
            }
            if (Interlocked.Exchange(ref gate.Waiting, 1) == 0) ArmFlush();
            return;
        }
    }

    private void ArmFlush()
    {
        if (Interlocked.CompareExchange(ref _flushArmed, 1, 0) == 0) _flush!.Change(_flushAfter, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The window ended: one wake for each shard that was asked during it.</summary>
    private void Flush()
    {
        // Disarmed first, so a wake that waits from now on arms the next flush even if this one passed its shard.
        Volatile.Write(ref _flushArmed, 0);
        foreach (var gate in _gates.Values)
        {
            if (Interlocked.Exchange(ref gate.Waiting, 0) == 0) continue;
            Volatile.Write(ref gate.SentAt, _clock.GetTimestamp());
            Send(gate.Key);
        }
    }

    // A wake that cannot be sent (the silo is stopping) costs only time: the shard's poll finds the rows. It must not fail
    // the decision that asked for it, which is stored already, nor escape a timer's thread.
    private void Send(string key)
    {
        try { _send(key); }
        catch (Exception) { }
    }

    /// <summary>One shard: when it was last woken, and whether a wake waits for the flush.</summary>
    private sealed class Gate(string key)
    {
        public const long Never = long.MinValue;
        public readonly string Key = key;
        public long SentAt = Never;
        public int Waiting;
    }
}
