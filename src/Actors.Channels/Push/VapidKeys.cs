using System.Collections.Concurrent;
using Actors.Storage.Access;

namespace Actors.Channels.Push;

/// <summary>
/// The installation's VAPID key pair: the configured one, or one derived from a secret made once and kept in
/// PostgreSQL (so every node signs with the key browsers subscribed with), and the signed tokens per push service.
/// </summary>
public sealed class VapidKeys(PushSettings settings, TimeProvider clock, InstallationSecrets? secrets = null)
{
    private const string SecretId = "vapid-key";

    /// <summary>RFC 8292 allows at most 24 h; 12 h leaves room for clock skew at the push service.</summary>
    public static readonly TimeSpan TokenLifetime = TimeSpan.FromHours(12);

    /// <summary>A cached token is renewed once less than this is left.</summary>
    private static readonly TimeSpan RenewBefore = TimeSpan.FromHours(1);

    private readonly ConcurrentDictionary<string, (string Header, DateTimeOffset ExpiresAt)> _tokens = new(StringComparer.Ordinal);
    private Task<VapidKeyPair>? _pair;

    public Task<VapidKeyPair> GetAsync() => _pair ??= LoadAsync();

    private async Task<VapidKeyPair> LoadAsync()
    {
        if (!string.IsNullOrWhiteSpace(settings.VapidPublicKey) && !string.IsNullOrWhiteSpace(settings.VapidPrivateKey))
            return VapidKeyPair.FromBase64Url(settings.VapidPublicKey, settings.VapidPrivateKey);
        if (secrets is null) throw new InvalidOperationException("No VAPID keys are configured (Actors:Push:VapidPublicKey/VapidPrivateKey) and no database keeps one.");
        try
        {
            return VapidKeyPair.DeriveFrom(await secrets.GetOrCreateAsync(SecretId));
        }
        catch
        {
            _pair = null; // a database hiccup must not stick
            throw;
        }
    }

    /// <summary>The Authorization header for a push endpoint: a token for its origin, signed once and reused for hours.</summary>
    public async Task<string> AuthorizationForAsync(Uri endpoint)
    {
        var audience = endpoint.GetLeftPart(UriPartial.Authority);
        var now = clock.GetUtcNow();
        if (_tokens.TryGetValue(audience, out var cached) && cached.ExpiresAt - now > RenewBefore) return cached.Header;
        var pair = await GetAsync();
        var expiresAt = DateTimeOffset.FromUnixTimeSeconds(now.Add(TokenLifetime).ToUnixTimeSeconds());
        var subject = string.IsNullOrWhiteSpace(settings.Subject) ? null : settings.Subject;
        var header = pair.AuthorizationFor(pair.CreateToken(audience, expiresAt, subject));
        // One entry per push service (a handful: FCM, Mozilla, Apple, Microsoft); an endpoint per origin keeps it small,
        // but a flood of odd origins must not grow it without end.
        if (_tokens.Count > 1_000) _tokens.Clear();
        _tokens[audience] = (header, expiresAt);
        return header;
    }
}
