using System.Buffers.Binary;
using System.Buffers.Text;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Actors.Channels.Push;

/// <summary>
/// The application server's VAPID key pair (RFC 8292): a P-256 ECDSA key whose public half the browser got as
/// applicationServerKey when it subscribed; push services accept messages for that subscription only when signed with it.
/// </summary>
public sealed class VapidKeyPair
{
    private readonly byte[] _privateKey;

    private VapidKeyPair(byte[] privateKey, byte[] publicKey)
    {
        _privateKey = privateKey;
        PublicKey = publicKey;
        PublicKeyText = Base64Url.EncodeToString(publicKey);
    }

    /// <summary>The uncompressed public point (65 bytes).</summary>
    public byte[] PublicKey { get; }

    /// <summary>The public key in base64url: the browser's applicationServerKey and the "k" of the Authorization header.</summary>
    public string PublicKeyText { get; }

    public static VapidKeyPair Generate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var parameters = key.ExportParameters(includePrivateParameters: true);
        return new VapidKeyPair(LeftPad(parameters.D!), P256.PublicKeyOf(parameters));
    }

    /// <summary>A pair as web-push tools print it (base64url public point and private scalar); refuses halves that do not belong together.</summary>
    public static VapidKeyPair FromBase64Url(string publicKey, string privateKey)
    {
        byte[] publicBytes, privateBytes;
        try
        {
            publicBytes = Base64Url.DecodeFromChars(publicKey.Trim().TrimEnd('='));
            privateBytes = Base64Url.DecodeFromChars(privateKey.Trim().TrimEnd('='));
        }
        catch (FormatException)
        {
            throw new InvalidOperationException("Actors:Push:VapidPublicKey and VapidPrivateKey must be base64url.");
        }
        if (!P256.IsValidPublicKey(publicBytes))
            throw new InvalidOperationException("Actors:Push:VapidPublicKey must be a 65-byte uncompressed P-256 point (base64url).");
        if (privateBytes.Length != P256.PrivateKeyLength)
            throw new InvalidOperationException("Actors:Push:VapidPrivateKey must be a 32-byte P-256 private key (base64url).");
        var pair = FromPrivateKey(privateBytes);
        if (!CryptographicOperations.FixedTimeEquals(pair.PublicKey, publicBytes))
            throw new InvalidOperationException("Actors:Push:VapidPublicKey is not the public half of Actors:Push:VapidPrivateKey.");
        return pair;
    }

    /// <summary>
    /// The pair that follows from an installation secret: every node derives the same key from the same secret, so the
    /// key browsers subscribed with stays valid whichever node sends. HMAC with a counter until the scalar is in range
    /// (the first try succeeds but for a chance of about 2^-32).
    /// </summary>
    public static VapidKeyPair DeriveFrom(string secret)
    {
        var key = Encoding.UTF8.GetBytes(secret);
        Span<byte> input = stackalloc byte[32];
        var label = "actors vapid key "u8;
        label.CopyTo(input);
        for (var counter = 0; ; counter++)
        {
            BinaryPrimitives.WriteInt32BigEndian(input[label.Length..(label.Length + 4)], counter);
            var candidate = HMACSHA256.HashData(key, input[..(label.Length + 4)]);
            var scalar = new BigInteger(candidate, isUnsigned: true, isBigEndian: true);
            if (scalar > 0 && scalar < P256.Order) return FromPrivateKey(candidate);
        }
    }

    private static VapidKeyPair FromPrivateKey(byte[] privateKey)
    {
        // The platform derives the public point from the scalar when Q is left out.
        using var key = ECDsa.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, D = privateKey });
        return new VapidKeyPair(privateKey, P256.PublicKeyOf(key));
    }

    /// <summary>
    /// The JWT (ES256) of RFC 8292 §2: aud = the push service's origin, exp, and sub (a mailto: or https: contact the
    /// push service may use) when given. The signature is the raw r || s (IEEE P1363), as JWS requires.
    /// </summary>
    public string CreateToken(string audience, DateTimeOffset expiresAt, string? subject)
    {
        var header = Base64Url.EncodeToString("""{"typ":"JWT","alg":"ES256"}"""u8);
        var claims = new Dictionary<string, object> { ["aud"] = audience, ["exp"] = expiresAt.ToUnixTimeSeconds() };
        if (subject is not null) claims["sub"] = subject;
        var signingInput = header + "." + Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(claims));
        using var key = ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            D = _privateKey,
            Q = new ECPoint { X = PublicKey[1..33], Y = PublicKey[33..] },
        });
        var signature = key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    /// <summary>The Authorization header value of RFC 8292 §3: "vapid t={jwt}, k={public key}".</summary>
    public string AuthorizationFor(string token) => $"vapid t={token}, k={PublicKeyText}";

    private static byte[] LeftPad(byte[] scalar)
    {
        if (scalar.Length == P256.PrivateKeyLength) return scalar;
        var padded = new byte[P256.PrivateKeyLength];
        scalar.CopyTo(padded, P256.PrivateKeyLength - scalar.Length);
        return padded;
    }
}
