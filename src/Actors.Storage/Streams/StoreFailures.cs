using System.Net.Sockets;
using Npgsql;

namespace Actors.Storage.Streams;

/// <summary>
/// Tells a database that is away (retry later, the same request will succeed) from a failure that one request caused.
/// Marten, Orleans and the batcher wrap what Npgsql throws, so the whole chain of inner exceptions is looked at.
/// </summary>
public static class StoreFailures
{
    /// <summary>True when the database could not be reached, dropped the connection or did not answer in time.</summary>
    public static bool IsTransient(Exception e) => Any(e, one => one switch
    {
        AppendQueueFullException => true,
        NpgsqlException n => n.IsTransient, // PostgresException too: 08xxx, 53xxx, 57P0x (shutdown), 40001 ...
        SocketException or TimeoutException => true,
        _ => false,
    });

    /// <summary>
    /// True when one append of a batch can have spoiled the transaction for all: a version conflict, data PostgreSQL
    /// refuses (22xxx such as 22P05 or 22021, 23xxx, 54000 too large) or an event that does not serialize. A database
    /// that is away, or any other server error, is not one append's fault: going one by one would only repeat it.
    /// </summary>
    public static bool BlamesOneAppend(Exception e)
    {
        if (IsTransient(e)) return false;
        if (MartenVisitorStreams.IsConflict(e)) return true;
        if (Find<PostgresException>(e) is { } postgres)
            return postgres.SqlState == StreamBatchWrite.MovedOnState
                || postgres.SqlState.StartsWith("22", StringComparison.Ordinal)
                || postgres.SqlState.StartsWith("23", StringComparison.Ordinal)
                || postgres.SqlState.StartsWith("54", StringComparison.Ordinal);
        // Not from the server at all: serializing one event failed before anything was sent.
        return Find<NpgsqlException>(e) is null;
    }

    private static T? Find<T>(Exception e) where T : Exception
    {
        T? found = null;
        Any(e, one => (found = one as T) is not null);
        return found;
    }

    private static bool Any(Exception? e, Func<Exception, bool> test, int depth = 0)
    {
        if (e is null || depth > 16) return false;
        if (test(e)) return true;
        if (e is AggregateException aggregate)
            return aggregate.InnerExceptions.Any(inner => Any(inner, test, depth + 1));
        return Any(e.InnerException, test, depth + 1);
    }
}

/// <summary>
/// The append batcher holds as many pending appends as it may: the database is slow or away. The caller should retry
/// later (the API answers 503 with Retry-After); nothing of this append was stored.
/// </summary>
public sealed class AppendQueueFullException(int capacity)
    : Exception($"The append queue is full ({capacity} pending appends); the database is slow or away. Retry later.")
{
    public int Capacity { get; } = capacity;
}
