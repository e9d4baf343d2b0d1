using Actors.Storage.Definitions;
using Marten;

namespace Actors.Storage.Segments;

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
    private readonly RevisionedSaves<SegmentDocument> saves = new(store, RevisionSequence, 0x5E6_0001);

    /// <summary>Saves a new segment with its first revision; null when one with its id exists (nothing is overwritten).</summary>
    public Task<SegmentDocument?> CreateAsync(SegmentDocument segment, CancellationToken ct = default) => saves.CreateAsync(segment, ct);

    /// <summary>
    /// Applies <paramref name="change"/> to the segment as stored now and saves it with a new revision (see
    /// <see cref="RevisionedSaves{T}"/>): Conflict on another base revision or a concurrent writer, Refused when
    /// <paramref name="refuse"/> says so (an archived segment).
    /// </summary>
    public Task<RevisionedSave<SegmentDocument>> UpdateAsync(string id, long? expectedRevision, Func<SegmentDocument, SegmentDocument> change,
        Func<SegmentDocument, bool>? refuse = null, CancellationToken ct = default) =>
        saves.UpdateAsync(id, expectedRevision, change, refuse, ct);

    public async Task<(IReadOnlyList<SegmentMember> Members, string? Next)> MembersAsync(string segmentId, string? after, int limit, CancellationToken ct = default)
    {
        await using var session = store.QuerySession();
        var page = await MembersPage(session, segmentId, after, limit + 1).ToListAsync(ct);
        return (page.Take(limit).ToList(), page.Count > limit ? page[limit - 1].ProfileId : null);
    }

    /// <summary>One page of members in profile order, after <paramref name="after"/>: a range of the (SegmentId, ProfileId) index.</summary>
    public static IQueryable<SegmentMember> MembersPage(IQuerySession session, string segmentId, string? after, int take)
    {
        var query = session.Query<SegmentMember>().Where(m => m.SegmentId == segmentId);
        if (after is not null) query = query.Where(m => string.Compare(m.ProfileId, after) > 0);
        return query.OrderBy(m => m.ProfileId).Take(take);
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
