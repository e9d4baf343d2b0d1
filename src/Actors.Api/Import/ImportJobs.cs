using System.Collections.Concurrent;
using System.Diagnostics;

namespace Actors.Api.Import;

/// <summary>One import's progress, updated as rows are read and stored.</summary>
public sealed class ImportJob(string id, string kind, DateTimeOffset startedAt)
{
    private const int MaxErrorsListed = 1000;
    private readonly object _gate = new();
    private readonly List<ImportError> _errors = [];
    private readonly Stopwatch _watch = Stopwatch.StartNew();
    private int _rows, _imported, _duplicates, _failed, _errorCount;
    private string _state = "running";
    private string? _error;

    public string Id { get; } = id;
    public DateTimeOffset StartedAt { get; } = startedAt;

    public void Read(bool refused, IReadOnlyList<ImportError> errors)
    {
        lock (_gate)
        {
            _rows++;
            if (refused) _failed++;
            _errorCount += errors.Count;
            foreach (var e in errors)
                if (_errors.Count < MaxErrorsListed) _errors.Add(e);
        }
    }

    public void Stored(int imported, int duplicates)
    {
        lock (_gate) { _imported += imported; _duplicates += duplicates; }
    }

    public void Finish(string state, string? error = null)
    {
        lock (_gate) { _state = state; _error = error; _watch.Stop(); }
    }

    public ImportReport Report()
    {
        lock (_gate)
            return new ImportReport(Id, kind, _state, _rows, _imported, _duplicates, _failed, [.. _errors], _errorCount > _errors.Count, _watch.ElapsedMilliseconds, _error);
    }
}

/// <summary>Imports on this node, kept for an hour after they finish so their reports can be read.</summary>
public sealed class ImportJobs
{
    private readonly ConcurrentDictionary<string, ImportJob> Jobs = new(StringComparer.Ordinal);

    public ImportJob Start(string kind, DateTimeOffset now)
    {
        foreach (var old in Jobs.Values.Where(j => now - j.StartedAt > TimeSpan.FromHours(1) && j.Report().State != "running"))
            Jobs.TryRemove(old.Id, out _);
        var job = new ImportJob($"imp_{Guid.NewGuid():N}", kind, now);
        Jobs[job.Id] = job;
        return job;
    }

    public ImportJob? Find(string id) => Jobs.TryGetValue(id, out var job) ? job : null;
}
