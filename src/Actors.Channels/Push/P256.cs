using System.Numerics;
using System.Security.Cryptography;

namespace Actors.Channels.Push;

/// <summary>
/// The NIST P-256 curve as web push uses it: public keys as 65-byte uncompressed points (0x04 || X || Y), private keys
/// as 32-byte scalars, both base64url on the wire.
/// </summary>
public static class P256
{
    public const int PublicKeyLength = 65;
    public const int PrivateKeyLength = 32;

    private static readonly BigInteger Prime = Parse("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");
    private static readonly BigInteger B = Parse("5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b");

    /// <summary>The order of the curve's group: a private key is a scalar in [1, Order - 1].</summary>
    public static readonly BigInteger Order = Parse("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");

    /// <summary>
    /// Whether <paramref name="point"/> is an uncompressed point on the curve. Checked here, not left to the crypto
    /// library's import, because a point off the curve is a known way to leak an ECDH private key (invalid-curve attack)
    /// and the check must not depend on the platform.
    /// </summary>
    public static bool IsValidPublicKey(ReadOnlySpan<byte> point)
    {
        if (point.Length != PublicKeyLength || point[0] != 0x04) return false;
        var x = new BigInteger(point[1..33], isUnsigned: true, isBigEndian: true);
        var y = new BigInteger(point[33..], isUnsigned: true, isBigEndian: true);
        if (x >= Prime || y >= Prime) return false;
        var left = BigInteger.ModPow(y, 2, Prime);
        var right = (BigInteger.ModPow(x, 3, Prime) - 3 * x + B) % Prime;
        if (right < 0) right += Prime;
        return left == right;
    }

    public static ECParameters PublicParameters(ReadOnlySpan<byte> point) => new()
    {
        Curve = ECCurve.NamedCurves.nistP256,
        Q = new ECPoint { X = point[1..33].ToArray(), Y = point[33..].ToArray() },
    };

    /// <summary>The uncompressed point of a key's public half.</summary>
    public static byte[] PublicKeyOf(ECParameters parameters)
    {
        var point = new byte[PublicKeyLength];
        point[0] = 0x04;
        // X and Y are 32 bytes for P-256; left-pad defensively should a platform trim leading zeros.
        parameters.Q.X!.CopyTo(point.AsSpan(1 + 32 - parameters.Q.X!.Length));
        parameters.Q.Y!.CopyTo(point.AsSpan(33 + 32 - parameters.Q.Y!.Length));
        return point;
    }

    public static byte[] PublicKeyOf(ECDiffieHellman key) => PublicKeyOf(key.ExportParameters(includePrivateParameters: false));

    public static byte[] PublicKeyOf(ECDsa key) => PublicKeyOf(key.ExportParameters(includePrivateParameters: false));

    private static BigInteger Parse(string hex) => new(Convert.FromHexString(hex), isUnsigned: true, isBigEndian: true);
}
