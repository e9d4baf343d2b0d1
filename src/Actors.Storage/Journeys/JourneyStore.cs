using Marten;

namespace Actors.Storage.Journeys;

public enum JourneyUpdateStatus { Saved, NotFound, Conflict, Refused }

/// <summary>How an update went; <see cref="Journey"/> is the saved document, or the current one on a conflict or refusal.</summary>
public sealed record JourneyUpdate(JourneyUpdateStatus Status, JourneyDocument? Journey);

/// <summary>Journeys in Marten, saved one at a time with a revision from a sequence (as segments are).</summary>
public sealed class JourneyStore(IDocumentStore store)
{
    public const string RevisionSequence = "actors_journey_revision";

    // Any constant shared by all nodes: saves of journeys take this transaction lock, one at a time.
    private const long SaveLock = 0x70C_0001;

    private volatile bool _sequenceExists;

    public async Task<JourneyDocument?> FindAsync(string id, CancellationToken ct = default)
    {
        await using var session = store.QuerySession();
        return await session.LoadAsync<JourneyDocument>(id, ct);
    }

    public async Task<IReadOnlyList<JourneyDocument>> ListAsync(CancellationToken ct = default)
    {
        await using var session = store.QuerySession();
        var all = await session.Query<JourneyDocument>().ToListAsync(ct);
        return [.. all.OrderBy(j => j.Id, StringComparer.Ordinal)];
    }

    /// <summary>Saves a new journey with its first revision; null when one with its id exists (nothing is overwritten).</summary>
    public async Task<JourneyDocument?> CreateAsync(JourneyDocument journey, CancellationToken ct = default)
    {
        await using var session = store.LightweightSession();
        await session.BeginTransactionAsync(ct);
        await LockAsync(session, ct);
        if (await session.LoadAsync<JourneyDocument>(journey.Id, ct) is not null) return null;
        var saved = journey with { Revision = await NextRevisionAsync(session, ct) };
        session.Insert(saved);
        await session.SaveChangesAsync(ct);
        _sequenceExists = true;
        return saved;
    }

    /// <summary>
    /// Applies <paramref name="change"/> to the journey as stored now and saves it with a new revision. Conflict when the
    /// caller based its change on another revision than <paramref name="expectedRevision"/> or another writer got in
    /// between; Refused when <paramref name="refuse"/> says so for the current document (e.g. an archived journey).
    /// </summary>
    public async Task<JourneyUpdate> UpdateAsync(string id, long? expectedRevision, Func<JourneyDocument, JourneyDocument> change,
        Func<JourneyDocument, bool>? refuse = null, CancellationToken ct = default)
    {
        await using var session = store.LightweightSession();
        await session.BeginTransactionAsync(ct);
        await LockAsync(session, ct);
        var current = await session.LoadAsync<JourneyDocument>(id, ct);
        if (current is null) return new JourneyUpdate(JourneyUpdateStatus.NotFound, null);
        if (expectedRevision is { } expected && expected != current.Revision) return new JourneyUpdate(JourneyUpdateStatus.Conflict, current);
        if (refuse?.Invoke(current) == true) return new JourneyUpdate(JourneyUpdateStatus.Refused, current);
        var saved = change(current) with { Id = id, Revision = await NextRevisionAsync(session, ct) };
        session.Store(saved);
        try
        {
            await session.SaveChangesAsync(ct);
            _sequenceExists = true;
        }
        catch (Exception e) when (e is JasperFx.ConcurrencyException || e.InnerException is JasperFx.ConcurrencyException)
        {
            return new JourneyUpdate(JourneyUpdateStatus.Conflict, current);
        }
        return new JourneyUpdate(JourneyUpdateStatus.Saved, saved);
    }

    /// <summary>A transaction-scoped lock: released by the commit or rollback, even if this node dies.</summary>
    private static Task LockAsync(IDocumentSession session, CancellationToken ct) =>
        ExecuteAsync(session, $"select pg_advisory_xact_lock({SaveLock})", ct);

    /// <summary>The next revision; called under the save lock, so creating the sequence on first use cannot race.</summary>
    private async Task<long> NextRevisionAsync(IDocumentSession session, CancellationToken ct)
    {
        var sequence = $"{store.Options.DatabaseSchemaName}.{RevisionSequence}";
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
