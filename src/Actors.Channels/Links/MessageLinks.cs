using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Actors.Storage.Access;
using Microsoft.Extensions.Configuration;

namespace Actors.Channels.Links;

/// <summary>What a signed link lets its holder do, and nothing else.</summary>
public enum LinkPurpose
{
    /// <summary>The tracking pixel of one email: records an open.</summary>
    Open,

    /// <summary>A tracked link of one message: records a click and redirects to <see cref="LinkClaims.Url"/>.</summary>
    Click,

    /// <summary>The unsubscribe landing and the RFC 8058 one-click POST for one visitor.</summary>
    Unsubscribe,

    /// <summary>The preference centre of one visitor.</summary>
    Preferences,
}

/// <param name="ProfileId">The visitor the link was made for.</param>
/// <param name="MessageKey">The message it came in (null for a link made outside a message).</param>
/// <param name="Channel">The channel of that message (email, sms, push).</param>
/// <param name="Url">The destination of a click link.</param>
/// <param name="ExpiresAt">After this the link is refused.</param>
/// <param name="JourneyId">The journey and step that sent the message, so reactions count in its figures.</param>
public sealed record LinkClaims(LinkPurpose Purpose, string ProfileId, string? MessageKey, string? Channel, string? Url, DateTimeOffset ExpiresAt,
    string? JourneyId = null, string? StepId = null);

/// <summary>
/// Signed, expiring links for visitors who are not logged in: a token is base64url(JSON claims) + "." +
/// base64url(HMAC-SHA256 of that text) under the installation's secret (Actors:Channels:LinkSecret, or a secret made
/// once and kept in PostgreSQL). Nothing in the token is secret, but nothing in it can be changed.
/// </summary>
public sealed class MessageLinks(InstallationSecrets secrets, IConfiguration configuration, TimeProvider clock)
{
    private const string SecretId = "message-links";

    /// <summary>How long links in a message stay valid (unsubscribe must keep working long after the send).</summary>
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromDays(180);

    public const int MaxTokenLength = 8_192;

    private readonly SharedSecret _secret = new(secrets, SecretId, configuration["Actors:Channels:LinkSecret"], "Actors:Channels:LinkSecret");

    private Task<byte[]> KeyAsync() => _secret.BytesAsync();

    public async Task<string> SignAsync(LinkPurpose purpose, string profileId, string? messageKey = null, string? channel = null, string? url = null, TimeSpan? lifetime = null,
        string? journeyId = null, string? stepId = null)
    {
        var expires = DateTimeOffset.FromUnixTimeSeconds(clock.GetUtcNow().Add(lifetime ?? DefaultLifetime).ToUnixTimeSeconds());
        var body = JsonSerializer.SerializeToUtf8Bytes(new Wire(purpose.ToString().ToLowerInvariant(), profileId, messageKey, channel, url, expires.ToUnixTimeSeconds(), journeyId, stepId), WireJson);
        var payload = Base64Url.EncodeToString(body);
        return payload + "." + Base64Url.EncodeToString(HMACSHA256.HashData(await KeyAsync(), Encoding.ASCII.GetBytes(payload)));
    }

    /// <summary>The claims of a genuine, unexpired token made for <paramref name="purpose"/>; null for anything else.</summary>
    public async Task<LinkClaims?> ReadAsync(string? token, LinkPurpose purpose)
    {
        if (token is null || token.Length > MaxTokenLength) return null;
        var dot = token.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || dot == token.Length - 1) return null;
        var payload = token[..dot];
        byte[] signature, body;
        try
        {
            signature = Base64Url.DecodeFromChars(token.AsSpan(dot + 1));
            body = Base64Url.DecodeFromChars(payload);
        }
        catch (FormatException)
        {
            return null;
        }
        var expected = HMACSHA256.HashData(await KeyAsync(), Encoding.ASCII.GetBytes(payload));
        if (!CryptographicOperations.FixedTimeEquals(expected, signature)) return null;
        Wire? wire;
        try
        {
            wire = JsonSerializer.Deserialize<Wire>(body);
        }
        catch (JsonException)
        {
            return null;
        }
        if (wire is null || wire.p != purpose.ToString().ToLowerInvariant() || string.IsNullOrEmpty(wire.v)) return null;
        var expiresAt = DateTimeOffset.FromUnixTimeSeconds(wire.e);
        if (expiresAt <= clock.GetUtcNow()) return null;
        return new LinkClaims(purpose, wire.v, wire.m, wire.c, wire.u, expiresAt, wire.j, wire.s);
    }

    // Short names keep links short: they end up in every email.
#pragma warning disable IDE1006
    private sealed record Wire(string p, string v, string? m, string? c, string? u, long e, string? j = null, string? s = null);

    private static readonly JsonSerializerOptions WireJson = new() { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };
#pragma warning restore IDE1006
}
