using Actors.Domain.Lifecycle;
using Actors.Storage.Streams;

namespace Actors.Grains.Hosting;

/// <summary>What the grains need from configuration (section "Actors").</summary>
public sealed record ActorsSettings
{
    public LifecycleSettings Lifecycle { get; init; } = LifecycleSettings.Default;
    public EventStoreSettings EventStore { get; init; } = new();

    /// <summary>How often a known visitor's lifecycle reminder checks for inactivity.</summary>
    public TimeSpan WakeUpPeriod { get; init; } = TimeSpan.FromHours(6);

    public Segments.SegmentSettings Segments { get; init; } = new();

    public Segments.WebhookSettings Webhooks { get; init; } = new();
}
