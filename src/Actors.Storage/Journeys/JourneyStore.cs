using Actors.Storage.Definitions;
using Marten;

namespace Actors.Storage.Journeys;

/// <summary>Journeys in Marten, saved one at a time with a revision from a sequence (as segments are).</summary>
public sealed class JourneyStore(IDocumentStore store)
{
    public const string RevisionSequence = "actors_journey_revision";

    // Any constant shared by all nodes: saves of journeys take this transaction lock, one at a time.
    private readonly RevisionedSaves<JourneyDocument> saves = new(store, RevisionSequence, 0x70C_0001);

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
    public Task<JourneyDocument?> CreateAsync(JourneyDocument journey, CancellationToken ct = default) => saves.CreateAsync(journey, ct);

    /// <summary>
    /// Applies <paramref name="change"/> to the journey as stored now and saves it with a new revision (see
    /// <see cref="RevisionedSaves{T}"/>): Conflict on another base revision or a concurrent writer, Refused when
    /// <paramref name="refuse"/> says so (an archived journey).
    /// </summary>
    public Task<RevisionedSave<JourneyDocument>> UpdateAsync(string id, long? expectedRevision, Func<JourneyDocument, JourneyDocument> change,
        Func<JourneyDocument, bool>? refuse = null, CancellationToken ct = default) =>
        saves.UpdateAsync(id, expectedRevision, change, refuse, ct);
}
