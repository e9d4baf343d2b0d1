using System.Net;
using System.Net.Http.Json;
using Actors.Integration.Tests.Support;

namespace Actors.Integration.Tests.Channels;

/// <summary>One webhook shard at 5 messages a second: a backlog of 30 takes six seconds to leave.</summary>
public sealed class DeliveryPriorityFixture : HostFixture
{
    public WebhookReceiver Receiver { get; } = new();

    protected override IEnumerable<string> ExtraArguments() =>
    [
        "--Actors:Messages:QuietFrom=00:00", "--Actors:Messages:QuietUntil=00:00",
        "--Actors:Channels:PollEvery=00:00:00.200", "--Actors:Channels:Shards=1", "--Actors:Channels:RatePerSecond:webhook=5",
        "--Actors:Channels:WebhookSecret=test-webhook-secret-0123456789-abcdef",
    ];
}

/// <summary>A marketer's campaign queues its messages at once; a transactional message decided after them must not wait behind them.</summary>
[Collection(PacedDeliveryCollection.Name)]
public class DeliveryPriorityTests(DeliveryPriorityFixture host) : IClassFixture<DeliveryPriorityFixture>
{
    [Fact]
    public async Task A_transactional_message_leaves_before_the_marketing_backlog_decided_before_it()
    {
        var marketing = host.Client(HostFixture.MarketingKey);
        var ingest = host.Client();

        // The campaign: a marketing webhook to 30 consenting visitors, triggered at once.
        var campaign = $"campaign-{Guid.NewGuid():N}"[..17];
        Assert.True((await marketing.PutAsJsonAsync($"/v1/templates/{campaign}",
            new { channel = "webhook", text = "news", url = $"{host.Receiver.BaseUrl}/{campaign}" })).IsSuccessStatusCode);
        var journey = new
        {
            name = $"Campaign {campaign}",
            trigger = new { manual = true },
            start = "post",
            steps = new object[] { new { id = "post", send = new { channel = "webhook", template = campaign, kind = "marketing" } } },
        };
        var created = await marketing.PostAsJsonAsync("/v1/journeys", new { id = campaign, journey });
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        Assert.True((await marketing.PostAsync($"/v1/journeys/{campaign}/publish", null)).IsSuccessStatusCode);
        var visitors = Enumerable.Range(0, 30).Select(i => $"pr-{campaign}-{i}").ToList();
        await Parallel.ForEachAsync(visitors, async (v, _) =>
        {
            var consent = await ingest.PostAsJsonAsync($"/v1/visitors/{v}/events",
                new { @event = "Consent Given", messageId = $"{v}-consent", properties = new { channel = "webhook", purpose = "marketing" } });
            Assert.True(consent.IsSuccessStatusCode, await consent.Content.ReadAsStringAsync());
        });
        Assert.Equal(HttpStatusCode.Accepted, (await marketing.PostAsJsonAsync($"/v1/journeys/{campaign}/trigger", new { profiles = visitors })).StatusCode);

        // Once the campaign is leaving, a receipt (a transactional webhook) is decided for one more visitor.
        await host.Receiver.WaitForAsync(r => r.Any(x => x.Path == "/" + campaign), TimeSpan.FromSeconds(30));
        var (receipt, receiptTemplate) = await WebhookJourneys.PublishAsync(marketing, host.Receiver, "receipt");
        var buyer = $"pr-buyer-{receiptTemplate}";
        Assert.True((await ingest.PostAsJsonAsync($"/v1/visitors/{buyer}/events",
            new { @event = "Product Viewed", messageId = $"{buyer}-view", properties = new { product_id = "s" } })).IsSuccessStatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await marketing.PostAsJsonAsync($"/v1/journeys/{receipt}/trigger", new { profiles = new[] { buyer } })).StatusCode);

        var received = await host.Receiver.WaitForAsync(
            r => r.Count(x => x.Path == "/" + campaign) >= 30 && r.Any(x => x.Path == "/" + receiptTemplate), TimeSpan.FromSeconds(60));
        var receiptAt = received.Single(x => x.Path == "/" + receiptTemplate).At;
        var campaignTimes = received.Where(x => x.Path == "/" + campaign).Select(x => x.At).Order().ToList();
        Assert.Equal(30, campaignTimes.Count);
        // In the order of due times the receipt would leave after all 30. Claimed first, it leaves with the next claim
        // (at most 10 rows at this rate), ahead of what is still waiting.
        var campaignAfter = campaignTimes.Count(t => t > receiptAt);
        Assert.True(campaignAfter >= 5, $"only {campaignAfter} campaign messages left after the receipt: it waited behind the backlog");
    }
}
