using Actors.Domain.Tracking;

namespace Actors.Domain.Tests;

/// <summary>Events for tests: each with its own message id, at a given time.</summary>
internal static class Make
{
    private static int _next;
    public static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    public static T At<T>(this T e, DateTimeOffset at) where T : VisitorEvent => e with { EventTime = at, ReceivedTime = at };

    public static string Id() => $"m{Interlocked.Increment(ref _next)}";

    public static ProductViewed View(string sku, string? category, DateTimeOffset at) =>
        new(sku, category, null, 10m) { MessageId = Id(), EventTime = at, ReceivedTime = at };

    public static OrderPlaced Order(string orderId, decimal total, DateTimeOffset at, SalesChannel channel = SalesChannel.Online) =>
        new(orderId, [new OrderLine("sku-1", "shoes", 1, total)], total, "EUR", channel) { MessageId = Id(), EventTime = at, ReceivedTime = at };

    public static NewsletterSubscribed Newsletter(DateTimeOffset at) => new("footer") { MessageId = Id(), EventTime = at, ReceivedTime = at };

    public static Registered Account(DateTimeOffset at) => new(RegistrationKind.Account) { MessageId = Id(), EventTime = at, ReceivedTime = at };

    /// <summary>A visitor with an address on every channel that needs one (email, phone, a push subscription), and nothing else.</summary>
    public static Profiles.VisitorProfile Reachable(string profileId)
    {
        var at = T0.AddDays(-200);
        var profile = new Profiles.VisitorProfile(profileId);
        profile.Apply(new AttributesUpdated(new Dictionary<string, string?> { ["email"] = $"{profileId}@example.test", ["phone"] = "+34600000001" }, "crm")
            { MessageId = Id(), EventTime = at, ReceivedTime = at });
        profile.Apply(new PushSubscribed($"https://push.example.test/{profileId}", "p256dh", "auth") { MessageId = Id(), EventTime = at, ReceivedTime = at });
        return profile;
    }
}
