using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Integration.Tests.Support;

namespace Actors.Integration.Tests.Journeys;

/// <summary>Shared steps of the policy tests: manual journeys of one marketing email, consenting visitors, their verdicts.</summary>
public abstract class PolicyPath(HostFixture host)
{
    protected readonly HttpClient Marketing = host.Client(HostFixture.MarketingKey);
    protected readonly HttpClient Ingest = host.Client();
    protected readonly HttpClient Admin = host.Client(HostFixture.AdminKey);

    protected async Task<string> MarketingEmailJourney()
    {
        var id = $"jp-{Guid.NewGuid():N}"[..20];
        const string template = "policy-email";
        await TestTemplates.EnsureAsync(Marketing, template);
        var journey = new
        {
            name = "Policy " + id,
            trigger = new { manual = true },
            start = "send",
            steps = new object[] { new { id = "send", send = new { channel = "email", template, kind = "marketing" } } },
        };
        var create = await Marketing.PostAsJsonAsync("/v1/journeys", new { id, journey });
        Assert.True(create.StatusCode == HttpStatusCode.Created, await create.Content.ReadAsStringAsync());
        var publish = await Marketing.PostAsync($"/v1/journeys/{id}/publish", null);
        Assert.True(publish.IsSuccessStatusCode, await publish.Content.ReadAsStringAsync());
        return id;
    }

    protected async Task Track(string visitor, string name, object properties)
    {
        var response = await Ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events", new { @event = name, messageId = $"{visitor}-{Guid.NewGuid():N}", properties });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    protected async Task<string> ConsentingVisitor()
    {
        var visitor = $"pv-{Guid.NewGuid():N}";
        await TestAddresses.GiveEmailAsync(Ingest, visitor);
        await Track(visitor, "Consent Given", new { channel = "email", purpose = "marketing" });
        return visitor;
    }

    protected async Task Trigger(string journey, string visitor)
    {
        var response = await Marketing.PostAsJsonAsync($"/v1/journeys/{journey}/trigger", new { profiles = new[] { visitor } });
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
    }

    protected async Task<List<JsonElement>> Decisions(string visitor, string journey) =>
        [.. (await Admin.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/events?type=message_decided&limit=1000")).GetProperty("items").EnumerateArray()
            .Where(e => e.GetProperty("data").GetProperty("journeyId").GetString() == journey)];

    protected async Task<List<JsonElement>> WaitForDecisions(string visitor, string journey, Func<List<JsonElement>, bool> done, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            var found = await Decisions(visitor, journey);
            if (done(found) || DateTime.UtcNow > deadline) return found;
            await Task.Delay(200);
        }
    }

    protected static string Data(JsonElement e, string name) => e.GetProperty("data").GetProperty(name).ToString();
}

public sealed class NoQuietHoursFixture : HostFixture
{
    protected override IEnumerable<string> ExtraArguments() =>
        ["--Actors:Messages:QuietFrom=00:00", "--Actors:Messages:QuietUntil=00:00", "--Actors:Messages:MarketingCap=3", "--Actors:Messages:CapWindow=7.00:00:00"];
}

/// <summary>Frequency and the global cap suppress through the real path, each with its recorded reason.</summary>
public class MessageLimitTests(NoQuietHoursFixture host) : PolicyPath(host), IClassFixture<NoQuietHoursFixture>
{
    [Fact]
    public async Task A_weekly_visitor_gets_one_marketing_message_and_the_next_is_suppressed_for_frequency()
    {
        var visitor = await ConsentingVisitor();
        await Track(visitor, "Preferences Updated", new { frequency = "weekly" });
        var (first, second) = (await MarketingEmailJourney(), await MarketingEmailJourney());
        await Trigger(first, visitor);
        Assert.Equal("sent", Data(Assert.Single(await WaitForDecisions(visitor, first, d => d.Count > 0, TimeSpan.FromSeconds(20))), "outcome"));
        await Trigger(second, visitor);
        var suppressed = Assert.Single(await WaitForDecisions(visitor, second, d => d.Count > 0, TimeSpan.FromSeconds(20)));
        Assert.Equal(("suppressed", "frequency:weekly"), (Data(suppressed, "outcome"), Data(suppressed, "reason")));
    }

    [Fact]
    public async Task The_global_cap_lets_three_marketing_messages_through_in_a_week_and_suppresses_the_fourth()
    {
        var visitor = await ConsentingVisitor();
        var journeys = new List<string>();
        for (var i = 0; i < 4; i++) journeys.Add(await MarketingEmailJourney());
        foreach (var journey in journeys)
        {
            await Trigger(journey, visitor);
            Assert.NotEmpty(await WaitForDecisions(visitor, journey, d => d.Count > 0, TimeSpan.FromSeconds(20)));
        }
        var verdicts = new List<(string, string)>();
        foreach (var journey in journeys)
        {
            var d = Assert.Single(await Decisions(visitor, journey));
            verdicts.Add((Data(d, "outcome"), Data(d, "reason")));
        }
        Assert.Equal([("sent", "allowed"), ("sent", "allowed"), ("sent", "allowed"), ("suppressed", "cap:3_per_7d")], verdicts);
    }
}

/// <summary>Quiet hours around the moment the host starts: from two minutes before until 40 seconds after, in UTC.</summary>
public sealed class QuietNowFixture : HostFixture
{
    public DateTimeOffset QuietUntil { get; private set; }

    protected override IEnumerable<string> ExtraArguments()
    {
        var now = DateTimeOffset.UtcNow;
        // Whole seconds: the policy's window is a time of day.
        QuietUntil = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, now.Second, TimeSpan.Zero).AddSeconds(40);
        var from = TimeOnly.FromDateTime(now.AddMinutes(-2).UtcDateTime);
        return
        [
            $"--Actors:Messages:QuietFrom={from.ToString("HH:mm:ss", CultureInfo.InvariantCulture)}",
            $"--Actors:Messages:QuietUntil={TimeOnly.FromDateTime(QuietUntil.UtcDateTime).ToString("HH:mm:ss", CultureInfo.InvariantCulture)}",
            "--Actors:Messages:DefaultTimeZone=UTC",
        ];
    }
}

/// <summary>Quiet hours delay a message and then send it, through the grain's durable wake-up.</summary>
public class QuietHoursPathTests(QuietNowFixture host) : PolicyPath(host), IClassFixture<QuietNowFixture>
{
    [Fact]
    public async Task A_message_decided_in_quiet_hours_is_deferred_to_their_end_and_then_sent()
    {
        var visitor = await ConsentingVisitor();
        var journey = await MarketingEmailJourney();
        Assert.True(DateTimeOffset.UtcNow < host.QuietUntil.AddSeconds(-5), "the host took too long to start for this test's quiet window");
        await Trigger(journey, visitor);

        var deferred = Assert.Single(await WaitForDecisions(visitor, journey, d => d.Count > 0, TimeSpan.FromSeconds(20)));
        Assert.Equal(("deferred", "quiet_hours"), (Data(deferred, "outcome"), Data(deferred, "reason")));
        Assert.Equal(host.QuietUntil, deferred.GetProperty("data").GetProperty("notBefore").GetDateTimeOffset());

        var decisions = await WaitForDecisions(visitor, journey, d => d.Count > 1, TimeSpan.FromSeconds(90));
        Assert.Equal(2, decisions.Count);
        var sent = decisions[1];
        Assert.Equal(("sent", "allowed"), (Data(sent, "outcome"), Data(sent, "reason")));
        Assert.True(sent.GetProperty("eventTime").GetDateTimeOffset() >= host.QuietUntil, "sent before quiet hours ended");
        Assert.Equal(Data(deferred, "messageKey"), Data(sent, "messageKey")); // one message: deferred, then sent
    }
}
