using Marten;

namespace Actors.Storage.Definitions;

/// <summary>A marketer's definition (a segment, a journey) saved with a revision: its id and revision, and a copy with new ones.</summary>
public interface IRevisioned<out TSelf>
{
    string Id { get; }
    long Revision { get; }
    TSelf WithRevision(string id, long revision);
}

public enum RevisionedSaveStatus { Saved, NotFound, Conflict, Refused }

/// <summary>How a save went: the saved document, or the current one (conflict, refusal).</summary>
public readonly record struct RevisionedSave<T>(RevisionedSaveStatus Status, T? Document) where T : class;

/// <summary>
/// Saves of one kind of definition, one at a time across the cluster (a transaction-scoped advisory lock), each with a
/// revision drawn from a PostgreSQL sequence inside the same transaction. So revisions are in commit order: a node that
/// has seen revision N has seen every change up to N (what the catalogues' versions promise, whatever the nodes'
/// clocks say), and two updates from the same base never silently overwrite each other.
/// </summary>
public sealed class RevisionedSaves<T>(IDocumentStore store, string sequenceName, long saveLock) where T : class, IRevisioned<T>
{
    private volatile bool _sequenceExists;

    /// <summary>Saves a new document with its first revision; null when one with its id exists (nothing is overwritten).</summary>
    public async Task<T?> CreateAsync(T document, CancellationToken ct = default)
    {
        await using var session = store.LightweightSession();
        await session.BeginTransactionAsync(ct);
        await LockAsync(session, ct);
        if (await session.LoadAsync<T>(document.Id, ct) is not null) return null;
        var saved = document.WithRevision(document.Id, await NextRevisionAsync(session, ct));
        session.Insert(saved);
        await session.SaveChangesAsync(ct);
        _sequenceExists = true;
        return saved;
    }

    /// <summary>
    /// Applies <paramref name="change"/> to the document as stored now and saves it with a new revision. Conflict when the
    /// caller based its change on another revision than <paramref name="expectedRevision"/> or another writer got in
    /// between; Refused when <paramref name="refuse"/> says so for the current document (e.g. an archived one).
    /// </summary>
    public async Task<RevisionedSave<T>> UpdateAsync(string id, long? expectedRevision, Func<T, T> change, Func<T, bool>? refuse = null,
        CancellationToken ct = default)
    {
        await using var session = store.LightweightSession();
        await session.BeginTransactionAsync(ct);
        await LockAsync(session, ct);
        var current = await session.LoadAsync<T>(id, ct);
        if (current is null) return new(RevisionedSaveStatus.NotFound, null);
        if (expectedRevision is { } expected && expected != current.Revision) return new(RevisionedSaveStatus.Conflict, current);
        if (refuse?.Invoke(current) == true) return new(RevisionedSaveStatus.Refused, current);
        var saved = change(current).WithRevision(id, await NextRevisionAsync(session, ct));
        session.Store(saved);
        try
        {
            await session.SaveChangesAsync(ct);
            _sequenceExists = true;
        }
        catch (Exception e) when (e is JasperFx.ConcurrencyException || e.InnerException is JasperFx.ConcurrencyException)
        {
            return new(RevisionedSaveStatus.Conflict, current);
        }
        return new(RevisionedSaveStatus.Saved, saved);
    }

    /// <summary>
    /// Deletes the document under the same lock as saves: Conflict when the caller's <paramref name="expectedRevision"/>
    /// is stale, Refused when <paramref name="refuse"/> says so (something still uses it); Saved carries what was deleted.
    /// </summary>
    public async Task<RevisionedSave<T>> DeleteAsync(string id, long? expectedRevision, Func<T, Task<bool>>? refuse = null, CancellationToken ct = default)
    {
        await using var session = store.LightweightSession();
        await session.BeginTransactionAsync(ct);
        await LockAsync(session, ct);
        var current = await session.LoadAsync<T>(id, ct);
        if (current is null) return new(RevisionedSaveStatus.NotFound, null);
        if (expectedRevision is { } expected && expected != current.Revision) return new(RevisionedSaveStatus.Conflict, current);
        if (refuse is not null && await refuse(current)) return new(RevisionedSaveStatus.Refused, current);
        session.Delete<T>(id);
        await session.SaveChangesAsync(ct);
        return new(RevisionedSaveStatus.Saved, current);
    }

    /// <summary>A transaction-scoped lock: released by the commit or rollback, even if this node dies.</summary>
    private static Task LockAsync(IDocumentSession session, long key, CancellationToken ct) =>
        ExecuteAsync(session, $"select pg_advisory_xact_lock({key})", ct);

    private Task LockAsync(IDocumentSession session, CancellationToken ct) => LockAsync(session, saveLock, ct);

    /// <summary>
    /// The next revision. Called under the save lock, so creating the sequence on first use cannot race; it is known to
    /// exist once a save that made it has committed.
    /// </summary>
    private async Task<long> NextRevisionAsync(IDocumentSession session, CancellationToken ct)
    {
        var sequence = $"{store.Options.DatabaseSchemaName}.{sequenceName}";
        if (!_sequenceExists) await ExecuteAsync(session, $"create sequence if not exists {sequence}", ct);
        return (long)(await ExecuteAsync(session, $"select nextval('{sequence}')", ct))!;
    }

    /// <summary>SQL on the session's own connection, inside its transaction (BeginTransactionAsync comes first).</summary>
    private static async Task<object?> ExecuteAsync(IDocumentSession session, string sql, CancellationToken ct)
    {
        await using var command = new Npgsql.NpgsqlCommand(sql, session.Connection);
        return await command.ExecuteScalarAsync(ct);
    }
}
