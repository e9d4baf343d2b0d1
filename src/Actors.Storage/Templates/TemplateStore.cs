using Actors.Storage.Definitions;
using Marten;

namespace Actors.Storage.Templates;

/// <summary>Message templates in Marten, saved one at a time with a revision from a sequence (as journeys are).</summary>
public sealed class TemplateStore(IDocumentStore store)
{
    public const string RevisionSequence = "actors_template_revision";

    // Any constant shared by all nodes: saves of templates take this transaction lock, one at a time.
    private readonly RevisionedSaves<TemplateDocument> saves = new(store, RevisionSequence, 0x7E3_0001);

    public async Task<TemplateDocument?> FindAsync(string id, CancellationToken ct = default)
    {
        await using var session = store.QuerySession();
        return await session.LoadAsync<TemplateDocument>(id, ct);
    }

    public async Task<IReadOnlyList<TemplateDocument>> ListAsync(CancellationToken ct = default)
    {
        await using var session = store.QuerySession();
        var all = await session.Query<TemplateDocument>().ToListAsync(ct);
        return [.. all.OrderBy(t => t.Id, StringComparer.Ordinal)];
    }

    /// <summary>Those of <paramref name="ids"/> that exist, by id (journey and broadcast saves check their templates with one query).</summary>
    public async Task<IReadOnlyDictionary<string, TemplateDocument>> FindManyAsync(IReadOnlyCollection<string> ids, CancellationToken ct = default)
    {
        if (ids.Count == 0) return new Dictionary<string, TemplateDocument>(StringComparer.Ordinal);
        await using var session = store.QuerySession();
        var found = await session.LoadManyAsync<TemplateDocument>(ct, ids.Distinct(StringComparer.Ordinal));
        return found.ToDictionary(t => t.Id, StringComparer.Ordinal);
    }

    /// <summary>Saves a new template with its first revision; null when one with its id exists (nothing is overwritten).</summary>
    public Task<TemplateDocument?> CreateAsync(TemplateDocument template, CancellationToken ct = default) => saves.CreateAsync(template, ct);

    /// <summary>Applies <paramref name="change"/> to the template as stored now (see <see cref="RevisionedSaves{T}"/>).</summary>
    public Task<RevisionedSave<TemplateDocument>> UpdateAsync(string id, long? expectedRevision, Func<TemplateDocument, TemplateDocument> change,
        CancellationToken ct = default) =>
        saves.UpdateAsync(id, expectedRevision, change, refuse: null, ct);

    /// <summary>Deletes the template unless the caller's revision is stale or <paramref name="refuse"/> says no.</summary>
    public Task<RevisionedSave<TemplateDocument>> DeleteAsync(string id, long? expectedRevision, Func<TemplateDocument, Task<bool>>? refuse = null,
        CancellationToken ct = default) =>
        saves.DeleteAsync(id, expectedRevision, refuse, ct);
}
