using Actors.Domain.Channels;
using Actors.Domain.Profiles;
using Actors.Storage.Channels;
using Actors.Domain.Tracking;
using JasperFx;
using JasperFx.Events;
using Marten;

namespace Actors.Storage.Streams;

public sealed class MartenVisitorStreams(IDocumentStore store) : IVisitorStreams
{
    public async Task<VisitorProfile> LoadAsync(string profileId, CancellationToken ct = default)
    {
        await using var session = store.QuerySession();
        // Snapshot and the stream's head in one round trip: a new visitor (no stream) or a stream whose snapshot is at
        // its head needs no second query; otherwise the events after the snapshot are read next.
        var batch = session.CreateBatchQuery();
        var snapshotRead = batch.Load<ProfileSnapshot>(profileId);
        var headRead = batch.Events.FetchStreamState(profileId);
        await batch.Execute(ct);
        var snapshot = await snapshotRead;
        var head = await headRead;
        var profile = snapshot?.Profile ?? new VisitorProfile(profileId);
        if (head is null || head.Version <= profile.Version) return profile;
        var events = await session.Events.FetchStreamAsync(profileId, fromVersion: profile.Version + 1, token: ct);
        return await ApplyAsync(session, profileId, profile, events, ct);
    }

    /// <summary>
    /// Loads a stream whose head version is known (<paramref name="head"/> &gt; 0, from <see cref="StreamHeads"/>):
    /// the snapshot and the last <paramref name="window"/> events in one round trip. A snapshot is taken every
    /// <paramref name="window"/> events, so the events after it are almost always among them; when they are not (a
    /// snapshot that failed, or none yet beyond the window), the events between are read next.
    /// </summary>
    public async Task<VisitorProfile> LoadAsync(string profileId, long head, int window, CancellationToken ct = default)
    {
        await using var session = store.QuerySession();
        var from = Math.Max(1, head - Math.Max(1, window) + 1);
        var batch = session.CreateBatchQuery();
        var snapshotRead = batch.Load<ProfileSnapshot>(profileId);
        var tailRead = batch.Events.FetchStream(profileId, fromVersion: from);
        await batch.Execute(ct);
        var snapshot = await snapshotRead;
        var tail = await tailRead;
        var profile = snapshot?.Profile ?? new VisitorProfile(profileId);
        // The stream may have grown since its head was read: the tail read has everything up to now either way.
        var events = profile.Version + 1 >= from
            ? [.. tail.Where(e => e.Version > profile.Version)]
            : await session.Events.FetchStreamAsync(profileId, fromVersion: profile.Version + 1, token: ct);
        return await ApplyAsync(session, profileId, profile, events, ct);
    }

    private static async Task<VisitorProfile> ApplyAsync(IQuerySession session, string profileId, VisitorProfile profile, IReadOnlyList<IEvent> events, CancellationToken ct)
    {
        if (ProfileFold.NeedsFullFold(events.Select(e => (VisitorEvent)e.Data)))
        {
            // An unmerge takes events back: only a fold of the whole stream knows which.
            var all = await session.Events.FetchStreamAsync(profileId, token: ct);
            return ProfileFold.Fold(profileId, [.. all.Select(e => (VisitorEvent)e.Data)]);
        }
        foreach (var e in events) profile.Apply((VisitorEvent)e.Data);
        return profile;
    }

    public async Task AppendAsync(string profileId, long expectedVersion, IReadOnlyList<VisitorEvent> events, IReadOnlyList<OutboundMessage>? outbound = null, CancellationToken ct = default)
    {
        if (events.Count == 0) return;
        await using var session = store.LightweightSession();
        Stage(session, profileId, expectedVersion, events, outbound);
        try
        {
            await session.SaveChangesAsync(ct);
        }
        catch (Exception e) when (IsConflict(e))
        {
            throw new StreamConflictException(profileId, expectedVersion, e);
        }
    }

    /// <summary>Adds one stream's append, with its concurrency check, to a unit of work.</summary>
    internal static void Stage(IDocumentSession session, string profileId, long expectedVersion, IReadOnlyList<VisitorEvent> events, IReadOnlyList<OutboundMessage>? outbound)
    {
        var schema = session.DocumentStore.Options.Events.DatabaseSchemaName;
        if (outbound is { Count: > 0 }) OutboxStore.Stage(session, schema, outbound);
        OutboxStore.ReportedStatement(schema, events)?.QueueIn(session);
        var data = new object[events.Count];
        for (var i = 0; i < events.Count; i++) data[i] = events[i];
        if (expectedVersion == 0) session.Events.StartStream(profileId, data); // fails if someone else started it
        else session.Events.Append(profileId, expectedVersion + events.Count, data); // Marten checks the version after the append
    }

    internal static bool IsConflict(Exception e) =>
        e is ConcurrencyException or ExistingStreamIdCollisionException or Marten.Exceptions.ExistingStreamIdCollisionException
        || (e.InnerException is { } inner && IsConflict(inner));

    public async Task SaveSnapshotAsync(VisitorProfile profile, CancellationToken ct = default)
    {
        await using var session = store.LightweightSession();
        session.Store(new ProfileSnapshot(profile.ProfileId, profile.Version, profile));
        await session.SaveChangesAsync(ct);
    }

    public async Task<IReadOnlyList<StoredEvent>> ReadAsync(string profileId, EventQuery query, CancellationToken ct = default)
    {
        await using var session = store.QuerySession();
        var events = session.Events.QueryAllRawEvents().Where(e => e.StreamKey == profileId && e.Version >= query.FromVersion);
        if (query.Types is { Count: > 0 } types) events = events.Where(e => types.Contains(e.EventTypeName));
        if (query.Since is { } since) events = events.Where(e => e.Timestamp >= since);
        if (query.Until is { } until) events = events.Where(e => e.Timestamp <= until);
        var page = await events.OrderBy(e => e.Version).Take(query.Limit).ToListAsync(ct);
        return page.Select(e => new StoredEvent(e.Version, e.EventTypeName, e.Timestamp, (VisitorEvent)e.Data)).ToList();
    }
}
