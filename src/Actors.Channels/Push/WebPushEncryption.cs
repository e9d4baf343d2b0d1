using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Actors.Channels.Push;

/// <summary>The keys RFC 8291 derives for one message (exposed so tests can compare with the RFC's intermediate values).</summary>
public sealed record WebPushKeys(byte[] Ikm, byte[] ContentEncryptionKey, byte[] Nonce);

/// <summary>
/// Message encryption for web push (RFC 8291) in the "aes128gcm" content coding (RFC 8188): an ephemeral P-256 key
/// agrees a secret with the browser's subscription key (p256dh), HKDF mixes in the subscription's auth secret, and the
/// payload goes out as a single AES-128-GCM record after a header that carries the salt and our ephemeral public key.
/// </summary>
public static class WebPushEncryption
{
    public const int SaltLength = 16;
    public const int AuthSecretLength = 16;
    public const int TagLength = 16;

    /// <summary>The record size we announce; push services need not accept bodies over 4096 bytes (RFC 8030 §7.2).</summary>
    public const int RecordSize = 4096;

    /// <summary>salt (16) + rs (4) + idlen (1) + keyid (65).</summary>
    public const int HeaderLength = SaltLength + 4 + 1 + P256.PublicKeyLength;

    /// <summary>The largest plaintext that fits one record in a 4096-byte body: 4096 − 86 − 16 − 1 (delimiter) = 3993.</summary>
    public const int MaxPlaintextLength = RecordSize - HeaderLength - TagLength - 1;

    /// <summary>The padding delimiter of the last (here: only) record.</summary>
    private const byte LastRecordDelimiter = 0x02;

    private static readonly byte[] KeyInfoPrefix = Encoding.ASCII.GetBytes("WebPush: info\0");
    private static readonly byte[] CekInfo = Encoding.ASCII.GetBytes("Content-Encoding: aes128gcm\0");
    private static readonly byte[] NonceInfo = Encoding.ASCII.GetBytes("Content-Encoding: nonce\0");

    /// <summary>Encrypts for a subscription with a fresh salt and ephemeral key, as every real message must be.</summary>
    public static byte[] Encrypt(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> userAgentPublicKey, ReadOnlySpan<byte> authSecret)
    {
        using var ephemeral = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        return Encrypt(plaintext, userAgentPublicKey, authSecret, RandomNumberGenerator.GetBytes(SaltLength), ephemeral);
    }

    /// <summary>
    /// Encrypts with a given salt and sender key. Only tests pass these (to reproduce RFC 8291 Appendix A): reusing a
    /// salt or key for two messages would break the encryption's guarantees.
    /// </summary>
    public static byte[] Encrypt(
        ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> userAgentPublicKey, ReadOnlySpan<byte> authSecret, ReadOnlySpan<byte> salt, ECDiffieHellman senderKey)
    {
        if (plaintext.Length > MaxPlaintextLength)
            throw new ArgumentException($"A push payload holds at most {MaxPlaintextLength} bytes; this one has {plaintext.Length}.", nameof(plaintext));
        if (!P256.IsValidPublicKey(userAgentPublicKey))
            throw new ArgumentException("The subscription's p256dh is not an uncompressed P-256 point.", nameof(userAgentPublicKey));
        if (authSecret.Length != AuthSecretLength)
            throw new ArgumentException($"The subscription's auth secret must be {AuthSecretLength} bytes.", nameof(authSecret));
        if (salt.Length != SaltLength) throw new ArgumentException($"The salt must be {SaltLength} bytes.", nameof(salt));

        var senderPublicKey = P256.PublicKeyOf(senderKey);
        byte[] ecdhSecret;
        using (var userAgent = ECDiffieHellman.Create(P256.PublicParameters(userAgentPublicKey)))
            ecdhSecret = senderKey.DeriveRawSecretAgreement(userAgent.PublicKey);

        var keys = DeriveKeys(ecdhSecret, authSecret, userAgentPublicKey, senderPublicKey, salt);
        CryptographicOperations.ZeroMemory(ecdhSecret);

        var body = new byte[HeaderLength + plaintext.Length + 1 + TagLength];
        salt.CopyTo(body);
        BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(SaltLength, 4), RecordSize);
        body[SaltLength + 4] = P256.PublicKeyLength;
        senderPublicKey.CopyTo(body.AsSpan(SaltLength + 5));

        // The record's plaintext is the payload followed by the delimiter (no further padding).
        var record = new byte[plaintext.Length + 1];
        plaintext.CopyTo(record);
        record[^1] = LastRecordDelimiter;
        using (var aes = new AesGcm(keys.ContentEncryptionKey, TagLength))
            aes.Encrypt(keys.Nonce, record, body.AsSpan(HeaderLength, record.Length), body.AsSpan(HeaderLength + record.Length, TagLength));
        CryptographicOperations.ZeroMemory(keys.ContentEncryptionKey);
        return body;
    }

    /// <summary>
    /// RFC 8291 §3.4: IKM = HKDF(salt = auth_secret, ikm = ecdh_secret, info = "WebPush: info\0" || ua_public || as_public, 32),
    /// then RFC 8188 §2.2: CEK = HKDF(salt, IKM, "Content-Encoding: aes128gcm\0", 16), NONCE = HKDF(salt, IKM, "Content-Encoding: nonce\0", 12).
    /// </summary>
    public static WebPushKeys DeriveKeys(
        ReadOnlySpan<byte> ecdhSecret, ReadOnlySpan<byte> authSecret, ReadOnlySpan<byte> userAgentPublicKey, ReadOnlySpan<byte> senderPublicKey, ReadOnlySpan<byte> salt)
    {
        var keyInfo = new byte[KeyInfoPrefix.Length + userAgentPublicKey.Length + senderPublicKey.Length];
        KeyInfoPrefix.CopyTo(keyInfo, 0);
        userAgentPublicKey.CopyTo(keyInfo.AsSpan(KeyInfoPrefix.Length));
        senderPublicKey.CopyTo(keyInfo.AsSpan(KeyInfoPrefix.Length + userAgentPublicKey.Length));

        var ikm = new byte[32];
        HKDF.DeriveKey(HashAlgorithmName.SHA256, ecdhSecret, ikm, authSecret, keyInfo);
        var cek = new byte[16];
        HKDF.DeriveKey(HashAlgorithmName.SHA256, ikm, cek, salt, CekInfo);
        var nonce = new byte[12];
        HKDF.DeriveKey(HashAlgorithmName.SHA256, ikm, nonce, salt, NonceInfo);
        return new WebPushKeys(ikm, cek, nonce);
    }
}
