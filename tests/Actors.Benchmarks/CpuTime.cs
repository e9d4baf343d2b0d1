using System.Diagnostics;
using System.Globalization;

namespace Actors.Benchmarks;

/// <summary>
/// CPU time used so far by this process (client and host), the host's PostgreSQL (its postmaster, found by its data
/// folder, and the postmaster's children) and the SMTP server: on a shared machine, CPU per operation drifts far less
/// than operations per second.
/// </summary>
public sealed record CpuTime(TimeSpan Process, TimeSpan Postgres, TimeSpan Sink)
{
    internal const double TicksPerSecond = 100; // USER_HZ on Linux

    public static CpuTime Now(BenchHost host, SmtpCountSink? sink = null)
    {
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        return new(self.TotalProcessorTime, PostgresCpu(host.DataDirectory), sink?.CpuTime ?? TimeSpan.Zero);
    }

    public static CpuTime operator -(CpuTime a, CpuTime b) => new(a.Process - b.Process, a.Postgres - b.Postgres, a.Sink - b.Sink);

    /// <summary>"host 1.2 ms, PostgreSQL 0.4 ms, server 0.3 ms" per operation.</summary>
    public string Per(long operations) =>
        $"host process {Ms(Process, operations)}, PostgreSQL {Ms(Postgres, operations)}, SMTP server {Ms(Sink, operations)} ms CPU";

    /// <summary>"host 1.2 ms, PostgreSQL 0.4 ms" per operation, for phases without an SMTP server.</summary>
    public string PerWithoutSink(long operations) => $"host process {Ms(Process, operations)}, PostgreSQL {Ms(Postgres, operations)} ms CPU";

    /// <summary>
    /// CPU time of this process's children that have ended and been waited for (a load generator run to its end):
    /// the kernel adds a reaped child's time to its parent's (cutime and cstime of <c>/proc/self/stat</c>).
    /// </summary>
    public static TimeSpan EndedChildren()
    {
        try
        {
            var f = FieldsAfterCommand(File.ReadAllText("/proc/self/stat"));
            return TimeSpan.FromSeconds((double.Parse(f[13], CultureInfo.InvariantCulture) + double.Parse(f[14], CultureInfo.InvariantCulture)) / TicksPerSecond);
        }
        catch (IOException)
        {
            return TimeSpan.Zero;
        }
    }

    /// <summary>"host 0.21, PostgreSQL 0.12, load generator 0.05, in all 0.38 ms CPU" per operation.</summary>
    public string WithLoadGenerator(TimeSpan generator, long operations) =>
        $"host process {Ms(Process, operations)}, PostgreSQL {Ms(Postgres, operations)}, load generator {Ms(generator, operations)}, " +
        $"in all {Ms(Process + Postgres + generator, operations)} ms CPU";

    /// <summary>
    /// CPU time so far of this process's channel provider threads (<c>ProviderThreads</c>, named "channel provider N",
    /// which Linux shortens to 15 characters): the part of the host's CPU that runs below the requests' priority.
    /// </summary>
    public static TimeSpan ProviderThreads()
    {
        var ticks = 0.0;
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(task, "stat"));
                var open = stat.IndexOf('(');
                if (!stat.AsSpan(open + 1).StartsWith("channel provid", StringComparison.Ordinal)) continue;
                var f = FieldsAfterCommand(stat);
                ticks += double.Parse(f[11], CultureInfo.InvariantCulture) + double.Parse(f[12], CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                // the thread ended meanwhile
            }
        }
        return TimeSpan.FromSeconds(ticks / TicksPerSecond);
    }

    /// <summary>A /proc stat line's fields after the command's closing parenthesis (the command may hold spaces): state, ppid, …</summary>
    private static string[] FieldsAfterCommand(string stat) => stat[(stat.LastIndexOf(')') + 2)..].Split(' ');

    private static string Ms(TimeSpan cpu, long operations) => (cpu.TotalMilliseconds / operations).ToString("N2", CultureInfo.InvariantCulture);

    private static TimeSpan PostgresCpu(string dataDirectory)
    {
        try
        {
            var stats = Processes();
            var postmaster = PostmasterOf(stats, dataDirectory);
            if (postmaster.Pid == 0) return TimeSpan.Zero;
            // Exited backends' time is in the postmaster's children's figures.
            var ticks = postmaster.Ticks + postmaster.ChildTicks + stats.Where(s => s.Parent == postmaster.Pid).Sum(s => s.Ticks);
            return TimeSpan.FromSeconds(ticks / TicksPerSecond);
        }
        catch (IOException)
        {
            return TimeSpan.Zero;
        }
    }

    /// <summary>The processes of the host's PostgreSQL: its postmaster (found by its data folder) and the postmaster's children.</summary>
    internal static IReadOnlyList<int> PostgresPids(string dataDirectory)
    {
        var stats = Processes();
        var postmaster = PostmasterOf(stats, dataDirectory);
        return postmaster.Pid == 0 ? [] : [postmaster.Pid, .. stats.Where(s => s.Parent == postmaster.Pid).Select(s => s.Pid)];
    }

    private static (int Pid, int Parent, double Ticks, double ChildTicks, string Command) PostmasterOf(
        List<(int Pid, int Parent, double Ticks, double ChildTicks, string Command)> stats, string dataDirectory) =>
        stats.FirstOrDefault(s => s.Command.Contains(dataDirectory, StringComparison.Ordinal) && s.Command.Contains("postgres", StringComparison.Ordinal));

    private static List<(int Pid, int Parent, double Ticks, double ChildTicks, string Command)> Processes()
    {
        var stats = new List<(int Pid, int Parent, double Ticks, double ChildTicks, string Command)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                // Fields after the command's closing parenthesis: state ppid … utime(14) stime(15) cutime(16) cstime(17).
                var f = FieldsAfterCommand(stat);
                var command = File.ReadAllText(Path.Combine(dir, "cmdline"));
                stats.Add((pid, int.Parse(f[1], CultureInfo.InvariantCulture),
                    double.Parse(f[11], CultureInfo.InvariantCulture) + double.Parse(f[12], CultureInfo.InvariantCulture),
                    double.Parse(f[13], CultureInfo.InvariantCulture) + double.Parse(f[14], CultureInfo.InvariantCulture), command));
            }
            catch (IOException) { } // the process ended meanwhile
            catch (UnauthorizedAccessException) { }
        }
        return stats;
    }
}

/// <summary>
/// The whole machine's CPU from <c>/proc/stat</c>: busy (every process of this VM and the kernel's own work) and stolen
/// (time the hypervisor gave this VM's cores to another guest, so nothing here ran), to tell a slow second of ours
/// from one the machine lost. Zero where there is no <c>/proc/stat</c>.
/// </summary>
public readonly record struct MachineTime(long BusyTicks, long StealTicks, long At)
{
    public static MachineTime Now()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            long Field(int i) => fields.Length > i ? long.Parse(fields[i], CultureInfo.InvariantCulture) : 0;
            // cpu user nice system idle iowait irq softirq steal
            return new MachineTime(Field(1) + Field(2) + Field(3) + Field(6) + Field(7), Field(8), Stopwatch.GetTimestamp());
        }
        catch (IOException)
        {
            return new MachineTime(0, 0, Stopwatch.GetTimestamp());
        }
    }

    /// <summary>Cores busy and cores stolen on average since <paramref name="before"/>.</summary>
    public (double Busy, double Stolen) CoresSince(MachineTime before)
    {
        var seconds = Stopwatch.GetElapsedTime(before.At, At).TotalSeconds;
        return seconds <= 0 ? (0, 0) : ((BusyTicks - before.BusyTicks) / CpuTime.TicksPerSecond / seconds, (StealTicks - before.StealTicks) / CpuTime.TicksPerSecond / seconds);
    }
}
