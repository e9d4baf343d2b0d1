using System.Buffers.Binary;
using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Actors.Channels.Delivery;
using Actors.Domain.Channels;
using Actors.Domain.Profiles;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Actors.Integration.Tests.Channels;

/// <summary>
/// A browser's side of a push subscription: its P-256 key pair and auth secret, and the decryption a browser does,
/// written here from RFC 8291 / RFC 8188 with plain HMAC-SHA256 (not the product's HKDF code), so a shared mistake
/// cannot hide.
/// </summary>
public sealed class TestBrowser : IDisposable
{
    private readonly ECDiffieHellman _key;

    public TestBrowser() : this(ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256), RandomNumberGenerator.GetBytes(16)) { }

    public TestBrowser(ECDiffieHellman key, byte[] auth)
    {
        _key = key;
        Auth = auth;
        var q = key.ExportParameters(false).Q;
        PublicKey = [0x04, .. q.X!, .. q.Y!];
    }

    /// <summary>The RFC 8291 Appendix A user agent (its private key is in the RFC).</summary>
    public static TestBrowser FromRfcExample(string publicKey, string privateKey, string auth)
    {
        var pub = Base64Url.DecodeFromChars(publicKey);
        var key = ECDiffieHellman.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            D = Base64Url.DecodeFromChars(privateKey),
            Q = new ECPoint { X = pub[1..33], Y = pub[33..] },
        });
        return new TestBrowser(key, Base64Url.DecodeFromChars(auth));
    }

    public byte[] PublicKey { get; }
    public byte[] Auth { get; }
    public string P256dh => Base64Url.EncodeToString(PublicKey);
    public string AuthText => Base64Url.EncodeToString(Auth);

    public PushSubscription SubscriptionAt(string endpoint) => new(endpoint, P256dh, AuthText, DateTimeOffset.UtcNow);

    /// <summary>Decrypts an aes128gcm body of one record; throws when anything does not check out.</summary>
    public byte[] Decrypt(byte[] body)
    {
        if (body.Length < 21) throw new InvalidDataException("body shorter than the header");
        var salt = body[..16];
        var recordSize = BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(16, 4));
        int idLength = body[20];
        if (idLength != 65) throw new InvalidDataException($"keyid of {idLength} bytes, expected the sender's 65-byte key");
        var senderPublic = body[21..(21 + idLength)];
        var record = body[(21 + idLength)..];
        if (record.Length > recordSize || record.Length < 17) throw new InvalidDataException("record does not fit the announced record size");

        using var sender = ECDiffieHellman.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = senderPublic[1..33], Y = senderPublic[33..] },
        });
        var ecdhSecret = _key.DeriveRawSecretAgreement(sender.PublicKey);
        // RFC 8291 §3.3-3.4, HKDF spelt out as HMACs.
        var prkKey = HMACSHA256.HashData(Auth, ecdhSecret);
        var keyInfo = Concat(Encoding.ASCII.GetBytes("WebPush: info\0"), PublicKey, senderPublic, [0x01]);
        var ikm = HMACSHA256.HashData(prkKey, keyInfo);
        var prk = HMACSHA256.HashData(salt, ikm);
        var cek = HMACSHA256.HashData(prk, Concat(Encoding.ASCII.GetBytes("Content-Encoding: aes128gcm\0"), [0x01]))[..16];
        var nonce = HMACSHA256.HashData(prk, Concat(Encoding.ASCII.GetBytes("Content-Encoding: nonce\0"), [0x01]))[..12];

        var plain = new byte[record.Length - 16];
        using (var aes = new AesGcm(cek, 16))
            aes.Decrypt(nonce, record.AsSpan(0, plain.Length), record.AsSpan(plain.Length), plain);
        // RFC 8188 §2: padding is zeros after a delimiter; the last record's delimiter is 2.
        var end = plain.Length - 1;
        while (end >= 0 && plain[end] == 0) end--;
        if (end < 0 || plain[end] != 0x02) throw new InvalidDataException("no last-record delimiter");
        return plain[..end];
    }

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];

    public void Dispose() => _key.Dispose();
}

/// <summary>What the local push service made of one request.</summary>
/// <param name="VapidError">Why the VAPID Authorization was refused, or null when it verified.</param>
public sealed record ReceivedPush(
    string SubscriptionId, IReadOnlyDictionary<string, string> Headers, string? VapidError, string? VapidKey, JsonElement? Claims, string? Payload, string? DecryptError);

/// <summary>
/// A push service on a loopback port (Kestrel): POST /push/{id} verifies the VAPID JWT with the "k" key it carries and
/// its audience, decrypts the body as the browser registered for {id} would, and records everything. An id can be
/// told to answer with another status (410 Gone, 429 …).
/// </summary>
public sealed class LocalPushService : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, TestBrowser> _browsers = new();
    private readonly ConcurrentDictionary<string, (int Status, string? RetryAfter)> _answers = new();

    public ConcurrentQueue<ReceivedPush> Received { get; } = new();
    public string BaseUrl { get; private set; } = "";
    public string? ExpectedSubject { get; set; }

    private LocalPushService(WebApplication app) => _app = app;

    public static async Task<LocalPushService> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var service = new LocalPushService(builder.Build());
        service._app.MapPost("/push/{id}", service.HandleAsync);
        await service._app.StartAsync();
        service.BaseUrl = service._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return service;
    }

    /// <summary>A new browser subscribed at this service; its endpoint is {BaseUrl}/push/{id}.</summary>
    public (TestBrowser Browser, PushSubscription Subscription) Subscribe(string id, int status = 201, string? retryAfter = null)
    {
        var browser = new TestBrowser();
        _browsers[id] = browser;
        _answers[id] = (status, retryAfter);
        return (browser, browser.SubscriptionAt(EndpointFor(id)));
    }

    public void Register(string id, TestBrowser browser) => _browsers[id] = browser;

    public string EndpointFor(string id) => $"{BaseUrl}/push/{id}";

    private async Task<IResult> HandleAsync(string id, HttpRequest request)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer);
        var body = buffer.ToArray();
        var headers = request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);

        var (vapidError, key, claims) = VerifyVapid(request.Headers.Authorization.ToString());
        string? payload = null, decryptError = null;
        if (!_browsers.TryGetValue(id, out var browser)) decryptError = "no browser registered";
        else
        {
            try
            {
                payload = Encoding.UTF8.GetString(browser.Decrypt(body));
            }
            catch (Exception e) when (e is CryptographicException or InvalidDataException)
            {
                decryptError = e.Message;
            }
        }
        Received.Enqueue(new ReceivedPush(id, headers, vapidError, key, claims, payload, decryptError));

        if (vapidError is not null) return Results.StatusCode(403); // as push services answer a bad VAPID signature
        var (status, retryAfter) = _answers.GetValueOrDefault(id, (201, null));
        if (retryAfter is not null) request.HttpContext.Response.Headers.RetryAfter = retryAfter;
        if (status == 201) request.HttpContext.Response.Headers.Location = $"{BaseUrl}/message/{Guid.NewGuid():N}";
        return Results.StatusCode(status);
    }

    /// <summary>RFC 8292: "vapid t={JWT}, k={key}"; the JWT is ES256 over the key k, for our origin, expiring within 24 h.</summary>
    private (string? Error, string? Key, JsonElement? Claims) VerifyVapid(string authorization)
    {
        if (!authorization.StartsWith("vapid ", StringComparison.Ordinal)) return ("not a vapid Authorization", null, null);
        var parameters = authorization["vapid ".Length..].Split(',', StringSplitOptions.TrimEntries)
            .Select(p => p.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
        if (!parameters.TryGetValue("t", out var token) || !parameters.TryGetValue("k", out var k)) return ("t or k missing", null, null);
        var parts = token.Split('.');
        if (parts.Length != 3) return ("not a JWT", k, null);
        var header = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0])).RootElement;
        if (header.GetProperty("alg").GetString() != "ES256") return ("alg is not ES256", k, null);
        var point = Base64Url.DecodeFromChars(k);
        if (point.Length != 65 || point[0] != 4) return ("k is not an uncompressed P-256 point", k, null);
        using var ecdsa = ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = point[1..33], Y = point[33..] },
        });
        var signature = Base64Url.DecodeFromChars(parts[2]);
        if (!ecdsa.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
            return ("signature does not verify with k", k, null);
        var claims = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1])).RootElement.Clone();
        if (claims.GetProperty("aud").GetString() != BaseUrl) return ($"aud {claims.GetProperty("aud")} is not {BaseUrl}", k, claims);
        var exp = DateTimeOffset.FromUnixTimeSeconds(claims.GetProperty("exp").GetInt64());
        if (exp <= DateTimeOffset.UtcNow || exp > DateTimeOffset.UtcNow.AddHours(24)) return ($"exp {exp} is not within the next 24 h", k, claims);
        if (ExpectedSubject is not null && (!claims.TryGetProperty("sub", out var sub) || sub.GetString() != ExpectedSubject))
            return ("sub is not the configured subject", k, claims);
        return (null, k, claims);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        foreach (var browser in _browsers.Values) browser.Dispose();
    }
}

/// <summary>Stands in for the template renderer (built elsewhere): a fixed title, body and link per message.</summary>
public sealed class TestRenderer(Func<OutboundMessage, RenderedMessage> render) : IMessageRenderer
{
    public static TestRenderer Fixed(string? subject, string? text, string? url = null) => new(_ => new RenderedMessage(subject, null, text, url));

    public Task<RenderedMessage> RenderAsync(OutboundMessage message, CancellationToken ct) => Task.FromResult(render(message));
}

public static class TestMessages
{
    public static OutboundMessage For(string channel, IReadOnlyList<PushSubscription>? push = null, string? phone = null, string? messageKey = null) =>
        new(messageKey ?? $"anon:v|j1|1|s1|{Guid.NewGuid():N}", "anon:v", channel, "welcome", null, null, "marketing", "j1", 1, "s1", DateTimeOffset.UtcNow,
            new MessageRecipient("anon:v", null, null, phone, "anonymous", new Dictionary<string, string>(), [], [], push ?? [], null));
}
