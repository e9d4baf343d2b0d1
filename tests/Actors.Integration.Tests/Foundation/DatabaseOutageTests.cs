using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Integration.Tests.Support;
using Actors.Silo.Hosting;
using Actors.Storage.Postgres;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Actors.Integration.Tests.Foundation;

/// <summary>The host's PostgreSQL goes away under it and comes back: ingest answers 503 meanwhile, and loses nothing.</summary>
public class DatabaseOutageTests
{
    private const string Key = "outage-admin-key-0123456789";

    private static Task<(ActorsHost Host, HttpClient Client)> StartAsync(string dataFolder) => OwnServerHost.StartAsync(dataFolder, Key);

    private static object Event(string messageId) =>
        new { @event = "Product Viewed", messageId, properties = new { sku = messageId, price = 10 } };

    private static object Batch(string anonymousId, string messageId) =>
        new { batch = new[] { new { type = "track", anonymousId, @event = "Product Viewed", messageId, properties = new { sku = messageId } } } };

    private static async Task AssertUnavailableAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)response.StatusCode}: {body}");
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.True(response.Headers.RetryAfter!.Delta > TimeSpan.Zero);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(body);
        Assert.Equal(503, problem.RootElement.GetProperty("status").GetInt32());
    }

    /// <summary>Sends until the host answers something other than 503 (pools and the silo find the server again).</summary>
    private static async Task<HttpResponseMessage> SendUntilAvailableAsync(Func<Task<HttpResponseMessage>> send)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var response = await send();
            if (response.StatusCode != HttpStatusCode.ServiceUnavailable || DateTime.UtcNow > deadline) return response;
            await Task.Delay(500);
        }
    }

    [Fact]
    public async Task Ingest_answers_503_with_Retry_After_while_the_database_is_away_and_stores_the_retries_when_it_is_back()
    {
        var folder = TestPostgres.NewDataFolder();
        EmbeddedPostgres? restarted = null;
        try
        {
            var (host, client) = await StartAsync(folder);
            const string visitor = "outage-visitor";
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync($"/v1/visitors/{visitor}/events", Event("before-1"))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/v1/batch", Batch("outage-batch-visitor", "before-2"))).StatusCode);

            var postgres = host.Postgres!;
            await postgres.StopAsync(); // the database goes away under a running host

            // An active visitor, a known one through the batch route, one never seen, and /v1/track: all 503, none 500.
            await AssertUnavailableAsync(await client.PostAsJsonAsync($"/v1/visitors/{visitor}/events", Event("during-1")));
            // Again: the grain's reload from the stream fails now too, and leaves the profile marked for the next call.
            await AssertUnavailableAsync(await client.PostAsJsonAsync($"/v1/visitors/{visitor}/events", Event("during-1")));
            await AssertUnavailableAsync(await client.PostAsJsonAsync("/v1/batch", Batch("outage-batch-visitor", "during-2")));
            await AssertUnavailableAsync(await client.PostAsJsonAsync("/v1/batch", Batch("outage-new-visitor", "during-3")));
            await AssertUnavailableAsync(await client.PostAsJsonAsync("/v1/track",
                new { anonymousId = "outage-track-visitor", @event = "Product Viewed", messageId = "during-4", properties = new { sku = "x" } }));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/health")).StatusCode);

            restarted = await EmbeddedPostgres.StartAsync(postgres.Options with { Port = postgres.Port }, NullLogger.Instance);

            // The clients retry what was refused; each retry is stored now (not taken for a duplicate of nothing).
            var retry = await SendUntilAvailableAsync(() => client.PostAsJsonAsync($"/v1/visitors/{visitor}/events", Event("during-1")));
            Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
            var ack = await retry.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(0, ack.GetProperty("duplicates").GetInt32());
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/v1/batch", Batch("outage-batch-visitor", "during-2"))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/v1/batch", Batch("outage-new-visitor", "during-3"))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);

            var events = await client.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/events?limit=100");
            var ids = events.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("messageId").GetString()).ToList();
            Assert.Contains("before-1", ids);
            Assert.Contains("during-1", ids);
            foreach (var (id, messageId) in new[] { ("outage-batch-visitor", "during-2"), ("outage-new-visitor", "during-3") })
            {
                var stored = await client.GetFromJsonAsync<JsonElement>($"/v1/users/{id}/events?limit=100");
                Assert.Contains(messageId, stored.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("messageId").GetString()));
            }

            await host.App.StopAsync(CancellationToken.None);
            await host.DisposeAsync();
        }
        finally
        {
            if (restarted is not null) await restarted.StopAsync();
            Directory.Delete(folder, recursive: true);
        }
    }
}
