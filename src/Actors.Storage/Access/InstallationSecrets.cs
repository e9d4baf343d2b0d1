using System.Security.Cryptography;
using Marten;

namespace Actors.Storage.Access;

/// <summary>A secret of this installation, shared by every node through PostgreSQL.</summary>
public sealed record InstallationSecret(string Id, string Value, DateTimeOffset CreatedAt);

public sealed class InstallationSecrets(IDocumentStore store, TimeProvider clock)
{
    /// <summary>The secret named <paramref name="id"/>, made (32 random bytes, hex) by whichever node asks first.</summary>
    public async Task<string> GetOrCreateAsync(string id, CancellationToken ct = default)
    {
        await using (var query = store.QuerySession())
            if (await query.LoadAsync<InstallationSecret>(id, ct) is { } existing) return existing.Value;

        var created = new InstallationSecret(id, Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).ToLowerInvariant(), clock.GetUtcNow());
        try
        {
            await using var session = store.LightweightSession();
            session.Insert(created); // fails if another node made it meanwhile: theirs wins
            await session.SaveChangesAsync(ct);
            return created.Value;
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            await using var query = store.QuerySession();
            return (await query.LoadAsync<InstallationSecret>(id, ct))?.Value ?? throw new InvalidOperationException($"Secret '{id}' could be neither made nor read.");
        }
    }
}
