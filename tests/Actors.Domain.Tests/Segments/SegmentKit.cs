using System.Text.Json;
using Actors.Domain.Profiles;
using Actors.Domain.Segments;
using Actors.Domain.Tracking;

namespace Actors.Domain.Tests.Segments;

/// <summary>Rules from JSON text, profiles from events, and the events segment tests need.</summary>
internal static class SegmentKit
{
    public static readonly DateTimeOffset T0 = Make.T0;
    public static readonly TimeSpan Tick = TimeSpan.FromTicks(1);

    public static RuleParseResult Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return SegmentRule.Parse(doc.RootElement);
    }

    public static SegmentRule Rule(string json)
    {
        var result = Parse(json);
        Assert.True(result.IsValid, string.Join("; ", result.Errors.Select(e => $"{e.Path}: {e.Message}")));
        return result.Rule!;
    }

    public static VisitorProfile Profile(params VisitorEvent[] events)
    {
        var profile = new VisitorProfile("p1");
        foreach (var e in events) profile.Apply(e);
        return profile;
    }

    public static T Stamp<T>(T e, DateTimeOffset at) where T : VisitorEvent => e with { MessageId = Make.Id(), EventTime = at, ReceivedTime = at };

    public static CartItemAdded CartAdd(string sku, DateTimeOffset at, string? category = null, int quantity = 1) =>
        Stamp(new CartItemAdded(sku, category, quantity, 10m) { MessageId = "", EventTime = at, ReceivedTime = at }, at);

    public static CartItemRemoved CartRemove(string sku, DateTimeOffset at) =>
        Stamp(new CartItemRemoved(sku, 1) { MessageId = "", EventTime = at, ReceivedTime = at }, at);

    public static CheckoutStarted Checkout(DateTimeOffset at) =>
        Stamp(new CheckoutStarted("c1", 10m, "EUR") { MessageId = "", EventTime = at, ReceivedTime = at }, at);

    public static OrderRefunded Refund(string orderId, decimal amount, DateTimeOffset at) =>
        Stamp(new OrderRefunded(orderId, amount, "EUR") { MessageId = "", EventTime = at, ReceivedTime = at }, at);

    public static AttributesUpdated Attributes(DateTimeOffset at, params (string Key, string? Value)[] values) =>
        Stamp(new AttributesUpdated(values.ToDictionary(v => v.Key, v => v.Value), "crm") { MessageId = "", EventTime = at, ReceivedTime = at }, at);

    public static ConsentGiven Consent(string channel, string purpose, DateTimeOffset at) =>
        Stamp(new ConsentGiven(channel, purpose) { MessageId = "", EventTime = at, ReceivedTime = at }, at);

    public static NewsletterUnsubscribed Unsubscribe(DateTimeOffset at) =>
        Stamp(new NewsletterUnsubscribed("too many", "email") { MessageId = "", EventTime = at, ReceivedTime = at }, at);

    public static PreferencesUpdated Preferences(DateTimeOffset at, string[]? topics = null, string? frequency = null, DateTimeOffset? pausedUntil = null, bool clearPause = false) =>
        Stamp(new PreferencesUpdated(topics, null, frequency, pausedUntil, clearPause) { MessageId = "", EventTime = at, ReceivedTime = at }, at);

    public static StageChanged StageTo(Actors.Domain.Lifecycle.Stage from, Actors.Domain.Lifecycle.Stage to, DateTimeOffset at, Actors.Domain.Lifecycle.LeadKind? kind = null) =>
        Stamp(new StageChanged(from, to, kind, "test") { MessageId = "", EventTime = at, ReceivedTime = at }, at);

    public static BehaviourTracked Custom(string name, DateTimeOffset at) =>
        Stamp(new BehaviourTracked(name, new Dictionary<string, string>()) { MessageId = "", EventTime = at, ReceivedTime = at }, at);
}
