using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Actors.Storage.Streams;

/// <summary>
/// Group lookup of visitor streams' head versions, for activations. Most of a shop's sessions are visitors never seen
/// before; their grain would spend a round trip of its own to learn that there is nothing to load. Lookups that arrive
/// together are answered by one query on Marten's stream table (by its primary key), so a new visitor's activation
/// shares a round trip with every other activation in flight, and an existing stream's head tells its own read which
/// events to fetch with the snapshot. A stream created just after the lookup is caught where it always was: starting
/// it again fails on its key, and the grain reloads and decides again.
/// </summary>
public sealed partial class StreamHeads : IAsyncDisposable
{
    private const int MaxGroup = 256;
    private const int Readers = 2; // one group in flight while the next fills

    private readonly NpgsqlDataSource _database;
    private readonly ILogger<StreamHeads> _logger;
    private readonly string _sql;
    // Unbounded: every waiting lookup is an activation in progress, which Orleans bounds; refusing one would only fail it.
    private readonly Channel<Lookup> _queue = Channel.CreateUnbounded<Lookup>(new UnboundedChannelOptions { SingleReader = false });
    private readonly Task[] _readers;

    private sealed record Lookup(string StreamId, TaskCompletionSource<long> Done);

    public StreamHeads(NpgsqlDataSource database, string schema, ILogger<StreamHeads> logger)
    {
        _database = database;
        _logger = logger;
        _sql = $"SELECT id, version FROM {schema}.mt_streams WHERE id = ANY($1)";
        _readers = [.. Enumerable.Range(0, Readers).Select(_ => Task.Run(ReadLoopAsync))];
    }

    /// <summary>The stream's version (0: no stream, nothing ever appended), as of a query made after this call.</summary>
    public Task<long> VersionAsync(string streamId, CancellationToken ct = default)
    {
        var lookup = new Lookup(streamId, new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(lookup)) throw new ObjectDisposedException(nameof(StreamHeads));
        return ct.CanBeCanceled ? lookup.Done.Task.WaitAsync(ct) : lookup.Done.Task;
    }

    private async Task ReadLoopAsync()
    {
        var group = new List<Lookup>(MaxGroup);
        while (await _queue.Reader.WaitToReadAsync())
        {
            while (group.Count < MaxGroup && _queue.Reader.TryRead(out var next)) group.Add(next);
            if (group.Count == 0) continue;
            await AnswerAsync(group);
            group.Clear();
        }
    }

    private async Task AnswerAsync(List<Lookup> group)
    {
        try
        {
            var ids = new string[group.Count];
            for (var i = 0; i < ids.Length; i++) ids[i] = group[i].StreamId;
            await using var command = _database.CreateCommand(_sql);
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ids });
            var found = new Dictionary<string, long>(StringComparer.Ordinal);
            await using (var reader = await command.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync()) found[reader.GetString(0)] = reader.GetInt64(1);
            }
            foreach (var lookup in group) lookup.Done.TrySetResult(found.GetValueOrDefault(lookup.StreamId));
        }
        catch (Exception e)
        {
            // The database is away: each activation fails as its own read would have; none is answered with a guess.
            LogLookupFailed(group.Count, e.GetType().Name);
            foreach (var lookup in group) lookup.Done.TrySetException(e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await Task.WhenAll(_readers);
        await _database.DisposeAsync();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Looking up {Count} streams failed ({Error}); their activations fail")]
    private partial void LogLookupFailed(int count, string error);
}
