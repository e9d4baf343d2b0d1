using Actors.Grains.Channels;
using Microsoft.Extensions.Logging.Abstractions;

namespace Actors.Integration.Tests.Channels;

/// <summary>
/// The threads channel providers run on: below the requests' CPU priority, and still handing back every result and
/// failure to the shard that waits for it.
/// </summary>
public sealed class ProviderThreadsTests : IDisposable
{
    private readonly List<ProviderThreads> _started = [];

    /// <summary>Leaves no thread of the test process lowered (one started from a provider thread inherits its nice value).</summary>
    public void Dispose()
    {
        foreach (var threads in _started)
        {
            threads.RestoreInherited();
            threads.Dispose();
        }
    }

    /// <summary>The calling thread's nice value, as Linux reports it.</summary>
    internal static int CurrentNice() => ProviderThreads.NiceOf("/proc/thread-self") ?? throw new InvalidOperationException("no /proc/thread-self");

    private ProviderThreads Start(int nice, int threads = 2)
    {
        var started = new ProviderThreads(new ChannelSettings { ProviderNice = nice, ProviderThreads = threads }, NullLogger<ProviderThreads>.Instance);
        _started.Add(started);
        return started;
    }

    [Fact]
    public async Task A_providers_work_runs_at_nice_10_before_and_after_it_awaits()
    {
        Assert.True(OperatingSystem.IsLinux(), "these tests read /proc");
        var threads = Start(nice: 10);
        var (before, after) = await threads.Run(async () =>
        {
            var first = CurrentNice();
            await Task.Delay(20); // resumes on the provider threads, not on the pool
            return (first, CurrentNice());
        });
        Assert.Equal(10, before);
        Assert.Equal(10, after);
        Assert.Equal(2, threads.Lowered);
        Assert.Equal(0, threads.BaseNice); // the test process was not started under nice: inherited threads go back to 0
    }

    [Fact]
    public async Task Many_sends_at_once_all_finish_on_two_threads_and_a_failure_reaches_its_caller()
    {
        var threads = Start(nice: 10);
        var sends = Enumerable.Range(0, 200).Select(i => threads.Run(async () =>
        {
            await Task.Yield();
            if (i == 77) throw new InvalidOperationException("provider down");
            return i * 2;
        })).ToList();
        var failed = await Assert.ThrowsAsync<InvalidOperationException>(() => sends[77]);
        Assert.Equal("provider down", failed.Message);
        var done = await Task.WhenAll(sends.Where((_, i) => i != 77));
        Assert.Equal(Enumerable.Range(0, 200).Where(i => i != 77).Select(i => i * 2), done);
    }

    [Fact]
    public async Task A_thread_started_from_a_provider_thread_inherits_its_priority_and_the_guard_sets_it_back_to_0()
    {
        var threads = Start(nice: 10);
        using var restored = new ManualResetEventSlim();
        var niceAtStart = -1;
        var niceAfter = -1;
        Thread? child = null;
        await threads.Run(() =>
        {
            // What a thread pool does when a provider thread queues work and no worker is free: it starts one from here.
            child = new Thread(() =>
            {
                niceAtStart = CurrentNice();
                restored.Wait();
                niceAfter = CurrentNice();
            });
            child.Start();
            return Task.FromResult(0);
        });
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Volatile.Read(ref niceAtStart) < 0 && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.Equal(10, niceAtStart);

        Assert.True(threads.RestoreInherited() >= 1);
        restored.Set();
        child!.Join();
        Assert.Equal(0, niceAfter);
        Assert.Equal(2, threads.Lowered); // its own threads are left lowered
        Assert.True(threads.Restored >= 1);
    }

    [Fact]
    public async Task At_nice_0_there_are_no_threads_and_the_work_runs_where_its_caller_does()
    {
        var threads = Start(nice: 0);
        var caller = Environment.CurrentManagedThreadId;
        var ranOn = await threads.Run(() => Task.FromResult(Environment.CurrentManagedThreadId));
        Assert.Equal(caller, ranOn);
        Assert.Equal(0, threads.Lowered);
    }

    [Theory]
    [InlineData(-5, 0)]
    [InlineData(40, 19)]
    public void A_nice_value_outside_Linux_range_is_taken_within_it(int asked, int taken)
    {
        var threads = Start(nice: asked);
        Assert.Equal(taken, threads.Nice);
    }
}
