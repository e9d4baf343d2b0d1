using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Grains.Channels;
using Actors.Integration.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Actors.Integration.Tests.Channels;

/// <summary>
/// Triggers of 100 visitors or more hold bulk delivery to 2 messages a second (two webhook shards); the trigger walks
/// one visitor at a time, so a trigger of 150 lasts long enough to be seen holding.
/// </summary>
public sealed class BulkHoldFixture : HostFixture
{
    public WebhookReceiver Receiver { get; } = new();

    protected override IEnumerable<string> ExtraArguments() =>
    [
        "--Actors:Messages:QuietFrom=00:00", "--Actors:Messages:QuietUntil=00:00",
        "--Actors:Channels:PollEvery=00:00:00.200", "--Actors:Channels:Shards=2",
        "--Actors:Channels:BulkHoldFromVisitors=100", "--Actors:Channels:BulkRateWhileHeld=2",
        "--Actors:Journeys:TriggerParallelism=1",
        "--Actors:Channels:WebhookSecret=test-webhook-secret-0123456789-abcdef",
    ];
}

/// <summary>
/// While a large trigger runs, its own bulk messages wait (they would take the machine it needs) and leave at full speed
/// once it ends; what is not bulk (a transactional message, one the visitor's behaviour brought) is never held.
/// </summary>
[Collection(PacedDeliveryCollection.Name)]
public class BulkHoldTests(BulkHoldFixture host) : IClassFixture<BulkHoldFixture>
{
    [Fact]
    public async Task A_large_triggers_bulk_messages_leave_at_the_held_rate_while_it_runs_and_all_of_them_after_it()
    {
        var marketing = host.Client(HostFixture.MarketingKey);
        var template = await WebhookJourneys.TemplateAsync(marketing, host.Receiver, "held");
        var journey = await WebhookJourneys.PublishOneStepAsync(marketing, "webhook", template, "post", "marketing");
        var visitors = Enumerable.Range(0, 150).Select(i => $"bh-{template}-{i}").ToList();
        await Parallel.ForEachAsync(visitors, async (v, _) => await ConsentAsync(host.Client(), v));

        var response = await marketing.PostAsJsonAsync($"/v1/journeys/{journey}/trigger", new { profiles = visitors });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var progress = await DoneAsync(marketing, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("progressUrl").GetString()!);
        Assert.Equal(150, progress.GetProperty("entered").GetInt64());
        var started = progress.GetProperty("startedAt").GetDateTimeOffset();
        var finished = progress.GetProperty("finishedAt").GetDateTimeOffset();

        var received = await host.Receiver.WaitForAsync(r => r.Count(x => x.Path == "/" + template) >= 150, TimeSpan.FromSeconds(60));
        var times = received.Where(x => x.Path == "/" + template).Select(x => x.At).ToList();
        Assert.Equal(150, times.Count);
        // Held: 2 a second over the trigger's length, plus what each shard may keep in hand (2) and one in flight each at
        // the end. Not held, the shards send each message within milliseconds of its decision, so nearly all 150 leave
        // while the trigger walks.
        var whileRunning = times.Count(t => t < finished);
        var bound = (int)Math.Ceiling(2 * (finished - started).TotalSeconds) + 6;
        Assert.True(whileRunning <= bound,
            $"{whileRunning} of 150 left during the trigger's {(finished - started).TotalSeconds:N1} s; held, at most {bound}");
    }

    [Fact]
    public async Task While_held_a_transactional_message_and_a_cart_reminder_leave_at_once_and_released_the_campaign_leaves_at_once()
    {
        var marketing = host.Client(HostFixture.MarketingKey);
        var ingest = host.Client();
        var hold = host.Host.App.Services.GetRequiredService<BulkDeliveryHold>();

        // A campaign of 30 (below the size that holds by itself), decided while another node's large trigger holds.
        var campaign = await WebhookJourneys.TemplateAsync(marketing, host.Receiver, "camp");
        var campaignJourney = await WebhookJourneys.PublishOneStepAsync(marketing, "webhook", campaign, "post", "marketing");
        var audience = Enumerable.Range(0, 30).Select(i => $"bh-{campaign}-{i}").ToList();
        await Parallel.ForEachAsync(audience, async (v, _) => await ConsentAsync(ingest, v));
        var (receipt, receiptTemplate) = await WebhookJourneys.PublishAsync(marketing, host.Receiver, "receipt");
        var reminder = await WebhookJourneys.TemplateAsync(marketing, host.Receiver, "cart");
        await WebhookJourneys.PublishOneStepAsync(marketing, "webhook", reminder, "post", "marketing", new { @event = "cart_item_added", category = reminder });
        var shopper = $"bh-shopper-{reminder}";
        await ConsentAsync(ingest, shopper);

        DateTimeOffset released;
        using (hold.Begin("a test"))
        {
            await Task.Delay(300); // the shards have heard of it
            Assert.Equal(HttpStatusCode.Accepted, (await marketing.PostAsJsonAsync($"/v1/journeys/{campaignJourney}/trigger", new { profiles = audience })).StatusCode);
            Assert.Equal(HttpStatusCode.Accepted, (await marketing.PostAsJsonAsync($"/v1/journeys/{receipt}/trigger", new { profiles = new[] { shopper } })).StatusCode);
            var added = await ingest.PostAsJsonAsync($"/v1/visitors/{shopper}/events",
                new { @event = "Product Added", messageId = $"{shopper}-add", properties = new { product_id = "s", category = reminder, quantity = 1, price = 10 } });
            Assert.True(added.IsSuccessStatusCode, await added.Content.ReadAsStringAsync());
            var heldFrom = DateTimeOffset.UtcNow;

            // Neither waits for the hold: both are due at once and claimed by the shards' next claim.
            await host.Receiver.WaitForAsync(r => r.Any(x => x.Path == "/" + receiptTemplate) && r.Any(x => x.Path == "/" + reminder), TimeSpan.FromSeconds(10));
            await Task.Delay(TimeSpan.FromSeconds(3));
            released = DateTimeOffset.UtcNow;
            var duringHold = host.Receiver.Requests.Count(x => x.Path == "/" + campaign);
            var bound = (int)Math.Ceiling(2 * (released - heldFrom).TotalSeconds) + 6;
            Assert.True(duringHold <= bound, $"{duringHold} of the campaign's 30 left in {(released - heldFrom).TotalSeconds:N1} s held at 2/s; at most {bound}");
        }
        Assert.Equal(0, hold.Holders);

        // Released: the shards are told at once, not left to the end of the hold's 5 s lease (renewed every second).
        var received = await host.Receiver.WaitForAsync(r => r.Count(x => x.Path == "/" + campaign) >= 30, TimeSpan.FromSeconds(30));
        var last = received.Where(x => x.Path == "/" + campaign).Max(x => x.At);
        Assert.True(last - released < TimeSpan.FromSeconds(3.5), $"the campaign's last message left {(last - released).TotalSeconds:N1} s after the release");
    }

    private static async Task<JsonElement> DoneAsync(HttpClient marketing, string url)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            var progress = await marketing.GetFromJsonAsync<JsonElement>(url);
            var state = progress.GetProperty("state").GetString();
            if (state != "running")
            {
                Assert.True(state == "done", progress.ToString());
                return progress;
            }
            Assert.True(DateTime.UtcNow < deadline, "the trigger did not finish");
            await Task.Delay(50);
        }
    }

    private static async Task ConsentAsync(HttpClient ingest, string visitor)
    {
        var consent = await ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events",
            new { @event = "Consent Given", messageId = $"{visitor}-consent", properties = new { channel = "webhook", purpose = "marketing" } });
        Assert.True(consent.IsSuccessStatusCode, await consent.Content.ReadAsStringAsync());
    }
}
