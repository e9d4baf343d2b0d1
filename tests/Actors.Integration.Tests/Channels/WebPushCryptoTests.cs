using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Actors.Channels.Push;

namespace Actors.Integration.Tests.Channels;

/// <summary>The web push crypto on its own: RFC 8291's worked example byte for byte, browser-side decryption, VAPID tokens and keys.</summary>
public class WebPushCryptoTests
{
    // RFC 8291 Appendix A.
    private const string Plaintext = "When I grow up, I want to be a watermelon";
    private const string AsPublic = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
    private const string AsPrivate = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
    private const string UaPublic = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    private const string UaPrivate = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
    private const string Salt = "DGv6ra1nlYgDCS1FRnbzlw";
    private const string AuthSecret = "BTBZMqHH6r4Tts7J_aSIgg";
    private const string EcdhSecret = "kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs";
    private const string Ikm = "S4lYMb_L0FxCeq0WhDx813KgSYqU26kOyzWUdsXYyrg";
    private const string Cek = "oIhVW04MRdy2XN9CiKLxTg";
    private const string Nonce = "4h_95klXJ5E_qnoN";
    private const string Body =
        "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml" +
        "mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT" +
        "pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";

    private static byte[] B(string base64Url) => Base64Url.DecodeFromChars(base64Url);

    private static ECDiffieHellman RfcSenderKey()
    {
        var pub = B(AsPublic);
        return ECDiffieHellman.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            D = B(AsPrivate),
            Q = new ECPoint { X = pub[1..33], Y = pub[33..] },
        });
    }

    [Fact]
    public void The_RFC_8291_example_is_reproduced_byte_for_byte()
    {
        using var sender = RfcSenderKey();
        var body = WebPushEncryption.Encrypt(Encoding.UTF8.GetBytes(Plaintext), B(UaPublic), B(AuthSecret), B(Salt), sender);
        Assert.Equal(Body, Base64Url.EncodeToString(body));
        Assert.Equal(WebPushEncryption.HeaderLength + Plaintext.Length + 1 + 16, body.Length);
    }

    [Fact]
    public void The_RFC_8291_intermediate_keys_are_reproduced()
    {
        var keys = WebPushEncryption.DeriveKeys(B(EcdhSecret), B(AuthSecret), B(UaPublic), B(AsPublic), B(Salt));
        Assert.Equal(Ikm, Base64Url.EncodeToString(keys.Ikm));
        Assert.Equal(Cek, Base64Url.EncodeToString(keys.ContentEncryptionKey));
        Assert.Equal(Nonce, Base64Url.EncodeToString(keys.Nonce));
    }

    [Fact]
    public void The_test_browser_decrypts_the_RFC_example_so_it_is_a_fair_judge()
    {
        using var browser = TestBrowser.FromRfcExample(UaPublic, UaPrivate, AuthSecret);
        Assert.Equal(Plaintext, Encoding.UTF8.GetString(browser.Decrypt(B(Body))));
        var tampered = B(Body);
        tampered[^20] ^= 1;
        Assert.ThrowsAny<CryptographicException>(() => browser.Decrypt(tampered));
    }

    [Fact]
    public void A_browser_decrypts_what_we_encrypt_for_its_subscription_and_every_message_has_fresh_keys()
    {
        using var browser = new TestBrowser();
        var payload = Encoding.UTF8.GetBytes("""{"title":"Your cart misses you","body":"Ünïcode ✓"}""");
        var first = WebPushEncryption.Encrypt(payload, browser.PublicKey, browser.Auth);
        var second = WebPushEncryption.Encrypt(payload, browser.PublicKey, browser.Auth);
        Assert.Equal(payload, browser.Decrypt(first));
        Assert.Equal(payload, browser.Decrypt(second));
        Assert.NotEqual(first[..16], second[..16]); // salt
        Assert.NotEqual(first[21..86], second[21..86]); // ephemeral key

        // Another browser's keys do not open it.
        using var other = new TestBrowser();
        Assert.ThrowsAny<CryptographicException>(() => other.Decrypt(first));
    }

    [Fact]
    public void The_largest_payload_fits_a_4096_byte_body_and_a_larger_one_is_refused()
    {
        using var browser = new TestBrowser();
        var largest = new byte[WebPushEncryption.MaxPlaintextLength];
        RandomNumberGenerator.Fill(largest);
        var body = WebPushEncryption.Encrypt(largest, browser.PublicKey, browser.Auth);
        Assert.Equal(4096, body.Length);
        Assert.Equal(largest, browser.Decrypt(body));
        Assert.Throws<ArgumentException>(() => WebPushEncryption.Encrypt(new byte[WebPushEncryption.MaxPlaintextLength + 1], browser.PublicKey, browser.Auth));
    }

    [Fact]
    public void Points_off_the_curve_are_not_public_keys()
    {
        Assert.True(P256.IsValidPublicKey(B(UaPublic)));
        Assert.True(P256.IsValidPublicKey(B(AsPublic)));
        var offCurve = B(UaPublic);
        offCurve[64] ^= 1;
        Assert.False(P256.IsValidPublicKey(offCurve));
        var compressed = B(UaPublic)[..33];
        compressed[0] = 0x02;
        Assert.False(P256.IsValidPublicKey(compressed));
        var wrongPrefix = B(UaPublic);
        wrongPrefix[0] = 0x05;
        Assert.False(P256.IsValidPublicKey(wrongPrefix));
        Assert.False(P256.IsValidPublicKey(new byte[65])); // the point at infinity is no key
        using var browser = new TestBrowser();
        Assert.Throws<ArgumentException>(() => WebPushEncryption.Encrypt([1, 2, 3], offCurve, browser.Auth));
    }

    [Fact]
    public void A_VAPID_token_is_an_ES256_JWT_for_the_origin_that_verifies_with_the_public_key()
    {
        var pair = VapidKeyPair.Generate();
        var expires = DateTimeOffset.UtcNow.AddHours(12);
        var token = pair.CreateToken("https://push.example.net", expires, "mailto:ops@shop.example");
        var parts = token.Split('.');
        Assert.Equal(3, parts.Length);
        Assert.Equal("ES256", JsonDocument.Parse(B(parts[0])).RootElement.GetProperty("alg").GetString());
        var claims = JsonDocument.Parse(B(parts[1])).RootElement;
        Assert.Equal("https://push.example.net", claims.GetProperty("aud").GetString());
        Assert.Equal(expires.ToUnixTimeSeconds(), claims.GetProperty("exp").GetInt64());
        Assert.Equal("mailto:ops@shop.example", claims.GetProperty("sub").GetString());

        using var verifier = ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = pair.PublicKey[1..33], Y = pair.PublicKey[33..] },
        });
        var signature = B(parts[2]);
        Assert.Equal(64, signature.Length); // r || s, not DER
        Assert.True(verifier.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
        Assert.False(verifier.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1] + "x"), signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
        Assert.Equal($"vapid t={token}, k={pair.PublicKeyText}", pair.AuthorizationFor(token));
    }

    [Fact]
    public void VAPID_keys_from_a_secret_are_the_same_on_every_node_and_configured_halves_must_match()
    {
        var secret = Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).ToLowerInvariant();
        var one = VapidKeyPair.DeriveFrom(secret);
        var two = VapidKeyPair.DeriveFrom(secret);
        Assert.Equal(one.PublicKeyText, two.PublicKeyText);
        Assert.True(P256.IsValidPublicKey(one.PublicKey));
        Assert.NotEqual(one.PublicKeyText, VapidKeyPair.DeriveFrom(secret + "0").PublicKeyText);

        // A token one node signs verifies with the key the other node hands out.
        var token = one.CreateToken("https://push.example.net", DateTimeOffset.UtcNow.AddHours(1), null);
        var parts = token.Split('.');
        using var verifier = ECDsa.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, Q = new ECPoint { X = two.PublicKey[1..33], Y = two.PublicKey[33..] } });
        Assert.True(verifier.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), B(parts[2]), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
        Assert.False(JsonDocument.Parse(B(parts[1])).RootElement.TryGetProperty("sub", out _));

        // The RFC's sender key as web-push tools print it: accepted; with someone else's public half: refused.
        Assert.Equal(AsPublic, VapidKeyPair.FromBase64Url(AsPublic, AsPrivate).PublicKeyText);
        Assert.Throws<InvalidOperationException>(() => VapidKeyPair.FromBase64Url(UaPublic, AsPrivate));
        Assert.Throws<InvalidOperationException>(() => VapidKeyPair.FromBase64Url(AsPublic, "not base64url!"));
        Assert.Throws<InvalidOperationException>(() => new PushSettings { VapidPublicKey = AsPublic }.Validate());
        Assert.Throws<InvalidOperationException>(() => new PushSettings { Subject = "ops@shop.example" }.Validate());
    }

    [Theory]
    [InlineData("https://fcm.googleapis.com/fcm/send/abc", false, null)]
    [InlineData("http://fcm.googleapis.com/fcm/send/abc", false, "must be an https URL")]
    [InlineData("http://127.0.0.1:5000/push/1", true, null)]
    [InlineData("https://127.0.0.1/push", false, "must not be a private, loopback or link-local address")]
    [InlineData("https://[::1]/push", false, "must not be a private, loopback or link-local address")]
    [InlineData("https://169.254.169.254/push", false, "must not be a private, loopback or link-local address")] // cloud metadata
    [InlineData("https://[64:ff9b::a00:1]/push", false, "must not be a private, loopback or link-local address")] // NAT64 of 10.0.0.1
    [InlineData("https://localhost/push", false, "must not be a private, loopback or link-local address")]
    [InlineData("https://user:pw@push.example.net/x", false, "must not carry user information")]
    [InlineData("ftp://push.example.net/x", false, "must be an absolute https URL")]
    [InlineData("/relative", false, "must be an absolute https URL")]
    public void Endpoints_are_https_to_public_hosts(string endpoint, bool allowInsecure, string? problem) =>
        Assert.Equal(problem, PushEndpoints.Problem(endpoint, allowInsecure));
}
