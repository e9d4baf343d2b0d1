using Actors.Storage.Streams;
using Microsoft.Extensions.Logging;

namespace Actors.Grains.Hosting;

/// <summary>
/// How background loops (channel shards, the popularity board) speak about the database going away: one warning when
/// the first of them finds it gone, one line when one finds it back, and nothing in between — not a stack trace per
/// loop per second. Failures that are not the database being away (bugs) are logged every time, with their trace.
/// One per silo.
/// </summary>
public sealed partial class OutageLog(ILogger<OutageLog> logger)
{
    private int _down; // 1 while the database is known to be away

    /// <summary>Reports a failure of <paramref name="loop"/>; a transient store failure only starts an outage once.</summary>
    public void Failed(string loop, Exception e)
    {
        if (!StoreFailures.IsTransient(e))
        {
            LogFailed(e, loop);
            return;
        }
        if (Interlocked.Exchange(ref _down, 1) == 0) LogDown(loop, e.GetType().Name, e.Message);
    }

    /// <summary>A loop reached the database: ends an outage if there was one.</summary>
    public void Succeeded(string loop)
    {
        if (Volatile.Read(ref _down) == 1 && Interlocked.Exchange(ref _down, 0) == 1) LogBack(loop);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The database is away ({Loop}: {Error}: {Detail}); background work pauses and resumes by itself")]
    private partial void LogDown(string loop, string error, string detail);

    [LoggerMessage(Level = LogLevel.Information, Message = "The database is back ({Loop}); background work resumes")]
    private partial void LogBack(string loop);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Background work {Loop} failed; it runs again at its next tick")]
    private partial void LogFailed(Exception e, string loop);
}
