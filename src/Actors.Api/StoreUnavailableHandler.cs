using Actors.Grains.Hosting;
using Actors.Storage.Streams;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Orleans.Serialization;

namespace Actors.Api;

/// <summary>
/// The one place where "the database is away" becomes 503 with Retry-After (and problem+json): a transient PostgreSQL
/// failure, however Marten, the append batcher or a grain call wrapped it, and a full append queue (load shed).
/// Nothing of such a request was acknowledged, so the client retries it as it is. Any other 5xx stays a bug of ours.
/// </summary>
public sealed partial class StoreUnavailableHandler(
    IProblemDetailsService problems, ActorsMetrics metrics, ILogger<StoreUnavailableHandler> logger) : IExceptionHandler
{
    /// <summary>Long enough for a restarting server or a draining queue, short enough for SDKs' retry loops.</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(5);

    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
    {
        var reason = Classify(exception);
        if (reason is null || http.Response.HasStarted) return false;

        metrics.Unavailable(reason);
        LogUnavailable(http.Request.Method, http.Request.Path, reason, exception.GetType().Name, exception.Message);
        http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        http.Response.Headers.RetryAfter = ((int)RetryAfter.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            Exception = exception,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Service unavailable",
                Detail = reason switch
                {
                    Overloaded => "Too many writes are waiting for the database; nothing of this request was stored. Retry after the given delay.",
                    NodeLost => "A node of the cluster went away while handling this request; retry it as it is after the given delay (events already stored are recognised by their messageId).",
                    _ => "The database cannot be reached; nothing of this request was stored. Retry after the given delay.",
                },
            },
        });
    }

    private const string Overloaded = "overloaded";
    private const string DatabaseAway = "database";
    private const string NodeLost = "node_lost";

    /// <summary>"overloaded", "database", "node_lost", or null when the failure is not one of ours to retry.</summary>
    public static string? Classify(Exception exception)
    {
        if (Has(exception, e => e is AppendQueueFullException || FallbackOf(e) == typeof(AppendQueueFullException).FullName)) return Overloaded;
        if (StoreFailures.IsTransient(exception) || Has(exception, e => IsTransientByName(FallbackOf(e)))) return DatabaseAway;
        // The grain's node died during the call: not acknowledged, and a retry is recognised by its messageId, while
        // the cluster moves the grain to a surviving node.
        if (Has(exception, e => e is SiloUnavailableException or OrleansMessageRejectionException)) return NodeLost;
        return null;
    }

    /// <summary>
    /// A grain on another silo throws an exception type Orleans may not recreate: it arrives as a fallback that keeps
    /// only the type's name (the flag Npgsql's IsTransient is lost with it, so the socket-level types are named).
    /// </summary>
    private static string? FallbackOf(Exception e) =>
        (e as UnavailableExceptionFallbackException)?.ExceptionType?.Split(',')[0].Trim();

    private static bool IsTransientByName(string? type) => type is
        "System.Net.Sockets.SocketException" or "System.TimeoutException" or "Npgsql.NpgsqlException";

    private static bool Has(Exception? e, Func<Exception, bool> test, int depth = 0) =>
        e is not null && depth <= 16 && (test(e)
            || (e is AggregateException a ? a.InnerExceptions.Any(i => Has(i, test, depth + 1)) : Has(e.InnerException, test, depth + 1)));

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} {Path} answered 503 ({Reason}): {Error}: {Message}")]
    private partial void LogUnavailable(string method, string path, string reason, string error, string message);
}
