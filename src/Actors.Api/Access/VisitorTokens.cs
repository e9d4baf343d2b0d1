using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Actors.Storage.Access;
using Microsoft.Extensions.Configuration;

namespace Actors.Api.Access;

/// <summary>
/// Signed visitor tokens: the shop's backend vouches that the browser belongs to user <c>id</c> until a time, so an
/// (public) ingest key may read that customer's minimal view. A token is <c>{expiry}.{signature}</c>: expiry in Unix
/// seconds, signature the lowercase hex HMAC-SHA256 of <c>"{expiry}.{userId}"</c> under the installation's secret
/// (UTF-8 bytes of Actors:Api:VisitorTokenSecret, or else of a secret generated once and kept in PostgreSQL).
/// </summary>
public sealed class VisitorTokens(InstallationSecrets secrets, IConfiguration configuration, TimeProvider clock)
{
    public const string Header = "X-Visitor-Token";
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromHours(1);
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(30);
    private const string SecretId = "visitor-token";

    private readonly SharedSecret _secret = new(secrets, SecretId, configuration["Actors:Api:VisitorTokenSecret"], "Actors:Api:VisitorTokenSecret");

    private Task<byte[]> KeyAsync() => _secret.BytesAsync();

    public static string Sign(byte[] key, string userId, long expiresAtUnix)
    {
        var expiry = expiresAtUnix.ToString(CultureInfo.InvariantCulture);
        var mac = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{expiry}.{userId}"));
        return $"{expiry}.{Convert.ToHexString(mac).ToLowerInvariant()}";
    }

    public async Task<(string Token, DateTimeOffset ExpiresAt)> MintAsync(string userId, TimeSpan lifetime)
    {
        var expiresAt = DateTimeOffset.FromUnixTimeSeconds(clock.GetUtcNow().Add(lifetime).ToUnixTimeSeconds());
        return (Sign(await KeyAsync(), userId, expiresAt.ToUnixTimeSeconds()), expiresAt);
    }

    /// <summary>True when <paramref name="token"/> was signed for this user and has not expired (nor lives implausibly long).</summary>
    public async Task<bool> IsValidAsync(string userId, string? token)
    {
        if (token is null || token.Length > 100) return false;
        var dot = token.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || !long.TryParse(token.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out var expiry)) return false;
        var now = clock.GetUtcNow().ToUnixTimeSeconds();
        if (expiry <= now || expiry > now + (long)MaxLifetime.TotalSeconds) return false;
        var expected = Sign(await KeyAsync(), userId, expiry);
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(token));
    }
}
