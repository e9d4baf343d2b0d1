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

/// <summary>
/// A marketer's campaign queues its messages at once; a transactional message, or a marketing one the visitor's own
/// behaviour brought, decided after them must not wait behind them.
/// </summary>
[Collection(PacedDeliveryCollection.Name)]
public class DeliveryPriorityTests(DeliveryPriorityFixture host) : IClassFixture<DeliveryPriorityFixture>
{
    [Fact]
    public async Task A_transactional_message_leaves_before_the_campaign_backlog_decided_before_it()
    {
        var marketing = host.Client(HostFixture.MarketingKey);
        var campaign = await StartCampaignAsync(marketing);

        var (receipt, template) = await WebhookJourneys.PublishAsync(marketing, host.Receiver, "receipt");
        var buyer = $"pr-buyer-{template}";
        Assert.True((await host.Client().PostAsJsonAsync($"/v1/visitors/{buyer}/events",
            new { @event = "Product Viewed", messageId = $"{buyer}-view", properties = new { product_id = "s" } })).IsSuccessStatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await marketing.PostAsJsonAsync($"/v1/journeys/{receipt}/trigger", new { profiles = new[] { buyer } })).StatusCode);

        await AssertLeftBeforeTheBacklogAsync(campaign, template);
    }

    [Fact]
    public async Task A_cart_reminder_leaves_before_the_campaign_backlog_decided_before_it()
    {
        var marketing = host.Client(HostFixture.MarketingKey);
        var ingest = host.Client();
        var campaign = await StartCampaignAsync(marketing);

        // A marketing message as well, but brought by the visitor's own cart: entered by an event, not by a trigger.
        var template = await WebhookJourneys.TemplateAsync(marketing, host.Receiver, "cart");
        await WebhookJourneys.PublishOneStepAsync(marketing, "webhook", template, "post", "marketing", new { @event = "cart_item_added", category = template });
        var shopper = $"pr-shopper-{template}";
        await ConsentAsync(ingest, shopper);
        var added = await ingest.PostAsJsonAsync($"/v1/visitors/{shopper}/events",
            new { @event = "Product Added", messageId = $"{shopper}-add", properties = new { product_id = "s", category = template, quantity = 1, price = 10 } });
        Assert.True(added.IsSuccessStatusCode, await added.Content.ReadAsStringAsync());

        await AssertLeftBeforeTheBacklogAsync(campaign, template);
    }

    /// <summary>A marketing webhook to 30 consenting visitors, triggered at once; returns once its first message arrived.</summary>
    private async Task<string> StartCampaignAsync(HttpClient marketing)
    {
        var ingest = host.Client();
        var campaign = await WebhookJourneys.TemplateAsync(marketing, host.Receiver, "campaign");
        var journey = await WebhookJourneys.PublishOneStepAsync(marketing, "webhook", campaign, "post", "marketing");
        var visitors = Enumerable.Range(0, 30).Select(i => $"pr-{campaign}-{i}").ToList();
        await Parallel.ForEachAsync(visitors, async (v, _) => await ConsentAsync(ingest, v));
        Assert.Equal(HttpStatusCode.Accepted, (await marketing.PostAsJsonAsync($"/v1/journeys/{journey}/trigger", new { profiles = visitors })).StatusCode);
        await host.Receiver.WaitForAsync(r => r.Any(x => x.Path == "/" + campaign), TimeSpan.FromSeconds(30));
        return campaign;
    }

    /// <summary>
    /// In the order of due times the message would leave after all 30 of the campaign. Claimed first, it leaves with the
    /// shard's next claim (at most 10 rows at this rate), ahead of what is still waiting.
    /// </summary>
    private async Task AssertLeftBeforeTheBacklogAsync(string campaign, string template)
    {
        var received = await host.Receiver.WaitForAsync(
            r => r.Count(x => x.Path == "/" + campaign) >= 30 && r.Any(x => x.Path == "/" + template), TimeSpan.FromSeconds(60));
        var at = received.Single(x => x.Path == "/" + template).At;
        var campaignTimes = received.Where(x => x.Path == "/" + campaign).Select(x => x.At).ToList();
        Assert.Equal(30, campaignTimes.Count);
        var after = campaignTimes.Count(t => t > at);
        Assert.True(after >= 5, $"only {after} campaign messages left after {template}: it waited behind the backlog");
    }

    private static async Task ConsentAsync(HttpClient ingest, string visitor)
    {
        var consent = await ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events",
            new { @event = "Consent Given", messageId = $"{visitor}-consent", properties = new { channel = "webhook", purpose = "marketing" } });
        Assert.True(consent.IsSuccessStatusCode, await consent.Content.ReadAsStringAsync());
    }
}
