using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Grains.Segments;
using Actors.Integration.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Actors.Integration.Tests.Segments;

public sealed class FastWebhookHostFixture : HostFixture
{
    protected override IEnumerable<string> ExtraArguments() =>
        ["--Actors:Webhooks:PollEvery=00:00:00.200", "--Actors:Webhooks:FirstRetryAfter=00:00:00.500"];
}

/// <summary>Segment subscriptions: another tool hears of members entering and leaving, signed, retried until it answers.</summary>
public class WebhookTests(FastWebhookHostFixture host) : IClassFixture<FastWebhookHostFixture>
{
    private sealed record Received(string Delivery, string Timestamp, string Signature, string Body);

    [Fact]
    public async Task Enter_and_exit_reach_the_subscriber_signed_and_a_failed_call_is_retried()
    {
        // A receiver on loopback that refuses its first call.
        var received = new ConcurrentQueue<Received>();
        var calls = 0;
        var receiver = WebApplication.CreateSlimBuilder();
        receiver.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = receiver.Build();
        app.MapPost("/hook", async (HttpRequest request) =>
        {
            if (Interlocked.Increment(ref calls) == 1) return Results.StatusCode(503);
            using var reader = new StreamReader(request.Body);
            received.Enqueue(new Received(request.Headers["X-Actors-Delivery"]!, request.Headers["X-Actors-Timestamp"]!,
                request.Headers["X-Actors-Signature"]!, await reader.ReadToEndAsync()));
            return Results.Ok();
        });
        await app.StartAsync();
        var hookUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/hook";

        var marketing = host.Client(HostFixture.MarketingKey);
        var segment = $"hook-{Guid.NewGuid():N}"[..16];
        Assert.Equal(HttpStatusCode.Created, (await marketing.PostAsJsonAsync("/v1/segments", new { id = segment, name = segment, rule = new { topic = "outdoor" } })).StatusCode);
        var subscription = await (await marketing.PutAsJsonAsync($"/v1/segments/{segment}/webhook", new { url = hookUrl })).Content.ReadFromJsonAsync<JsonElement>();
        var secret = subscription.GetProperty("secret").GetString()!;

        var visitor = $"hook-v-{Guid.NewGuid():N}";
        var ingest = host.Client();
        await ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events", new { @event = "Preferences Updated", messageId = $"{visitor}-1", properties = new { topics = new[] { "outdoor" } } });
        await ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events", new { @event = "Preferences Updated", messageId = $"{visitor}-2", properties = new { topics = new[] { "city" } } });

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (received.Count < 2 && DateTime.UtcNow < deadline) await Task.Delay(100);
        var deliveries = received.ToArray();
        Assert.Equal(["entered", "left"], deliveries.Select(d => JsonDocument.Parse(d.Body).RootElement.GetProperty("change").GetString()).Order());
        Assert.All(deliveries, d =>
        {
            Assert.Equal($"sha256={WebhookDispatcher.Sign(secret, d.Timestamp, d.Body)}", d.Signature);
            Assert.Equal($"anon:{visitor}", JsonDocument.Parse(d.Body).RootElement.GetProperty("profileId").GetString());
        });
        Assert.True(calls >= 3, $"expected a refused first call and a retry, saw {calls} calls");

        // The receiver has the body before the dispatcher has its answer and records it: wait for the record.
        JsonElement states;
        deadline = DateTime.UtcNow.AddSeconds(10);
        do
        {
            states = await marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/{segment}/deliveries");
            if (states.EnumerateArray().All(d => d.GetProperty("status").GetString() == "delivered")) break;
            await Task.Delay(100);
        }
        while (DateTime.UtcNow < deadline);
        Assert.All(states.EnumerateArray(), d => Assert.Equal("delivered", d.GetProperty("status").GetString()));
    }
}
