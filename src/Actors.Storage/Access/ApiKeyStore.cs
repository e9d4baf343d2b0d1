using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Marten;

namespace Actors.Storage.Access;

/// <summary>What a key may do. Each scope includes the ones below it: admin ⊃ marketing ⊃ ingest.</summary>
public enum ApiScope { Ingest = 1, Marketing = 2, Admin = 3 }

/// <summary>A key as stored: only its SHA-256 hash, never the key itself.</summary>
/// <param name="AllowedOrigins">
/// Web origins (normalized by <see cref="BrowserOrigins"/>) whose pages may use an ingest key from the browser; null or
/// empty: none, beyond the host's own Actors:Api:AllowedOrigins.
/// </param>
/// <param name="ExpiresAt">From this moment the key is refused (401, "expired"); null: it never expires.</param>
public sealed record ApiKeyRecord(string Id, string Name, ApiScope Scope, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt = null,
    IReadOnlyList<string>? AllowedOrigins = null, DateTimeOffset? ExpiresAt = null)
{
    public bool IsExpiredAt(DateTimeOffset now) => ExpiresAt is { } at && at <= now;
}

/// <summary>What a key presented to <see cref="ApiKeyStore.CheckAsync"/> is: active (with its record), expired, or unknown/revoked.</summary>
public readonly record struct KeyCheck(ApiKeyRecord? Active, DateTimeOffset? ExpiredAt);

/// <summary>A freshly created key: the only moment its plain text exists.</summary>
public sealed record CreatedApiKey(string Id, string Key, string Name, ApiScope Scope, DateTimeOffset? ExpiresAt = null);

/// <summary>What <see cref="ApiKeyStore.EnsureAsync"/> found and did.</summary>
public enum EnsureOutcome { Created, Existing, ScopeChanged, Revoked }

public sealed class ApiKeyStore(IDocumentStore store, TimeProvider clock)
{
    // Lookups are on every request; a short cache keeps them off the database. Revocation reaches other nodes within this time.
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(10);
    // Unknown keys are remembered apart, so a flood of made-up keys neither reaches the database twice nor evicts real ones.
    private static readonly TimeSpan UnknownFor = TimeSpan.FromSeconds(10);
    private const int CacheCapacity = 10_000;
    // Both caches are keyed by the key's SHA-256 hash, never by the key: whatever a lookup compares is a hash, so how
    // long a comparison takes says nothing about a key (the constant-time property, without comparing secrets at all).
    private readonly LruCache<string, (ApiKeyRecord Record, DateTimeOffset Until)> _valid = new(CacheCapacity, StringComparer.Ordinal);
    private readonly LruCache<string, DateTimeOffset> _unknown = new(CacheCapacity, StringComparer.Ordinal);
    private IReadOnlySet<string> _origins = new HashSet<string>();
    private DateTimeOffset _originsUntil = DateTimeOffset.MinValue;
    private readonly SemaphoreSlim _originsRefresh = new(1, 1);

    /// <summary>
    /// The key's SHA-256 as lower-case hex. Computed on every request (rate limiting, then authentication), so the UTF-8
    /// bytes and the hash stay on the stack: the hex string is the one allocation.
    /// </summary>
    public static string HashOf(string key)
    {
        var most = Encoding.UTF8.GetMaxByteCount(key.Length);
        byte[]? rented = null;
        var utf8 = most <= StackBytes ? stackalloc byte[StackBytes] : (rented = ArrayPool<byte>.Shared.Rent(most));
        try
        {
            var length = Encoding.UTF8.GetBytes(key, utf8);
            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(utf8[..length], hash);
            return Convert.ToHexStringLower(hash);
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented, clearArray: true); // it held a key
        }
    }

    private const int StackBytes = 512;

    /// <summary>The key's id is a prefix of its hash: enough to name it in a revoke command, useless to guess the key.</summary>
    private static string IdOf(string hash) => hash[..16];

    /// <param name="allowedOrigins">Origins whose pages may use the key in a browser (see <see cref="BrowserOrigins"/>); refused with an ArgumentException when one is not an origin.</param>
    /// <param name="expiresAt">When the key stops working; null: never.</param>
    public async Task<CreatedApiKey> CreateAsync(string name, ApiScope scope, IEnumerable<string>? allowedOrigins = null, CancellationToken ct = default,
        DateTimeOffset? expiresAt = null)
    {
        if (expiresAt is { } at && at <= clock.GetUtcNow()) throw new ArgumentException("A key's expiry must be in the future.", nameof(expiresAt));
        var origins = BrowserOrigins.NormalizeAll(allowedOrigins ?? []);
        var key = $"ak_{scope.ToString().ToLowerInvariant()}_{Convert.ToHexString(RandomNumberGenerator.GetBytes(20)).ToLowerInvariant()}";
        var record = await SaveAsync(key, name, scope, ct, origins, expiresAt);
        return new CreatedApiKey(record.Id, key, name, scope, record.ExpiresAt);
    }

    /// <summary>Replaces the origins a key may be used from in a browser; false when no key has this id.</summary>
    public async Task<bool> SetAllowedOriginsAsync(string id, IEnumerable<string> allowedOrigins, CancellationToken ct = default)
    {
        var origins = BrowserOrigins.NormalizeAll(allowedOrigins);
        await using var session = store.LightweightSession();
        var match = await session.Query<StoredApiKey>().Where(k => k.Record.Id == id).ToListAsync(ct);
        foreach (var stored in match)
            session.Store(stored with { Record = stored.Record with { AllowedOrigins = origins.Count == 0 ? null : origins } });
        await session.SaveChangesAsync(ct);
        _valid.Clear();
        _originsUntil = DateTimeOffset.MinValue;
        return match.Count > 0;
    }

    /// <summary>
    /// Every origin any active key allows (what a CORS preflight, which carries no key, is answered from); read at most
    /// once per cache period, so preflights never queue on the database.
    /// </summary>
    public async ValueTask<IReadOnlySet<string>> AllAllowedOriginsAsync(CancellationToken ct = default)
    {
        var now = clock.GetUtcNow();
        if (_originsUntil > now) return _origins;
        await _originsRefresh.WaitAsync(ct);
        try
        {
            if (_originsUntil > clock.GetUtcNow()) return _origins;
            await using var session = store.QuerySession();
            var all = await session.Query<StoredApiKey>().ToListAsync(ct);
            _origins = all.Where(k => k.Record.RevokedAt is null && k.Record.AllowedOrigins is not null)
                .SelectMany(k => k.Record.AllowedOrigins!).ToHashSet(StringComparer.Ordinal);
            _originsUntil = clock.GetUtcNow() + CacheFor;
            return _origins;
        }
        finally
        {
            _originsRefresh.Release();
        }
    }

    /// <summary>
    /// Makes sure a key with this exact value exists with this scope (bootstrap keys from the environment). A key that
    /// was revoked stays revoked: restarting with the same environment must not undo an operator's revocation.
    /// </summary>
    public async Task<EnsureOutcome> EnsureAsync(string key, string name, ApiScope scope, CancellationToken ct = default)
    {
        if (key.Length < MinimumBootstrapLength)
            throw new ArgumentException($"The {name} key is too short: use at least {MinimumBootstrapLength} random characters.");
        var existing = await FindStoredAsync(HashOf(key), ct);
        if (existing is { RevokedAt: not null }) return EnsureOutcome.Revoked;
        if (existing is not null && existing.Scope == scope)
        {
            Remember(HashOf(key), existing); // known from the first request on: its own rate-limit bucket at once
            return EnsureOutcome.Existing;
        }
        Remember(HashOf(key), await SaveAsync(key, name, scope, ct));
        return existing is null ? EnsureOutcome.Created : EnsureOutcome.ScopeChanged;
    }

    public const int MinimumBootstrapLength = 20;

    private async Task<ApiKeyRecord> SaveAsync(string key, string name, ApiScope scope, CancellationToken ct, IReadOnlyList<string>? origins = null,
        DateTimeOffset? expiresAt = null)
    {
        var hash = HashOf(key);
        await using var session = store.LightweightSession();
        var record = new ApiKeyRecord(IdOf(hash), name, scope, clock.GetUtcNow(), AllowedOrigins: origins is { Count: > 0 } ? origins : null, ExpiresAt: expiresAt);
        session.Store(new StoredApiKey(hash, record));
        await session.SaveChangesAsync(ct);
        _unknown.Remove(hash);
        _valid.Remove(hash);
        _originsUntil = DateTimeOffset.MinValue;
        return record;
    }

    public async Task<bool> RevokeAsync(string id, CancellationToken ct = default)
    {
        await using var session = store.LightweightSession();
        var match = await session.Query<StoredApiKey>().Where(k => k.Record.Id == id).ToListAsync(ct);
        foreach (var stored in match)
            session.Store(stored with { Record = stored.Record with { RevokedAt = clock.GetUtcNow() } });
        await session.SaveChangesAsync(ct);
        _valid.Clear();
        _originsUntil = DateTimeOffset.MinValue;
        return match.Count > 0;
    }

    public async Task<IReadOnlyList<ApiKeyRecord>> ListAsync(CancellationToken ct = default)
    {
        await using var session = store.QuerySession();
        var all = await session.Query<StoredApiKey>().ToListAsync(ct);
        return all.Select(k => k.Record).OrderBy(r => r.CreatedAt).ToList();
    }

    /// <summary>The active key with this plain value, or null for an unknown, revoked or expired key.</summary>
    public async ValueTask<ApiKeyRecord?> AuthenticateAsync(string key, CancellationToken ct = default) => (await CheckAsync(key, ct)).Active;

    /// <summary>
    /// The key's record when it is active; its expiry when it has expired (so the caller can say so); neither for an
    /// unknown or revoked key. Expiry is checked on every call, cached entries included, so a key stops at its moment
    /// on every node, not up to a cache period later.
    /// </summary>
    public ValueTask<KeyCheck> CheckAsync(string key, CancellationToken ct = default) => CheckHashAsync(HashOf(key), ct);

    /// <summary><see cref="CheckAsync"/> for a key whose hash (<see cref="HashOf"/>) the caller already has.</summary>
    public async ValueTask<KeyCheck> CheckHashAsync(string hash, CancellationToken ct = default)
    {
        var now = clock.GetUtcNow(); // the caches hold hashes only, never a key
        if (_valid.TryGet(hash, out var valid) && valid.Until > now) return Checked(valid.Record, now);
        if (_unknown.TryGet(hash, out var unknownUntil) && unknownUntil > now) return default;
        var record = await FindStoredAsync(hash, ct);
        if (record is { RevokedAt: null })
        {
            Remember(hash, record);
            return Checked(record, now);
        }
        _valid.Remove(hash);
        _unknown.Set(hash, now + UnknownFor);
        return default;
    }

    private static KeyCheck Checked(ApiKeyRecord record, DateTimeOffset now) =>
        record.IsExpiredAt(now) ? new KeyCheck(null, record.ExpiresAt) : new KeyCheck(record, null);

    /// <summary>
    /// The id of a key this node has found valid (even if its cache entry is due for a re-check), without touching the
    /// database: what rate limiting partitions by, before authentication. Null for keys not known here to be valid.
    /// </summary>
    public string? KnownKeyId(string key) => KnownKeyIdOfHash(HashOf(key));

    /// <summary><see cref="KnownKeyId"/> for a key whose hash the caller already has.</summary>
    public string? KnownKeyIdOfHash(string hash) => _valid.TryPeek(hash, out var entry) ? entry.Record.Id : null;

    private void Remember(string hash, ApiKeyRecord record)
    {
        _unknown.Remove(hash);
        _valid.Set(hash, (record, clock.GetUtcNow() + CacheFor));
    }

    private async Task<ApiKeyRecord?> FindStoredAsync(string hash, CancellationToken ct)
    {
        await using var session = store.QuerySession();
        return (await session.LoadAsync<StoredApiKey>(hash, ct))?.Record;
    }
}

/// <summary>The document: keyed by the full hash so authentication is one primary-key read.</summary>
public sealed record StoredApiKey(string Id, ApiKeyRecord Record);
