using System.Net;
using System.Net.Sockets;
using Actors.Domain.Tracking;
using Actors.Storage.Streams;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Xunit.Abstractions;

namespace Actors.Integration.Tests.Foundation;

/// <summary>
/// The append batcher in front of a database that is away: a fake server on a loopback port that accepts connections
/// and answers nothing (hung), or drops each one after a moment (down). Every connection it sees is counted.
/// </summary>
public sealed class AppendBatcherOutageTests(ITestOutputHelper output) : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _held = [];
    private int _connections;

    private ServiceProvider Start(bool hang, EventStoreSettings settings)
    {
        _listener.Start();
        _ = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    Interlocked.Increment(ref _connections);
                    if (hang) lock (_held) _held.Add(client);
                    else _ = Task.Delay(300).ContinueWith(_ => client.Dispose(), TaskScheduler.Default);
                }
            }
            catch (OperationCanceledException) { }
            catch (ObjectDisposedException) { }
        });
        var connectionString = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1", Port = ((IPEndPoint)_listener.LocalEndpoint).Port, Username = "nobody", Password = "nothing",
            Database = "away", Timeout = 3, Pooling = false,
        }.ConnectionString;
        var services = new ServiceCollection().AddLogging(b => b.SetMinimumLevel(LogLevel.Warning)).AddSingleton(TimeProvider.System);
        services.AddActorsEventStore(connectionString, settings);
        return services.BuildServiceProvider();
    }

    private static VisitorEvent View(int i) =>
        new ProductViewed($"sku-{i}", "shoes", null, 1m) { MessageId = Guid.NewGuid().ToString(), EventTime = DateTimeOffset.UtcNow, ReceivedTime = DateTimeOffset.UtcNow };

    [Fact]
    public async Task When_the_queue_is_full_an_append_is_refused_at_once_instead_of_waiting()
    {
        await using var services = Start(hang: true, new EventStoreSettings { MaxPendingAppends = 2, AppendWriters = 1, MaxAppendBatch = 1 });
        var batcher = services.GetRequiredService<AppendBatcher>();

        // The one writer is stuck on the hung server with the first append; two more wait in the queue.
        var waiting = new List<Task> { batcher.AppendAsync("full-0", 0, [View(0)]) };
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Volatile.Read(ref _connections) == 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Equal(1, Volatile.Read(ref _connections));
        for (var i = 1; i <= 2; i++) waiting.Add(batcher.AppendAsync($"full-{i}", 0, [View(i)]));
        Assert.All(waiting, t => Assert.False(t.IsCompleted));

        var shed = batcher.AppendAsync("full-3", 0, [View(3)]);
        Assert.True(shed.IsFaulted, "the fourth append should be refused without waiting for the database");
        var refused = await Assert.ThrowsAsync<AppendQueueFullException>(() => shed);
        Assert.Equal(2, refused.Capacity);
        Assert.Equal("overloaded", Actors.Api.StoreUnavailableHandler.Classify(refused)); // the API answers 503 + Retry-After

        // The waiting appends fail when the server's silence times out; none is reported as stored.
        foreach (var t in waiting)
        {
            var e = await Assert.ThrowsAnyAsync<Exception>(() => t);
            Assert.True(StoreFailures.IsTransient(e), e.ToString());
        }
    }

    [Fact]
    public async Task A_batch_that_fails_because_the_database_is_away_fails_whole_without_retrying_each_append()
    {
        await using var services = Start(hang: false, new EventStoreSettings { AppendWriters = 1, MaxAppendBatch = 64 });
        var batcher = services.GetRequiredService<AppendBatcher>();

        // The first append keeps the writer busy, so the next forty arrive together as one batch.
        var first = batcher.AppendAsync("away-0", 0, [View(0)]);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Volatile.Read(ref _connections) == 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
        var rest = Enumerable.Range(1, 40).Select(i => batcher.AppendAsync($"away-{i}", 0, [View(i)])).ToList();

        foreach (var t in rest.Prepend(first))
        {
            var e = await Assert.ThrowsAnyAsync<Exception>(() => t);
            Assert.True(StoreFailures.IsTransient(e), e.ToString());
        }
        output.WriteLine($"{_connections} connection attempts for 41 appends");
        // Split one by one, the outage would be knocked on at least once per append (41+).
        Assert.True(Volatile.Read(ref _connections) < 20, $"{_connections} connection attempts for 41 appends");
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        lock (_held) foreach (var c in _held) c.Dispose();
        _stop.Dispose();
    }
}
