using System.Threading.Channels;
using Actors.Domain.Channels;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;
using Actors.Storage.Channels;
using Marten;
using Npgsql;
using Microsoft.Extensions.Logging;

namespace Actors.Storage.Streams;

/// <summary>
/// Group commit for visitor streams: appends from many grains that arrive together are written in one transaction
/// (one round trip, one WAL flush) and, unless an inline projection must see them, one statement
/// (<see cref="StreamBatchWrite"/>), each still checked against its own expected version. A caller's task completes
/// only after its batch is committed, so nothing is acknowledged before it is durable. If a batch fails because of one
/// append (a conflict, data the server refuses), its appends are retried one by one, so only that stream sees the error;
/// if the database is away, the whole batch fails at once rather than knocking on it once per append.
/// The queue is bounded: when it is full (the database is slow or away) an append is refused at once with
/// <see cref="AppendQueueFullException"/> instead of piling up in memory while its caller waits.
/// Order within a stream is kept because a grain waits for one append before it starts the next.
/// </summary>
public sealed partial class AppendBatcher : IVisitorStreams, IAsyncDisposable
{
    private readonly MartenVisitorStreams _inner;
    private readonly StreamHeads _heads;
    private readonly int _snapshotEvery;
    private readonly string _schema;
    private readonly IDocumentStore _store;
    private readonly NpgsqlDataSource _dataSource;
    private readonly ILogger<AppendBatcher> _logger;
    private readonly Channel<Pending> _queue;
    private readonly Channel<Pending> _background; // appends no request waits on: a batch takes them after those of _queue
    private readonly Task[] _writers;
    private readonly int _maxBatch;
    private readonly int _capacity;
    private volatile bool _disposed;
    private int _shedding; // 1 while appends are refused: logged when it starts and ends, not once per append

    private sealed record Pending(string ProfileId, long ExpectedVersion, IReadOnlyList<VisitorEvent> Events, IReadOnlyList<OutboundMessage>? Outbound, TaskCompletionSource Done);

    public AppendBatcher(MartenVisitorStreams inner, StreamHeads heads, IDocumentStore store, EventStoreSettings settings, ILogger<AppendBatcher> logger)
    {
        _inner = inner;
        _heads = heads;
        _snapshotEvery = settings.SnapshotEvery;
        _schema = settings.Schema;
        _store = store;
        // Marten's own pool, as its sessions used: plain batches take no more connections than before.
        _dataSource = MartenSetup.DataSourceOf(store);
        _logger = logger;
        _maxBatch = Math.Max(1, settings.MaxAppendBatch);
        _capacity = Math.Max(1, settings.MaxPendingAppends);
        _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(_capacity) { SingleReader = false, FullMode = BoundedChannelFullMode.Wait });
        _background = Channel.CreateBounded<Pending>(new BoundedChannelOptions(_capacity) { SingleReader = false, FullMode = BoundedChannelFullMode.Wait });
        // A few writers keep the database busy: while one batch commits, the next one fills.
        _writers = [.. Enumerable.Range(0, Math.Max(1, settings.AppendWriters)).Select(_ => Task.Run(WriteLoopAsync))];
    }

    /// <summary>
    /// A visitor never seen before is known as such from a lookup shared with the other activations in flight
    /// (<see cref="StreamHeads"/>); an existing stream is then read on its own, snapshot and last events together.
    /// </summary>
    public async Task<VisitorProfile> LoadAsync(string profileId, CancellationToken ct = default)
    {
        var head = await _heads.VersionAsync(profileId, ct);
        return head == 0 ? new VisitorProfile(profileId) : await _inner.LoadAsync(profileId, head, _snapshotEvery, ct);
    }

    public Task SaveSnapshotAsync(VisitorProfile profile, CancellationToken ct = default) => _inner.SaveSnapshotAsync(profile, ct);

    public Task<IReadOnlyList<StoredEvent>> ReadAsync(string profileId, EventQuery query, CancellationToken ct = default) => _inner.ReadAsync(profileId, query, ct);

    public Task AppendAsync(string profileId, long expectedVersion, IReadOnlyList<VisitorEvent> events, IReadOnlyList<OutboundMessage>? outbound = null, CancellationToken ct = default) =>
        Enqueue(_queue, profileId, expectedVersion, events, outbound);

    /// <summary>Queued apart: a batch is filled from <see cref="AppendAsync"/>'s queue first, so a trigger's thousands in flight do not queue ahead of the shop's requests.</summary>
    public Task AppendInBackgroundAsync(string profileId, long expectedVersion, IReadOnlyList<VisitorEvent> events, IReadOnlyList<OutboundMessage>? outbound = null, CancellationToken ct = default) =>
        Enqueue(_background, profileId, expectedVersion, events, outbound);

    private Task Enqueue(Channel<Pending> queue, string profileId, long expectedVersion, IReadOnlyList<VisitorEvent> events, IReadOnlyList<OutboundMessage>? outbound)
    {
        if (events.Count == 0) return Task.CompletedTask;
        var pending = new Pending(profileId, expectedVersion, events, outbound, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        if (queue.Writer.TryWrite(pending))
        {
            if (Volatile.Read(ref _shedding) == 1 && Interlocked.Exchange(ref _shedding, 0) == 1) LogQueueAccepting(_capacity);
            return pending.Done.Task;
        }
        if (_disposed) throw new ObjectDisposedException(nameof(AppendBatcher));
        // Shed load: waiting here would only hold the caller (and its grain) in a queue the database cannot drain.
        if (Interlocked.Exchange(ref _shedding, 1) == 0) LogQueueFull(_capacity, profileId);
        return Task.FromException(new AppendQueueFullException(_capacity));
    }

    private static readonly Task<bool> Closed = Task.FromResult(false);
    private static readonly Task<bool> Never = new TaskCompletionSource<bool>().Task;

    private async Task WriteLoopAsync()
    {
        var batch = new List<Pending>(_maxBatch);
        // One wait per queue at a time, kept across batches: a new wait each time would pile up on a queue that stays empty.
        Task<bool>? visitors = null, background = null;
        while (visitors != Closed || background != Closed)
        {
            TakeBatch(_queue.Reader, _background.Reader, _maxBatch, batch);
            if (batch.Count > 0)
            {
                await CommitAsync(batch);
                batch.Clear();
                continue;
            }
            visitors ??= _queue.Reader.WaitToReadAsync().AsTask();
            background ??= _background.Reader.WaitToReadAsync().AsTask();
            await Task.WhenAny(visitors == Closed ? Never : visitors, background == Closed ? Never : background);
            if (visitors != Closed && visitors.IsCompleted) visitors = await visitors ? null : Closed;
            if (background != Closed && background.IsCompleted) background = await background ? null : Closed;
        }
    }

    /// <summary>
    /// Fills one batch. Requests first, and background appends (a trigger's entries, delivery reports) ride along only
    /// in a batch the requests fill: they keep its last eighth, so a steady flood of requests delays them without
    /// stopping them. A batch of a few requests takes none: it would commit their appends together with however many
    /// reports had gathered (a shard writes a burst of them), and the requests would wait for those. The background
    /// appends go in a batch of their own instead, on a writer the requests leave idle.
    /// </summary>
    public static void TakeBatch<T>(ChannelReader<T> requests, ChannelReader<T> background, int maxBatch, List<T> batch)
    {
        var reserved = maxBatch / 8;
        while (batch.Count < maxBatch - reserved && requests.TryRead(out var next)) batch.Add(next);
        if (batch.Count == 0 || batch.Count >= maxBatch - reserved)
            while (batch.Count < maxBatch && background.TryRead(out var next)) batch.Add(next);
        while (batch.Count < maxBatch && requests.TryRead(out var next)) batch.Add(next);
    }

    private async Task CommitAsync(List<Pending> batch)
    {
        try
        {
            var plain = new List<StreamBatchWrite.StreamAppend>(batch.Count);
            var outbound = new List<OutboundMessage>();
            var throughMarten = new List<Pending>();
            foreach (var p in batch)
            {
                if (StreamBatchWrite.NeedsMarten(p.Events))
                {
                    throughMarten.Add(p);
                    continue;
                }
                plain.Add(new(p.ProfileId, p.ExpectedVersion, p.Events));
                if (p.Outbound is { Count: > 0 }) outbound.AddRange(p.Outbound);
            }
            var appends = StreamBatchWrite.Statement((StoreOptions)_store.Options, _schema, plain);
            var rows = OutboxStore.Statement(_schema, outbound);
            var reported = OutboxStore.ReportedStatement(_schema, plain.SelectMany(a => a.Events));
            if (throughMarten.Count == 0) await CommitPlainAsync(appends, rows, reported);
            else
            {
                await using var session = _store.LightweightSession();
                foreach (var p in throughMarten) MartenVisitorStreams.Stage(session, p.ProfileId, p.ExpectedVersion, p.Events, p.Outbound);
                appends?.QueueIn(session);
                rows?.QueueIn(session);
                reported?.QueueIn(session);
                await session.SaveChangesAsync();
            }
            foreach (var p in batch) p.Done.TrySetResult();
        }
        catch (Exception e) when (StoreFailures.BlamesOneAppend(e))
        {
            // One append can spoil a transaction for all (a conflict, an oversized event): find it by going one by one,
            // through Marten, which names a conflict as such (the batch statement only says that one stream failed).
            if (batch.Count > 1) LogSplitting(batch.Count, e.GetType().Name);
            foreach (var p in batch) await CommitOneAsync(p);
        }
        catch (Exception e)
        {
            // The database is away (or the fault is not one append's): every caller learns it now, none is retried here.
            if (batch.Count > 1) LogBatchFailed(batch.Count, e.GetType().Name, StoreFailures.IsTransient(e));
            foreach (var p in batch)
            {
                if (MartenVisitorStreams.IsConflict(e)) p.Done.TrySetException(new StreamConflictException(p.ProfileId, p.ExpectedVersion, e));
                else p.Done.TrySetException(e);
            }
        }
    }

    /// <summary>
    /// A batch that no inline projection needs to see is one Npgsql batch with no explicit transaction: PostgreSQL runs
    /// statements sent under one Sync as one implicit transaction (all or none), so the append and its outbox rows
    /// commit in one round trip, where a session's BEGIN … COMMIT took two.
    /// </summary>
    private async Task CommitPlainAsync(params BatchStatement?[] statements)
    {
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlBatch(connection);
        foreach (var statement in statements)
            if (statement is not null) command.BatchCommands.Add(statement.ToBatchCommand());
        await command.ExecuteNonQueryAsync();
    }

    private async Task CommitOneAsync(Pending p)
    {
        try
        {
            await _inner.AppendAsync(p.ProfileId, p.ExpectedVersion, p.Events, p.Outbound);
            p.Done.TrySetResult();
        }
        catch (Exception e)
        {
            p.Done.TrySetException(e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        _queue.Writer.TryComplete();
        _background.Writer.TryComplete();
        await Task.WhenAll(_writers);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "A batch of {Count} appends failed ({Error}); committing them one by one")]
    private partial void LogSplitting(int count, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A batch of {Count} appends failed ({Error}, transient: {Transient}); all fail without retrying one by one")]
    private partial void LogBatchFailed(int count, string error, bool transient);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The append queue is full ({Capacity} pending); refusing appends (first: {ProfileId}) until it drains")]
    private partial void LogQueueFull(int capacity, string profileId);

    [LoggerMessage(Level = LogLevel.Information, Message = "The append queue (capacity {Capacity}) accepts appends again")]
    private partial void LogQueueAccepting(int capacity);
}
