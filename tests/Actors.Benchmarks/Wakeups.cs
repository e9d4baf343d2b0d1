using System.Globalization;

namespace Actors.Benchmarks;

/// <summary>
/// How often this process's threads and the host's PostgreSQL processes were switched out (voluntary and involuntary
/// context switches: <c>getrusage</c> for this process, <c>/proc</c> for PostgreSQL's), and the thread-pool work items
/// this process ran. On this VM waking a thread costs 8–13 µs (docs/benchmarks-log.md, twenty-second session), so
/// switches per request explain much of why a request costs more CPU at a moderate rate than at the maximum, where one
/// wake-up serves many requests.
/// </summary>
public sealed record Wakeups(long Host, long Postgres, long WorkItems)
{
    /// <remarks>
    /// A PostgreSQL backend that exits between two readings takes its switches with it (the host's pools keep theirs
    /// open through a phase). This reads <c>/proc</c> once more after <see cref="CpuTime.Now"/> has: outside the timed
    /// windows, a few milliseconds.
    /// </remarks>
    public static Wakeups Now(BenchHost host) =>
        new(ProcessSwitches(), SwitchesOf(CpuTime.PostgresPids(host.DataDirectory).Select(pid => $"/proc/{pid}/status")), ThreadPool.CompletedWorkItemCount);

    /// <summary>
    /// This process's switches, ended threads included (<c>getrusage</c>): summing its threads' <c>/proc</c> figures
    /// loses those of every thread-pool worker retired between two readings.
    /// </summary>
    private static long ProcessSwitches() => GetResourceUsage(0 /* RUSAGE_SELF */, out var usage) == 0 ? usage.VoluntarySwitches + usage.InvoluntarySwitches : 0;

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct ResourceUsage // struct rusage on 64-bit Linux: two timevals, then fourteen longs
    {
        public long UserSeconds, UserMicroseconds, SystemSeconds, SystemMicroseconds;
        public long MaxResident, SharedText, UnsharedData, UnsharedStack, MinorFaults, MajorFaults, Swaps, BlocksIn, BlocksOut,
            MessagesSent, MessagesReceived, Signals, VoluntarySwitches, InvoluntarySwitches;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "getrusage")]
    private static extern int GetResourceUsage(int who, out ResourceUsage usage);

    public static Wakeups operator -(Wakeups a, Wakeups b) => new(a.Host - b.Host, a.Postgres - b.Postgres, a.WorkItems - b.WorkItems);

    /// <summary>"context switches 24.2 in the host process, 10.3 in PostgreSQL; 8.1 thread-pool work items" per operation.</summary>
    public string Per(long operations) => operations <= 0 ? "" : string.Create(CultureInfo.InvariantCulture,
        $"context switches {Host / (double)operations:N1} in the host process, {Postgres / (double)operations:N1} in PostgreSQL; {WorkItems / (double)operations:N1} thread-pool work items");

    private static long SwitchesOf(IEnumerable<string> statusFiles)
    {
        long total = 0;
        foreach (var file in statusFiles)
        {
            try
            {
                foreach (var line in File.ReadLines(file))
                    if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal) || line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                        total += long.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim(), CultureInfo.InvariantCulture);
            }
            catch (IOException) { } // the thread or process ended meanwhile
            catch (UnauthorizedAccessException) { }
        }
        return total;
    }
}
