using System.Text.Json;
using Actors.Domain.Journeys;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Domain.Tests.Privacy;

public class ConsentRecordTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly PolicySettings NoQuiet = new() { QuietFrom = new(0, 0), QuietUntil = new(0, 0) };

    private static ConsentGiven Given(string channel, DateTimeOffset at, string? source = null, string? version = null) =>
        new(channel, "marketing") { MessageId = $"g-{channel}-{at.Ticks}", EventTime = at, ReceivedTime = at, Source = source, WordingVersion = version };

    private static ConsentWithdrawn Withdrawn(string channel, DateTimeOffset at, string? source = null) =>
        new(channel, "marketing") { MessageId = $"w-{channel}-{at.Ticks}", EventTime = at, ReceivedTime = at, Source = source };

    [Theory]
    [InlineData("email")]
    [InlineData("sms")]
    [InlineData("push")]
    [InlineData("web")]
    [InlineData("webhook")]
    public void A_withdrawn_consent_suppresses_marketing_on_its_channel(string channel)
    {
        var profile = Make.Reachable("p1");
        profile.Apply(Given(channel, T0.AddDays(-2), "checkout", "v1"));
        var message = new MessageRequest(channel, null, null, MessageKind.Marketing);
        Assert.Equal(PolicyOutcome.Send, MessagePolicy.Decide(profile, message, T0, NoQuiet).Outcome);

        profile.Apply(Withdrawn(channel, T0.AddDays(-1), "preference_centre"));
        var decision = MessagePolicy.Decide(profile, message, T0, NoQuiet);
        Assert.Equal(PolicyOutcome.Suppress, decision.Outcome);
        Assert.Equal($"consent_withdrawn:{channel}:marketing", decision.Reason);
    }

    [Fact]
    public void The_profile_keeps_the_latest_record_per_consent_with_its_source_and_wording_through_a_snapshot()
    {
        var profile = new VisitorProfile("p1");
        profile.Apply(Given("email", T0.AddDays(-3), "checkout", "v1"));
        profile.Apply(Withdrawn("email", T0.AddDays(-2), "one_click"));
        profile.Apply(Given("sms", T0.AddDays(-1), "tracking_api", "sms-v4"));

        var restored = JsonSerializer.Deserialize<VisitorProfile>(JsonSerializer.Serialize(profile))!;
        Assert.Equal(new ConsentRecord("withdrawn", T0.AddDays(-2), "one_click", null), restored.ConsentRecords!["email:marketing"]);
        Assert.Equal(new ConsentRecord("given", T0.AddDays(-1), "tracking_api", "sms-v4"), restored.ConsentRecords["sms:marketing"]);
    }

    [Fact]
    public void Consent_events_without_source_or_wording_read_as_before()
    {
        // Stored before source and wording were kept: no such members in the JSON, and none written when null.
        var old = """{"$type":"consent_given","channel":"email","purpose":"marketing","MessageId":"m1","EventTime":"2026-03-01T12:00:00+00:00","ReceivedTime":"2026-03-01T12:00:00+00:00"}""";
        var e = Assert.IsType<ConsentGiven>(JsonSerializer.Deserialize<VisitorEvent>(old, new JsonSerializerOptions { PropertyNameCaseInsensitive = true }));
        Assert.Null(e.Source);
        Assert.Null(e.WordingVersion);
        Assert.DoesNotContain("Source", JsonSerializer.Serialize<VisitorEvent>(e));
    }
}
