using Actors.Domain.Lifecycle;
using Actors.Storage.Streams;

namespace Actors.Grains.Hosting;

/// <summary>What the grains need from configuration (section "Actors").</summary>
public sealed record ActorsSettings
{
    // A fresh instance: the configuration binder binds into the existing value, and a shared static default would be
    // rewritten by every host built in the process (tests run many; one host's 6 s lapse became another's 120 days).
    public LifecycleSettings Lifecycle { get; init; } = new();
    public EventStoreSettings EventStore { get; init; } = new();

    /// <summary>How often a known visitor's lifecycle reminder checks for inactivity.</summary>
    public TimeSpan WakeUpPeriod { get; init; } = TimeSpan.FromHours(6);

    public Segments.SegmentSettings Segments { get; init; } = new();

    public Segments.WebhookSettings Webhooks { get; init; } = new();

    /// <summary>The message policy journeys send under (section "Actors:Messages"); a fresh instance, as above.</summary>
    public Actors.Domain.Journeys.PolicySettings Messages { get; init; } = new();

    /// <summary>Journeys (section "Actors:Journeys"); a fresh instance, as above.</summary>
    public Journeys.JourneySettings Journeys { get; init; } = new();

    /// <summary>Delivery of decided messages (section "Actors:Channels").</summary>
    public Channels.ChannelSettings Channels { get; init; } = new();

    /// <summary>The on-site channel: message lifetime, popup rule, popularity window and refresh (section "Actors:OnSite").</summary>
    public Actors.Domain.Channels.OnSiteSettings OnSite { get; init; } = new();

    /// <summary>Web push (section "Actors:Push"); a fresh instance, as above.</summary>
    public Actors.Channels.Push.PushSettings Push { get; init; } = new();

    /// <summary>The SMS gateway (section "Actors:Sms"); unset: no SMS provider.</summary>
    public Actors.Channels.Sms.SmsSettings Sms { get; init; } = new();

    /// <summary>The event store's settings as a host uses them: the outbox's claim index is built for the channels' shard count.</summary>
    public EventStoreSettings EventStoreForHost => EventStore with { OutboxShards = Math.Max(1, Channels.Shards) };
}
