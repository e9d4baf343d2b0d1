using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Channels.Delivery;
using Actors.Channels.Webhook;
using Actors.Domain.Channels;
using Actors.Grains.Channels;
using Actors.Integration.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Actors.Integration.Tests.Channels;

/// <summary>One webhook shard that gathers its outcomes for 1.5 s before it writes them into the visitors' streams.</summary>
public sealed class GatheredReportsFixture : HostFixture
{
    public WebhookReceiver Receiver { get; } = new();

    protected override IEnumerable<string> ExtraArguments() =>
    [
        "--Actors:Channels:PollEvery=00:00:00.200", "--Actors:Channels:Shards=1", "--Actors:Channels:ReportLinger=00:00:01.500",
        $"--Actors:Channels:WebhookSecret={DeliveryHostFixture.Secret}",
    ];

    /// <summary>The nice value of the thread each webhook send started on (the real provider does the sending).</summary>
    public ConcurrentQueue<int> SendNice { get; } = new();

    protected override void Customize(WebApplicationBuilder builder) =>
        builder.Services.AddSingleton<IChannelProvider>(sp =>
            new NiceRecordingProvider(ActivatorUtilities.CreateInstance<WebhookChannelProvider>(sp), SendNice));

    private sealed class NiceRecordingProvider(IChannelProvider inner, ConcurrentQueue<int> nice) : IChannelProvider
    {
        public string Channel => inner.Channel;

        public Task<DeliveryResult> SendAsync(OutboundMessage message, SendTurn turn, CancellationToken ct)
        {
            nice.Enqueue(ProviderThreadsTests.CurrentNice());
            return inner.SendAsync(message, turn, ct);
        }
    }
}

/// <summary>
/// A shard writes the outcomes of the messages it finished during its report linger into the visitors' streams as one
/// report, not one report per claim: under a steady trickle of decisions each claim finds one or two rows.
/// </summary>
public class GatheredReportsTests(GatheredReportsFixture host) : IClassFixture<GatheredReportsFixture>
{
    [Fact]
    public async Task Messages_decided_one_by_one_are_reported_together_and_every_outcome_reaches_its_stream()
    {
        var marketing = host.Client(HostFixture.MarketingKey);
        var admin = host.Client(HostFixture.AdminKey);
        var (id, template) = await WebhookJourneys.PublishAsync(marketing, host.Receiver, "gather");
        var visitors = Enumerable.Range(0, 12).Select(i => $"ga-{template}-{i}").ToList();
        foreach (var v in visitors)
            Assert.True((await host.Client().PostAsJsonAsync($"/v1/visitors/{v}/events",
                new { @event = "Product Viewed", messageId = $"{v}-view", properties = new { product_id = "s" } })).IsSuccessStatusCode);
        var shard = host.Grains.GetGrain<IChannelShardGrain>(IChannelShardGrain.KeyOf("webhook", 0));
        var before = await shard.Figures();

        // One decision every 100 ms: each wakes the shard, which claims and sends it on its own (10 ms linger).
        foreach (var v in visitors)
        {
            Assert.Equal(HttpStatusCode.Accepted, (await marketing.PostAsJsonAsync($"/v1/journeys/{id}/trigger", new { profiles = new[] { v } })).StatusCode);
            await Task.Delay(100);
        }
        await host.Receiver.WaitForAsync(r => r.Count(x => x.Path == "/" + template) >= visitors.Count, TimeSpan.FromSeconds(20));

        // Every outcome reaches its stream, the last ones when the linger ends (no full batch gathers to write them).
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var missing = visitors.ToList();
        while (missing.Count > 0 && DateTime.UtcNow < deadline)
        {
            var sent = await Task.WhenAll(missing.Select(async v => (v, (await admin.GetFromJsonAsync<JsonElement>(
                $"/v1/users/{v}/events?type=message_sent&limit=10")).GetProperty("items").GetArrayLength())));
            missing = [.. sent.Where(s => s.Item2 == 0).Select(s => s.v)];
            if (missing.Count > 0) await Task.Delay(200);
        }
        Assert.Empty(missing);

        var after = await shard.Figures();
        Assert.Equal(visitors.Count, after.Sent - before.Sent);
        // 12 sends over about 1.2 s, reported per linger of 1.5 s: one or two reports (three if a slow machine spreads
        // them), where reporting each claim's outcomes at once makes about one per message.
        Assert.InRange(after.ReportBatches - before.ReportBatches, 1, 3);

        // The provider did its work on the channel provider threads, below the requests' priority (ProviderNice 10).
        Assert.True(host.SendNice.Count >= visitors.Count, $"{host.SendNice.Count} sends recorded");
        Assert.All(host.SendNice, nice => Assert.Equal(10, nice));
    }
}
