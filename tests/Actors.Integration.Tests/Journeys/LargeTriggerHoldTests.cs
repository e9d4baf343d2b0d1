using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Diagnostics;
using Actors.Grains.Journeys;
using Actors.Integration.Tests.Channels;
using Actors.Integration.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Actors.Integration.Tests.Journeys;

/// <summary>
/// Triggers of 100 visitors or more are large: they hold bulk delivery to 2 messages a second (two webhook shards) and
/// pause the reporting projections. The trigger walks one visitor at a time, so a trigger of 8,400 lasts seconds.
/// </summary>
public sealed class LargeTriggerFixture : HostFixture
{
    public WebhookReceiver Receiver { get; } = new();

    protected override IEnumerable<string> ExtraArguments() =>
    [
        "--Actors:Messages:QuietFrom=00:00", "--Actors:Messages:QuietUntil=00:00",
        "--Actors:Channels:PollEvery=00:00:00.200", "--Actors:Channels:Shards=2",
        "--Actors:Journeys:LargeTriggerFromVisitors=100", "--Actors:Channels:BulkRateWhileHeld=2",
        "--Actors:Journeys:TriggerParallelism=1",
        "--Actors:Channels:WebhookSecret=test-webhook-secret-0123456789-abcdef",
    ];
}

/// <summary>
/// While a large trigger runs, the work that only has to wait for it does: its own bulk messages (they would take the
/// machine it needs) leave at a trickle and then at full speed once it ends, and the reporting projections pause and
/// catch up after it. What is not bulk (a transactional message, one the visitor's behaviour brought) is never held.
/// </summary>
[Collection(PacedDeliveryCollection.Name)]
public class LargeTriggerHoldTests(LargeTriggerFixture host) : IClassFixture<LargeTriggerFixture>
{
    private const int Size = 400; // with consent: their messages are sent
    // A product view each, no consent: entered, their messages suppressed, all of it events. Enough that the trigger
    // lasts well over the 3.5 s the pause needs to be told from the daemon's lag on a fast machine (4,000 took 3.2 s).
    private const int Unknown = 8_000;

    [Fact]
    public async Task A_large_trigger_holds_its_bulk_messages_and_pauses_the_reports_while_it_runs_and_both_catch_up_after_it()
    {
        var marketing = host.Client(HostFixture.MarketingKey);
        var template = await WebhookJourneys.TemplateAsync(marketing, host.Receiver, "held");
        var journey = await WebhookJourneys.PublishOneStepAsync(marketing, "webhook", template, "post", "marketing");
        var visitors = Enumerable.Range(0, Size).Select(i => $"bh-{template}-{i}").ToList();
        await Parallel.ForEachAsync(visitors, async (v, _) => await ConsentAsync(host.Client(), v));
        var browsers = Enumerable.Range(0, Unknown).Select(i => $"bh-view-{template}-{i}").ToList();
        await Parallel.ForEachAsync(browsers.Chunk(200), async (chunk, _) =>
        {
            var batch = chunk.Select(id => new { type = "track", anonymousId = id, @event = "Product Viewed", messageId = id + "-view", properties = new { product_id = "p1" } });
            var posted = await host.Client().PostAsJsonAsync("/v1/batch", new { batch });
            Assert.True(posted.IsSuccessStatusCode, await posted.Content.ReadAsStringAsync());
        });
        await using var db = NpgsqlDataSource.Create(host.ConnectionString);
        await WaitForReportsAsync(db, TimeSpan.FromSeconds(60)); // the consents are projected: what moves next is the trigger's

        using var sampling = new CancellationTokenSource();
        var samples = SampleReportsAsync(db, sampling.Token);
        var statuses = SampleStatusAsync(marketing, sampling.Token);
        var response = await marketing.PostAsJsonAsync($"/v1/journeys/{journey}/trigger", new { profiles = visitors.Concat(browsers.Select(b => "anon:" + b)).ToList() });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var progress = await JourneyTriggerTests.DoneAsync(marketing, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("progressUrl").GetString()!);
        await sampling.CancelAsync();
        var during = await samples;
        var said = await statuses;
        Assert.True(progress.GetProperty("entered").GetInt64() == Size + Unknown, progress.ToString());
        var started = progress.GetProperty("startedAt").GetDateTimeOffset();
        var finished = progress.GetProperty("finishedAt").GetDateTimeOffset();

        var received = await host.Receiver.WaitForAsync(r => r.Count(x => x.Path == "/" + template) >= Size, TimeSpan.FromSeconds(60));
        var times = received.Where(x => x.Path == "/" + template).Select(x => x.At).ToList();
        Assert.Equal(Size, times.Count);
        // Held: 2 a second over the trigger's length, plus what each shard may keep in hand (2) and one in flight each at
        // the end. Not held, the shards send each message within milliseconds of its decision, so nearly all leave
        // while the trigger walks.
        var whileRunning = times.Count(t => t < finished);
        var bound = (int)Math.Ceiling(2 * (finished - started).TotalSeconds) + 6;
        Assert.True(whileRunning <= bound,
            $"{whileRunning} of {Size} left during the trigger's {(finished - started).TotalSeconds:N1} s; held, at most {bound}");

        // Paused: the reports stood still for most of the trigger while it wrote thousands of events (the pause begins
        // within a second of its start). Running, they follow the log within a second or so.
        var still = LongestStandstill(during, minimumWritten: 1_000);
        var expected = finished - started - TimeSpan.FromSeconds(1.5);
        Assert.True(expected >= TimeSpan.FromSeconds(2), $"the trigger took {(finished - started).TotalSeconds:N1} s: too short to tell a pause from the daemon's lag");
        Assert.True(still >= expected,
            $"the reports stood still for {still.TotalSeconds:N1} s at most during the trigger's {(finished - started).TotalSeconds:N1} s; " +
            string.Join(", ", during.Select(x => $"{x.At:ss.fff}:{x.Position}/{x.HighWater}")));
        // The status said so while it lasted, and says "running" once it is over.
        Assert.Contains(said, x => x.GetProperty("pausedSince").ValueKind == JsonValueKind.String
            && x.GetProperty("projections").EnumerateArray().All(p => p.GetProperty("state").GetString() == "paused"));
        // And they catch up on everything the trigger wrote.
        await WaitForReportsAsync(db, TimeSpan.FromSeconds(60));
        var deadline = DateTime.UtcNow.AddSeconds(15);
        JsonElement status;
        while ((status = await marketing.GetFromJsonAsync<JsonElement>("/v1/reports/status")).GetProperty("pausedSince").ValueKind != JsonValueKind.Null)
        {
            Assert.True(DateTime.UtcNow < deadline, status.ToString());
            await Task.Delay(200);
        }
        Assert.All(status.GetProperty("projections").EnumerateArray(), p => Assert.Equal("running", p.GetProperty("state").GetString()));
    }

    /// <summary>/v1/reports/status every 200 ms until cancelled.</summary>
    private static async Task<List<JsonElement>> SampleStatusAsync(HttpClient marketing, CancellationToken ct)
    {
        var said = new List<JsonElement>();
        while (!ct.IsCancellationRequested)
        {
            said.Add(await marketing.GetFromJsonAsync<JsonElement>("/v1/reports/status", CancellationToken.None));
            try { await Task.Delay(200, ct); }
            catch (OperationCanceledException) { break; }
        }
        return said;
    }

    [Fact]
    public async Task A_hold_whose_node_died_without_letting_go_ends_on_its_own_and_what_waited_is_sent()
    {
        var marketing = host.Client(HostFixture.MarketingKey);
        var ingest = host.Client();
        var campaign = await WebhookJourneys.TemplateAsync(marketing, host.Receiver, "orphan");
        var journey = await WebhookJourneys.PublishOneStepAsync(marketing, "webhook", campaign, "post", "marketing");
        var audience = Enumerable.Range(0, 30).Select(i => $"bh-{campaign}-{i}").ToList();
        await Parallel.ForEachAsync(audience, async (v, _) => await ConsentAsync(ingest, v));

        // What a node running a large trigger says once, before it is killed: hold for 4 s. Nobody renews or releases it.
        var lease = TimeSpan.FromSeconds(4);
        var settings = host.Host.App.Services.GetRequiredService<Actors.Grains.Channels.ChannelSettings>();
        foreach (var shard in Actors.Grains.Channels.ChannelDispatch.AllShards(host.Grains, settings)) await shard.HoldBulk(lease);
        await host.Grains.GetGrain<Actors.Grains.Reporting.IReportsHoldGrain>(Actors.Grains.Reporting.IReportsHoldGrain.TheKey).Hold(lease);
        var heldAt = DateTimeOffset.UtcNow;
        Assert.Equal(HttpStatusCode.Accepted, (await marketing.PostAsJsonAsync($"/v1/journeys/{journey}/trigger", new { profiles = audience })).StatusCode);

        // Held meanwhile: the reports say paused, the campaign trickles.
        var deadline = DateTime.UtcNow.AddSeconds(3);
        while ((await marketing.GetFromJsonAsync<JsonElement>("/v1/reports/status")).GetProperty("pausedSince").ValueKind != JsonValueKind.String)
        {
            Assert.True(DateTime.UtcNow < deadline, "the reports did not pause for the hold");
            await Task.Delay(100);
        }
        var received = await host.Receiver.WaitForAsync(r => r.Count(x => x.Path == "/" + campaign) >= 30, TimeSpan.FromSeconds(30));
        var times = received.Where(x => x.Path == "/" + campaign).Select(x => x.At).ToList();
        var held = times.Count(t => t < heldAt + lease - TimeSpan.FromSeconds(0.5));
        Assert.True(held <= 2 * lease.TotalSeconds + 6, $"{held} of 30 left while the orphaned hold lasted");
        // Then the lease ran out on its own: everything left at once (held for good, 30 at 2 a second would take 15 s),
        // and the reports run again.
        Assert.Equal(30, times.Count);
        Assert.True(times.Max() < heldAt + lease + TimeSpan.FromSeconds(3), $"the last left {(times.Max() - heldAt).TotalSeconds:N1} s after the hold began; its lease was {lease.TotalSeconds} s");
        deadline = DateTime.UtcNow.AddSeconds(15);
        JsonElement status;
        while ((status = await marketing.GetFromJsonAsync<JsonElement>("/v1/reports/status")).GetProperty("pausedSince").ValueKind != JsonValueKind.Null)
        {
            Assert.True(DateTime.UtcNow < deadline, status.ToString());
            await Task.Delay(200);
        }
    }

    private sealed record ReportSample(DateTimeOffset At, long Position, long HighWater);

    /// <summary>The reports' position (the slowest projection's) against the log's head, every 100 ms until cancelled.</summary>
    private static async Task<List<ReportSample>> SampleReportsAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        var samples = new List<ReportSample>();
        while (!ct.IsCancellationRequested)
        {
            var (position, high) = await ReportPositionAsync(db);
            samples.Add(new ReportSample(DateTimeOffset.UtcNow, position, high));
            try { await Task.Delay(100, ct); }
            catch (OperationCanceledException) { break; }
        }
        return samples;
    }

    /// <summary>The longest span between two samples with the same position while the log grew by at least so many events.</summary>
    private static TimeSpan LongestStandstill(List<ReportSample> samples, int minimumWritten)
    {
        var longest = TimeSpan.Zero;
        for (var i = 0; i < samples.Count; i++)
            for (var j = i + 1; j < samples.Count && samples[j].Position == samples[i].Position; j++)
                if (samples[j].HighWater - samples[i].HighWater >= minimumWritten && samples[j].At - samples[i].At > longest)
                    longest = samples[j].At - samples[i].At;
        return longest;
    }

    private static async Task<(long Position, long HighWater)> ReportPositionAsync(NpgsqlDataSource db)
    {
        // Projection shards only ("name:All"); Marten keeps rows of its own in the table too.
        await using var command = db.CreateCommand(
            "select (select coalesce(min(last_seq_id), 0) from actors.mt_event_progression where name like '%:%'), " +
            "(select coalesce(max(seq_id), 0) from actors.mt_events)");
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    private static async Task WaitForReportsAsync(NpgsqlDataSource db, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var (position, high) = await ReportPositionAsync(db);
            if (position >= high) return;
            Assert.True(watch.Elapsed < timeout, $"the reports are at {position} of {high} after {timeout}");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task While_held_a_transactional_message_and_a_cart_reminder_leave_at_once_and_released_the_campaign_leaves_at_once()
    {
        var marketing = host.Client(HostFixture.MarketingKey);
        var ingest = host.Client();
        var hold = host.Host.App.Services.GetRequiredService<LargeTriggerHold>();

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


    private static async Task ConsentAsync(HttpClient ingest, string visitor)
    {
        var consent = await ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events",
            new { @event = "Consent Given", messageId = $"{visitor}-consent", properties = new { channel = "webhook", purpose = "marketing" } });
        Assert.True(consent.IsSuccessStatusCode, await consent.Content.ReadAsStringAsync());
    }
}
