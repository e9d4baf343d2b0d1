using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Integration.Tests.Support;
using Xunit.Abstractions;

namespace Actors.Integration.Tests.Journeys;

/// <summary>
/// Journeys on a cluster of two host processes (ADO.NET membership on one PostgreSQL): published on one node, triggered
/// on the other, visitors' grains placed by Orleans on either node; then one node is killed in the middle of the waits, and
/// the survivor ends every wait (the visitors' reminders are in the database) and decides every message once.
/// </summary>
public class JourneyClusterTests(ITestOutputHelper output)
{
    private const int Visitors = 60;


    [Fact]
    public async Task A_journey_published_on_one_node_and_triggered_on_the_other_survives_the_loss_of_a_node_in_the_middle_of_its_waits()
    {
        var database = await TestPostgres.CreateDatabaseAsync(nameof(JourneyClusterTests));
        var cluster = $"c{Guid.NewGuid():N}"[..12];
        string[] arguments =
        [
            $"--ConnectionStrings:Postgres={database}",
            "--Actors:Silo:Clustering=AdoNet", $"--Actors:Silo:ClusterId={cluster}", $"--Actors:Silo:ServiceId={cluster}",
            "--Actors:Silo:MinimumReminderPeriod=00:00:01", "--Actors:Silo:ReminderRefreshPeriod=00:00:02",
            .. SiloProcess.KeyArguments(),
            "--Actors:Messages:QuietFrom=00:00", "--Actors:Messages:QuietUntil=00:00",
            "--Actors:Segments:RefreshEvery=00:00:01",
            "--Logging:LogLevel:Default=Warning",
        ];
        await using var first = await SiloProcess.StartAsync(arguments);
        await using var second = await SiloProcess.StartAsync(arguments);
        var (marketingA, marketingB, ingestB, adminB) =
            (first.Client(HostFixture.MarketingKey), second.Client(HostFixture.MarketingKey), second.Client(HostFixture.IngestKey), second.Client(HostFixture.AdminKey));

        await TestTemplates.EnsureAsync(marketingA, "cluster-note");
        var journey = new
        {
            name = "Cluster wait",
            trigger = new { manual = true },
            start = "wait",
            steps = new object[]
            {
                new { id = "wait", wait = new { duration = "PT8S" }, next = "note" },
                new { id = "note", send = new { channel = "email", template = "cluster-note", kind = "transactional" } },
            },
        };
        Assert.Equal(HttpStatusCode.Created, (await marketingA.PostAsJsonAsync("/v1/journeys", new { id = "cluster-wait", journey })).StatusCode);
        Assert.True((await marketingA.PostAsync("/v1/journeys/cluster-wait/publish", null)).IsSuccessStatusCode);

        var run = Guid.NewGuid().ToString("N")[..8];
        var visitors = Enumerable.Range(0, Visitors).Select(i => $"cl-{run}-{i}").ToList();
        await Parallel.ForEachAsync(visitors, async (v, _) =>
        {
            var r = await ingestB.PostAsJsonAsync($"/v1/visitors/{v}/events", new { @event = "Product Viewed", messageId = $"{v}-view", properties = new { product_id = "sku-1" } });
            Assert.True(r.IsSuccessStatusCode, await r.Content.ReadAsStringAsync());
            await TestAddresses.GiveEmailAsync(ingestB, v); // else the message is suppressed: no_email_address
        });

        // Triggered on the node that did not publish: it reads the journey from the database on first sight.
        var trigger = await marketingB.PostAsJsonAsync("/v1/journeys/cluster-wait/trigger", new { profiles = visitors, triggerId = "cl-" + run });
        Assert.Equal(HttpStatusCode.Accepted, trigger.StatusCode);
        var progressUrl = (await trigger.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("progressUrl").GetString()!;
        JsonElement progress;
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while ((progress = await marketingB.GetFromJsonAsync<JsonElement>(progressUrl)).GetProperty("state").GetString() == "running")
        {
            Assert.True(DateTime.UtcNow < deadline, "the trigger did not finish");
            await Task.Delay(100);
        }
        Assert.Equal(Visitors, progress.GetProperty("entered").GetInt64());

        // Mid-wait, the first node dies; the visitors whose grains lived there wake up on the second.
        first.Kill();
        output.WriteLine("first node killed during the waits");

        var done = new HashSet<string>();
        deadline = DateTime.UtcNow.AddMinutes(3);
        while (done.Count < Visitors)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{Visitors - done.Count} visitors never got their message decided:\n{second.Output}");
            foreach (var v in visitors.Where(v => !done.Contains(v)))
            {
                var decided = (await adminB.GetFromJsonAsync<JsonElement>($"/v1/users/{v}/events?type=message_decided&limit=100")).GetProperty("items");
                if (decided.GetArrayLength() > 0) done.Add(v);
            }
            await Task.Delay(500);
        }
        foreach (var v in visitors)
        {
            var decided = (await adminB.GetFromJsonAsync<JsonElement>($"/v1/users/{v}/events?type=message_decided&limit=100")).GetProperty("items");
            var message = Assert.Single(decided.EnumerateArray());
            Assert.Equal("sent", message.GetProperty("data").GetProperty("outcome").GetString());
        }
        await TestPostgres.DropDatabaseAsync(database);
    }
}
