using System.Security.Cryptography;
using System.Text;
using Actors.Api.Access;
using Actors.Storage.Access;
using Microsoft.AspNetCore.Http;

namespace Actors.Integration.Tests.Access;

/// <summary>
/// The key a request carries, and its hash, read on every request without intermediate arrays: each must give exactly
/// what the plain string code gave, for odd and hostile input too (a stored hash that changed would lock every key out).
/// </summary>
public class ApiKeyReadingTests
{
    private static string PlainHash(string key) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key))).ToLowerInvariant();

    public static TheoryData<string> Keys => new()
    {
        "ak_ingest_0123456789abcdef0123456789abcdef01234567",
        "",
        "clé-ünïcødé-名前-🔑",
        "lone \ud800 surrogate",
        "nul\0inside",
        new string('k', 10_000), // past the stack buffer: the pooled path
        new string('é', 300),    // 600 UTF-8 bytes from 300 characters
    };

    [Theory, MemberData(nameof(Keys))]
    public void The_hash_is_the_sha256_hex_it_always_was(string key) => Assert.Equal(PlainHash(key), ApiKeyStore.HashOf(key));

    private static HttpRequest Request(params (string Name, string Value)[] headers)
    {
        var http = new DefaultHttpContext();
        foreach (var (name, value) in headers) http.Request.Headers[name] = value;
        return http.Request;
    }

    private static string Basic(string credentials) => "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials));

    [Fact]
    public void Basic_credentials_give_their_user_name_whatever_their_shape()
    {
        Assert.Equal("writekey", ApiKeyAuth.KeyFrom(Request(("Authorization", Basic("writekey:")))));
        Assert.Equal("writekey", ApiKeyAuth.KeyFrom(Request(("Authorization", Basic("writekey:secret:with:colons")))));
        Assert.Equal("writekey", ApiKeyAuth.KeyFrom(Request(("Authorization", Basic("writekey")))));
        Assert.Equal("clé-名前", ApiKeyAuth.KeyFrom(Request(("Authorization", Basic("clé-名前:x")))));
        var longKey = new string('k', 10_000);
        Assert.Equal(longKey, ApiKeyAuth.KeyFrom(Request(("Authorization", Basic(longKey + ":")))));
        // Lower-case scheme, padding spaces, and whitespace inside the base64 (which the decoder skips, as before).
        var encoded = Convert.ToBase64String(Encoding.UTF8.GetBytes("writekey:"));
        Assert.Equal("writekey", ApiKeyAuth.KeyFrom(Request(("Authorization", "basic   " + encoded[..4] + " " + encoded[4..] + "  "))));
    }

    [Fact]
    public void Basic_credentials_without_a_user_or_not_base64_are_no_key()
    {
        Assert.Null(ApiKeyAuth.KeyFrom(Request(("Authorization", Basic(":secret")))));
        Assert.Null(ApiKeyAuth.KeyFrom(Request(("Authorization", Basic("")))));
        Assert.Null(ApiKeyAuth.KeyFrom(Request(("Authorization", "Basic not*base64!"))));
        Assert.Null(ApiKeyAuth.KeyFrom(Request(("Authorization", "Basic abc")))); // cut base64
        Assert.Null(ApiKeyAuth.KeyFrom(Request(("Authorization", "Basic "))));
        // Invalid UTF-8 in the user name is replaced, as the string decoder did, not thrown.
        var invalid = "Basic " + Convert.ToBase64String([0xff, 0xfe, (byte)'k', (byte)':', (byte)'p']);
        Assert.Equal("\ufffd\ufffdk", ApiKeyAuth.KeyFrom(Request(("Authorization", invalid))));
    }

    [Fact]
    public void Bearer_and_header_keys_are_read_as_before()
    {
        Assert.Equal("token-1", ApiKeyAuth.KeyFrom(Request(("Authorization", "Bearer   token-1  "))));
        Assert.Null(ApiKeyAuth.KeyFrom(Request(("Authorization", "Bearer    "))));
        Assert.Equal("header-key", ApiKeyAuth.KeyFrom(Request(("X-Api-Key", "header-key"), ("Authorization", Basic("other:")))));
        Assert.Null(ApiKeyAuth.KeyFrom(Request(("Authorization", "Digest abc"))));
        Assert.Null(ApiKeyAuth.KeyFrom(Request()));
    }
}
