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

    public Task<string> SignAsync(LinkPurpose purpose, string profileId, string? messageKey = null, string? channel = null, string? url = null, TimeSpan? lifetime = null,
        string? journeyId = null, string? stepId = null) =>
        SignAsync("", purpose, profileId, messageKey, channel, url, lifetime, journeyId, stepId);

    /// <summary>
    /// <paramref name="prefix"/> followed by the token, made as one string: an email carries four or more links, and
    /// the intermediate strings (the payload, its bytes, the signature's text, the joined token) were a fifth of what
    /// signing one allocated.
    /// </summary>
    public async Task<string> SignAsync(string prefix, LinkPurpose purpose, string profileId, string? messageKey = null, string? channel = null, string? url = null,
        TimeSpan? lifetime = null, string? journeyId = null, string? stepId = null)
    {
        var key = await KeyAsync();
        var expires = DateTimeOffset.FromUnixTimeSeconds(clock.GetUtcNow().Add(lifetime ?? DefaultLifetime).ToUnixTimeSeconds());
        var body = JsonSerializer.SerializeToUtf8Bytes(new Wire(NameOf(purpose), profileId, messageKey, channel, url, expires.ToUnixTimeSeconds(), journeyId, stepId), WireJson);
        var payloadLength = Base64Url.GetEncodedLength(body.Length);
        // The payload's text, then its signature, in one rented buffer.
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(payloadLength + HMACSHA256.HashSizeInBytes);
        try
        {
            Base64Url.EncodeToUtf8(body, buffer);
            HMACSHA256.HashData(key, buffer.AsSpan(0, payloadLength), buffer.AsSpan(payloadLength, HMACSHA256.HashSizeInBytes));
            var length = prefix.Length + payloadLength + 1 + Base64Url.GetEncodedLength(HMACSHA256.HashSizeInBytes);
            return string.Create(length, (prefix, buffer, payloadLength), static (chars, state) =>
            {
                state.prefix.CopyTo(chars);
                var at = state.prefix.Length;
                at += Encoding.ASCII.GetChars(state.buffer.AsSpan(0, state.payloadLength), chars[at..]);
                chars[at++] = '.';
                Base64Url.EncodeToChars(state.buffer.AsSpan(state.payloadLength, HMACSHA256.HashSizeInBytes), chars[at..]);
            });
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static string NameOf(LinkPurpose purpose) => purpose switch
    {
        LinkPurpose.Open => "open",
        LinkPurpose.Click => "click",
        LinkPurpose.Unsubscribe => "unsubscribe",
        LinkPurpose.Preferences => "preferences",
        _ => purpose.ToString().ToLowerInvariant(),
    };

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
        if (wire is null || wire.p != NameOf(purpose) || string.IsNullOrEmpty(wire.v)) return null;
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
