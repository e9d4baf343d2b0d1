using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Integration.Tests.Support;
using Actors.Silo.Commands;
using Actors.Storage.Access;
using Marten;
using Microsoft.Extensions.DependencyInjection;

namespace Actors.Integration.Tests.Access;

/// <summary>
/// Issue 16, "Security": keys can expire (refused from that moment, cached or not, with a 401 that says so), are shown
/// once (the store and its listing hold only the hash), and are looked up by hash only.
/// </summary>
public class KeyExpiryTests(HostFixture host) : IClassFixture<HostFixture>
{
    private ApiKeyStore Keys => host.Host.App.Services.GetRequiredService<ApiKeyStore>();

    private HttpClient ClientWith(string key)
    {
        var client = host.Client(key: null);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    [Fact]
    public async Task A_key_works_until_its_expiry_and_is_refused_from_then_on_even_while_cached()
    {
        // A starved machine can make an attempt say nothing (the first answer came after the expiry, or the refusal after
        // the cache entry's own end): such an attempt is tried again. A host that ignored expiry on cached keys would be
        // refused only when the entry ends, every time, and fail all three.
        var outcomes = new List<string>();
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            var outcome = await KeyExpiryAttemptAsync();
            if (outcome is null) return;
            outcomes.Add(outcome);
        }
        Assert.Fail("no attempt could show it: " + string.Join("; ", outcomes));
    }

    /// <summary>Null when the key worked until its expiry and was refused after it, before its cache entry ended.</summary>
    private async Task<string?> KeyExpiryAttemptAsync()
    {
        var expiresAt = DateTimeOffset.UtcNow.AddSeconds(3);
        var created = await Keys.CreateAsync("short-lived", ApiScope.Marketing, expiresAt: expiresAt);
        Assert.Equal(expiresAt, created.ExpiresAt);
        var client = ClientWith(created.Key);

        var cachedAt = DateTimeOffset.UtcNow;
        var first = await client.GetAsync("/v1/segments"); // now in the 10 s cache
        if (first.StatusCode != HttpStatusCode.OK && DateTimeOffset.UtcNow >= expiresAt)
            return $"the first answer ({(int)first.StatusCode}) came {DateTimeOffset.UtcNow - cachedAt} after the request, past the expiry";
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);

        HttpResponseMessage refused;
        do
        {
            await Task.Delay(200);
            refused = await client.GetAsync("/v1/segments");
        }
        while (refused.StatusCode == HttpStatusCode.OK && DateTimeOffset.UtcNow < cachedAt.AddSeconds(30));
        var refusedAt = DateTimeOffset.UtcNow;

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("expired", problem.GetProperty("detail").GetString());
        Assert.True(refusedAt >= expiresAt, "refused before its expiry");
        // The cache holds a valid key for 10 s: refused well before that, so expiry is checked on cached entries too.
        return refusedAt < cachedAt.AddSeconds(9) ? null : $"refused only {refusedAt - cachedAt} after it was cached";
    }

    [Fact]
    public async Task A_key_is_listed_with_its_expiry_and_never_with_its_value_and_only_its_hash_is_stored()
    {
        var expiresAt = DateTimeOffset.UtcNow.AddDays(30);
        var created = await Keys.CreateAsync($"listed-{Guid.NewGuid():N}", ApiScope.Ingest, expiresAt: expiresAt);
        var listed = Assert.Single(await Keys.ListAsync(), k => k.Id == created.Id);
        Assert.Equal(expiresAt, listed.ExpiresAt);
        Assert.DoesNotContain(created.Key, JsonSerializer.Serialize(await Keys.ListAsync()));

        // In PostgreSQL: the document is found by the hash, and nowhere is the key itself.
        var store = host.Host.App.Services.GetRequiredService<IDocumentStore>();
        await using var session = store.QuerySession();
        Assert.NotNull(await session.LoadAsync<StoredApiKey>(ApiKeyStore.HashOf(created.Key)));
        await using var connection = new Npgsql.NpgsqlConnection(host.ConnectionString);
        await connection.OpenAsync();
        await using var count = new Npgsql.NpgsqlCommand("select count(*) from actors.mt_doc_storedapikey where data::text like @key", connection);
        count.Parameters.AddWithValue("key", $"%{created.Key}%");
        Assert.Equal(0L, await count.ExecuteScalarAsync());
        await using var total = new Npgsql.NpgsqlCommand("select count(*) from actors.mt_doc_storedapikey", connection);
        Assert.True((long)(await total.ExecuteScalarAsync())! > 0); // the table looked at is the keys' table
    }

    [Fact]
    public async Task A_key_cannot_be_made_already_expired()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Keys.CreateAsync("past", ApiScope.Ingest, expiresAt: DateTimeOffset.UtcNow.AddSeconds(-1)));
    }

    [Fact]
    public void The_expires_option_takes_spans_and_dates()
    {
        var now = new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
        Assert.Null(AdminCommands.ExpiryFrom(null, now));
        Assert.Equal(now.AddDays(30), AdminCommands.ExpiryFrom("30d", now));
        Assert.Equal(now.AddHours(12), AdminCommands.ExpiryFrom("12h", now));
        Assert.Equal(now.AddMinutes(90), AdminCommands.ExpiryFrom("90m", now));
        Assert.Equal(new DateTimeOffset(2027, 1, 31, 0, 0, 0, TimeSpan.Zero), AdminCommands.ExpiryFrom("2027-01-31", now));
        foreach (var bad in new[] { "0d", "-3d", "30x", "d", "abc", "2020-01-01", "99999999d" })
            Assert.Throws<ArgumentException>(() => AdminCommands.ExpiryFrom(bad, now));
    }
}
