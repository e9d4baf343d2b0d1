using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Actors.Grains.Channels;

/// <summary>
/// Threads that run the channel providers' work (rendering a template, composing an email, encrypting a push) at a
/// lower CPU priority than the shop's requests: on a busy node the operating system gives a core to a request first,
/// and a message is sent a few milliseconds later instead of a visitor's answer being late.
/// <para>
/// On Linux a thread's nice value is its own, and a thread it creates inherits it: a thread-pool worker or a timer
/// thread started from one of these threads would serve requests at the lowered priority for good. So a guard looks
/// at the process's threads every <see cref="GuardEvery"/> and sets any other thread found at this nice value back
/// to the process's own (0 unless it was started under nice), which needs CAP_SYS_NICE (root has it) or an
/// RLIMIT_NICE of 20. Where that is refused (probed at startup), or with <see cref="ChannelSettings.ProviderNice"/> no
/// higher than the process's own, or off Linux, there are no such threads: providers run on the shard grain's turn,
/// at the requests' priority.
/// </para>
/// Work that resumes after a network wait inside a library (MailKit awaits without its caller's scheduler) goes on
/// the shared thread pool; what this lowers is the CPU-heavy start of each send.
/// </summary>
public sealed partial class ProviderThreads : TaskScheduler, IDisposable
{
    public static readonly TimeSpan GuardEvery = TimeSpan.FromSeconds(1);

    private readonly BlockingCollection<Task> _work = new();
    private readonly Thread[] _threads;
    // Every provider thread of the process (tests run several hosts in one): no guard sets another's back.
    private static readonly ConcurrentDictionary<int, bool> s_providerThreadIds = new();
    private readonly Timer? _guard;
    private readonly ILogger<ProviderThreads> _logger;
    [ThreadStatic] private static ProviderThreads? s_owner;
    private int _lowered;
    private long _restored;

    public ProviderThreads(ChannelSettings settings, ILogger<ProviderThreads> logger)
    {
        _logger = logger;
        Nice = Math.Clamp(settings.ProviderNice, 0, 19);
        // A node started under nice already runs below other processes: the providers go lower only if below it.
        BaseNice = OperatingSystem.IsLinux() ? NiceOf("/proc/self") ?? 0 : 0;
        if (Nice <= BaseNice) Nice = 0;
        else if (!CanRestore())
        {
            LogCannotRestore(Nice, BaseNice);
            Nice = 0;
        }
        var count = Nice == 0 ? 0 : Math.Max(1, settings.ProviderThreadsTaken);
        _threads = new Thread[count];
        for (var i = 0; i < count; i++)
        {
            _threads[i] = new Thread(Loop) { IsBackground = true, Name = $"channel provider {i + 1}" };
            _threads[i].Start();
        }
        if (count == 0) return;
        _guard = new Timer(_ => RestoreInherited(), null, GuardEvery, GuardEvery);
        LogStarted(count, Nice);
    }

    /// <summary>The niceness these threads run at (0: there are none, providers run where their caller does).</summary>
    public int Nice { get; }

    /// <summary>The process's own nice value (0 unless it was started under nice): what a thread is set back to.</summary>
    public int BaseNice { get; }

    /// <summary>Threads whose priority the operating system lowered.</summary>
    public int Lowered => Volatile.Read(ref _lowered);

    /// <summary>Other threads the guard found at the lowered priority (started from one of these) and set back.</summary>
    public long Restored => Interlocked.Read(ref _restored);

    public override int MaximumConcurrencyLevel => Math.Max(1, _threads.Length);

    /// <summary>
    /// Starts <paramref name="work"/> on these threads, or in place when there are none. Its caller goes on elsewhere
    /// (continuations run asynchronously): code after the await never runs on, nor starts threads from, a lowered one.
    /// </summary>
    public Task<T> Run<T>(Func<Task<T>> work)
    {
        if (_threads.Length == 0) return work();
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Factory.StartNew(async () =>
        {
            try
            {
                done.SetResult(await work());
            }
            catch (OperationCanceledException e)
            {
                done.SetCanceled(e.CancellationToken);
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }, CancellationToken.None, TaskCreationOptions.DenyChildAttach, this);
        return done.Task;
    }

    private void Loop()
    {
        s_owner = this;
        var tid = GetThreadId();
        s_providerThreadIds[tid] = true;
        // On Linux a nice value belongs to a thread: "who = 0" is the calling thread. Raising it needs no privilege.
        if (SetPriority(PriorityOfProcess, 0, Nice) == 0) Interlocked.Increment(ref _lowered);
        else LogNotLowered(Nice, Marshal.GetLastPInvokeError());
        try
        {
            foreach (var task in _work.GetConsumingEnumerable()) TryExecuteTask(task);
        }
        catch (ObjectDisposedException)
        {
            // disposed while waiting: the host is stopping
        }
        finally
        {
            s_providerThreadIds.TryRemove(tid, out _);
        }
    }

    /// <summary>
    /// Sets every thread of the process found at the lowered nice value, other than provider threads, back to the
    /// process's own (<see cref="BaseNice"/>). Public for tests, which should not wait for the timer.
    /// </summary>
    public int RestoreInherited()
    {
        var restored = 0;
        try
        {
            foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
            {
                if (!int.TryParse(Path.GetFileName(task), NumberStyles.None, CultureInfo.InvariantCulture, out var tid) || s_providerThreadIds.ContainsKey(tid)) continue;
                if (NiceOf(task) != Nice) continue;
                if (SetPriority(PriorityOfProcess, tid, BaseNice) == 0) restored++;
                else LogRestoreFailed(tid, Marshal.GetLastPInvokeError());
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // a thread ended while it was read: the next round looks again
        }
        if (restored > 0)
        {
            Interlocked.Add(ref _restored, restored);
            LogRestored(restored, Nice, BaseNice);
        }
        return restored;
    }

    /// <summary>
    /// A thread's nice value from its stat line (field 19) under <paramref name="taskFolder"/> (<c>/proc/self/task/N</c>,
    /// <c>/proc/thread-self</c>; <c>/proc/self</c>: the main thread), or null if it is gone.
    /// </summary>
    public static int? NiceOf(string taskFolder)
    {
        try
        {
            var stat = File.ReadAllText(Path.Combine(taskFolder, "stat"));
            var fields = stat.AsSpan(stat.LastIndexOf(')') + 2);
            for (var i = 0; i < 16; i++) fields = fields[(fields.IndexOf(' ') + 1)..];
            var end = fields.IndexOf(' ');
            return int.Parse(end < 0 ? fields : fields[..end], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Whether this process may set a lowered thread back to its own nice value: tried on a thread of its own, at startup.</summary>
    private bool CanRestore()
    {
        if (!OperatingSystem.IsLinux()) return false;
        var can = false;
        var probe = new Thread(() => can = SetPriority(PriorityOfProcess, 0, Nice) == 0 && SetPriority(PriorityOfProcess, 0, BaseNice) == 0)
            { IsBackground = true, Name = "nice probe" };
        probe.Start();
        probe.Join();
        return can;
    }

    protected override void QueueTask(Task task)
    {
        try
        {
            _work.Add(task);
        }
        catch (InvalidOperationException)
        {
            // the host is stopping and the queue is closed: run it on the pool rather than lose a send's outcome
            ThreadPool.UnsafeQueueUserWorkItem(_ => TryExecuteTask(task), null);
        }
    }

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) =>
        s_owner == this && TryExecuteTask(task);

    protected override IEnumerable<Task> GetScheduledTasks() => _work.ToArray();

    public void Dispose()
    {
        _guard?.Dispose();
        _work.CompleteAdding();
    }

    private const int PriorityOfProcess = 0; // PRIO_PROCESS: on Linux, "who" is a thread id (0: the calling thread)

    [DllImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static extern int SetPriority(int which, int who, int prio);

    [DllImport("libc", EntryPoint = "gettid")]
    private static extern int GetThreadId();

    [LoggerMessage(Level = LogLevel.Information, Message = "Channel providers run on {Threads} threads at nice {Nice}")]
    private partial void LogStarted(int threads, int nice);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Channel providers run at the requests' priority: nice {Nice} was asked (Actors:Channels:ProviderNice), but this process may not set a thread back to its own nice {BaseNice} (that needs CAP_SYS_NICE or an RLIMIT_NICE of 20), and threads started from lowered ones would stay lowered")]
    private partial void LogCannotRestore(int nice, int baseNice);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A channel provider thread could not lower its priority to nice {Nice} (errno {Errno}); it runs at the requests' priority")]
    private partial void LogNotLowered(int nice, int errno);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Count} threads started from channel provider threads inherited nice {Nice}; set back to {BaseNice}")]
    private partial void LogRestored(int count, int nice, int baseNice);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Thread {ThreadId} inherited the channel providers' priority and could not be set back (errno {Errno})")]
    private partial void LogRestoreFailed(int threadId, int errno);
}
