namespace Actors.Benchmarks;

/// <summary>
/// Garbage collections of this process during a phase. The host under test shares the process, so a collection pauses
/// its requests too: the pauses explain much of a p99 on this machine.
/// </summary>
public readonly record struct GcWindow(TimeSpan Pause, int Gen0, int Gen1, int Gen2, TimeSpan LongestSeen)
{
    public static GcWindow Start() =>
        new(GC.GetTotalPauseDuration(), GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), TimeSpan.Zero);

    /// <summary>The collections since <see cref="Start"/>; the longest pause is the runtime's longest of its last few collections.</summary>
    public GcWindow Since() =>
        new(GC.GetTotalPauseDuration() - Pause, GC.CollectionCount(0) - Gen0, GC.CollectionCount(1) - Gen1, GC.CollectionCount(2) - Gen2, LongestRecent());

    private static TimeSpan LongestRecent()
    {
        var longest = TimeSpan.Zero;
        foreach (var kind in new[] { GCKind.Ephemeral, GCKind.FullBlocking, GCKind.Background })
            foreach (var pause in GC.GetGCMemoryInfo(kind).PauseDurations)
                if (pause > longest) longest = pause;
        return longest;
    }

    public override string ToString() =>
        $"GC paused {Pause.TotalMilliseconds:N0} ms in {Gen0} gen0, {Gen1} gen1, {Gen2} gen2 collections (longest recent pause {LongestSeen.TotalMilliseconds:N0} ms)";
}
