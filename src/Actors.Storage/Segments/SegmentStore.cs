using Marten;

namespace Actors.Storage.Segments;

public enum SegmentUpdateStatus { Saved, NotFound, Conflict, Refused }

/// <summary>How an update went; <see cref="Segment"/> is the saved document, or the current one on a conflict.</summary>
public sealed record SegmentUpdate(SegmentUpdateStatus Status, SegmentDocument? Segment);

/// <summary>Segments, their members (projection) and size history in Marten.</summary>
public sealed class SegmentStore(IDocumentStore store)
{
    public async Task<SegmentDocument?> FindAsync(string id, CancellationToken ct = default)
    {
        await using var session = store.QuerySession();
        return await session.LoadAsync<SegmentDocument>(id, ct);
    }

    public async Task<IReadOnlyList<SegmentDocument>> ListAsync(bool includeArchived, CancellationToken ct = default)
    {
        await using var session = store.QuerySession();
        var all = includeArchived
            ? await session.Query<SegmentDocument>().ToListAsync(ct)
            : await session.Query<SegmentDocument>().Where(s => !s.Archived).ToListAsync(ct);
        return [.. all.OrderBy(s => s.Id, StringComparer.Ordinal)];
    }

    public const string RevisionSequence = "actors_segment_revision";

    // Any constant shared by all nodes: saves of segments take this transaction lock, one at a time.
    private const long SaveLock = 0x5E6_0001;

    /// <summary>Saves a new segment with its first revision; null when one with its id exists (nothing is overwritten).</summary>
    public async Task<SegmentDocument?> CreateAsync(SegmentDocument segment, CancellationToken ct = default)
    {
        await using var session = store.LightweightSession();
        await session.BeginTransactionAsync(ct);
        await LockAsync(session, ct);
        if (await session.LoadAsync<SegmentDocument>(segment.Id, ct) is not null) return null;
        var saved = segment with { Revision = await NextRevisionAsync(session, ct) };
        session.Insert(saved);
        await session.SaveChangesAsync(ct);
        _sequenceExists = true;
        return saved;
    }

    /// <summary>
    /// Applies <paramref name="change"/> to the segment as stored now and saves it with a new revision. Refused (Conflict)
    /// when the caller based its change on another revision than <paramref name="expectedRevision"/>, or when another
    /// writer got in between; so two updates from the same base never silently overwrite each other.
    /// </summary>
    /// <param name="refuse">When true for the current document, nothing is saved (Refused): e.g. an archived segment.</param>
    public async Task<SegmentUpdate> UpdateAsync(string id, long? expectedRevision, Func<SegmentDocument, SegmentDocument> change,
        Func<SegmentDocument, bool>? refuse = null, CancellationToken ct = default)
    {
        await using var session = store.LightweightSession();
        await session.BeginTransactionAsync(ct);
        // Saves are serialised so that they commit in revision order: a node that has seen revision N has seen every
        // change up to N, which is what the catalogue's version promises.
        await LockAsync(session, ct);
        var current = await session.LoadAsync<SegmentDocument>(id, ct);
        if (current is null) return new SegmentUpdate(SegmentUpdateStatus.NotFound, null);
        if (expectedRevision is { } expected && expected != current.Revision) return new SegmentUpdate(SegmentUpdateStatus.Conflict, current);
        if (refuse?.Invoke(current) == true) return new SegmentUpdate(SegmentUpdateStatus.Refused, current);
        var saved = change(current) with { Id = id, Revision = await NextRevisionAsync(session, ct) };
        session.Store(saved);
        try
        {
            await session.SaveChangesAsync(ct);
            _sequenceExists = true;
        }
        catch (Exception e) when (e is JasperFx.ConcurrencyException || e.InnerException is JasperFx.ConcurrencyException)
        {
            return new SegmentUpdate(SegmentUpdateStatus.Conflict, current);
        }
        return new SegmentUpdate(SegmentUpdateStatus.Saved, saved);
    }

    /// <summary>A transaction-scoped lock: released by the commit or rollback, even if this node dies.</summary>
    private static Task LockAsync(IDocumentSession session, CancellationToken ct) =>
        ExecuteAsync(session, $"select pg_advisory_xact_lock({SaveLock})", ct);

    private volatile bool _sequenceExists;

    /// <summary>
    /// The next revision. Called under the save lock, so creating the sequence on first use cannot race; it is known to
    /// exist once a save that made it has committed.
    /// </summary>
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

    public async Task<(IReadOnlyList<SegmentMember> Members, string? Next)> MembersAsync(string segmentId, string? after, int limit, CancellationToken ct = default)
    {
        await using var session = store.QuerySession();
        var query = session.Query<SegmentMember>().Where(m => m.SegmentId == segmentId);
        if (after is not null) query = query.Where(m => string.Compare(m.ProfileId, after) > 0);
        var page = await query.OrderBy(m => m.ProfileId).Take(limit + 1).ToListAsync(ct);
        return (page.Take(limit).ToList(), page.Count > limit ? page[limit - 1].ProfileId : null);
    }

    public async Task<int> CountAsync(string segmentId, CancellationToken ct = default)
    {
        await using var session = store.QuerySession();
        return await session.Query<SegmentMember>().CountAsync(m => m.SegmentId == segmentId, ct);
    }

    public async Task RecordSizeAsync(string segmentId, DateTimeOffset at, CancellationToken ct = default)
    {
        var count = await CountAsync(segmentId, ct);
        await using var session = store.LightweightSession();
        session.Store(new SegmentSize($"{segmentId}|{at.UtcTicks}", segmentId, at, count));
        await session.SaveChangesAsync(ct);
    }

    public async Task<IReadOnlyList<SegmentSize>> SizeHistoryAsync(string segmentId, CancellationToken ct = default)
    {
        await using var session = store.QuerySession();
        var sizes = await session.Query<SegmentSize>().Where(s => s.SegmentId == segmentId).OrderBy(s => s.At).ToListAsync(ct);
        return sizes;
    }

    public async Task<IReadOnlyList<CustomerValue>> CustomerValuesAsync(CancellationToken ct = default)
    {
        await using var session = store.QuerySession();
        return await session.Query<CustomerValue>().Where(c => c.Orders > 0).ToListAsync(ct);
    }

    /// <summary>Every profile that has a stream, in id order, a page at a time (for backfills).</summary>
    public async Task<IReadOnlyList<string>> ProfileIdsAsync(string? after, int limit, CancellationToken ct = default)
    {
        await using var session = store.QuerySession();
        var schema = store.Options.Events.DatabaseSchemaName;
        var ids = await session.QueryAsync<string>(
            $"select id from {schema}.mt_streams where (? is null or id > ?) order by id limit ?", ct, after!, after!, limit);
        return ids;
    }

    public async Task<long> ProfileCountAsync(CancellationToken ct = default)
    {
        await using var session = store.QuerySession();
        var schema = store.Options.Events.DatabaseSchemaName;
        return (await session.QueryAsync<long>($"select count(*) from {schema}.mt_streams", ct)).Single();
    }

    /// <summary>
    /// Takes the due webhook deliveries for a while (a lease), with optimistic concurrency, so that two nodes never send
    /// the same one at the same time. Empty when another node claimed them first.
    /// </summary>
    public async Task<IReadOnlyList<WebhookDelivery>> ClaimDueDeliveriesAsync(DateTimeOffset now, TimeSpan lease, int limit, CancellationToken ct = default)
    {
        await using var session = store.LightweightSession();
        var due = await session.Query<WebhookDelivery>()
            .Where(d => d.Status == DeliveryStatus.Pending && d.NextAttemptAt <= now)
            .OrderBy(d => d.NextAttemptAt).Take(limit).ToListAsync(ct);
        if (due.Count == 0) return [];
        var claimed = due.Select(d => d with { NextAttemptAt = now + lease, Attempts = d.Attempts + 1 }).ToList();
        foreach (var d in claimed) session.Store(d);
        try
        {
            await session.SaveChangesAsync(ct);
            return claimed;
        }
        catch (Exception e) when (e is JasperFx.ConcurrencyException || e.InnerException is JasperFx.ConcurrencyException)
        {
            return [];
        }
    }

    public async Task SaveDeliveryAsync(WebhookDelivery delivery, CancellationToken ct = default)
    {
        await using var session = store.LightweightSession();
        // Loading first gives the session the row's version, which the optimistic-concurrency check needs.
        await session.LoadAsync<WebhookDelivery>(delivery.Id, ct);
        session.Store(delivery);
        await session.SaveChangesAsync(ct);
    }

    public async Task<IReadOnlyList<WebhookDelivery>> DeliveriesAsync(string segmentId, int limit, CancellationToken ct = default)
    {
        await using var session = store.QuerySession();
        return await session.Query<WebhookDelivery>().Where(d => d.SegmentId == segmentId).OrderByDescending(d => d.At).Take(limit).ToListAsync(ct);
    }
}
