using System.Data.Common;
using Actors.Channels.Email;
using Actors.Channels.Push;
using Actors.Channels.Sms;
using Actors.Channels.Templates;
using Actors.Domain.Tracking;
using Actors.Grains.Identity;
using Actors.Grains.Journeys;
using Actors.Grains.Segments;
using Actors.Storage.Streams;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;
using Orleans.Configuration;
using Orleans.Serialization;

namespace Actors.Grains.Hosting;

public enum ClusteringMode { Localhost, AdoNet }

public sealed record SiloSettings
{
    public ClusteringMode Clustering { get; init; } = ClusteringMode.Localhost;
    public string ClusterId { get; init; } = "actors";
    public string ServiceId { get; init; } = "actors";
    public int SiloPort { get; init; } = 11111;
    public int GatewayPort { get; init; } = 30000;

    /// <summary>False when the caller (a test cluster) assigns the silo's ports itself.</summary>
    public bool ConfigureEndpoints { get; init; } = true;

    /// <summary>Orleans refuses reminder periods under a minute by default; tests lower it.</summary>
    public TimeSpan? MinimumReminderPeriod { get; init; }

    /// <summary>
    /// How often the silo re-reads the reminder table (Orleans' default: 5 minutes). A reminder registered while the
    /// reminder service is still starting can wait for that read; tests with second-long windows shorten it.
    /// </summary>
    public TimeSpan? ReminderRefreshPeriod { get; init; }
}

/// <summary>The silo wiring shared by the host and the test clusters, so tests run what production runs.</summary>
public static class ActorsSilo
{
    public const string AdoNetInvariant = "Npgsql";

    public static ISiloBuilder AddActors(this ISiloBuilder silo, string connectionString, ActorsSettings settings, SiloSettings siloSettings)
    {
        // Orleans' ADO.NET providers look the provider up by invariant name.
        DbProviderFactories.RegisterFactory(AdoNetInvariant, NpgsqlFactory.Instance);

        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = siloSettings.ClusterId;
            o.ServiceId = siloSettings.ServiceId;
        });

        switch (siloSettings.Clustering)
        {
            case ClusteringMode.Localhost:
                silo.UseLocalhostClustering(siloSettings.SiloPort, siloSettings.GatewayPort, serviceId: siloSettings.ServiceId, clusterId: siloSettings.ClusterId);
                break;
            case ClusteringMode.AdoNet:
                silo.UseAdoNetClustering(o =>
                {
                    o.Invariant = AdoNetInvariant;
                    o.ConnectionString = connectionString;
                });
                if (siloSettings.ConfigureEndpoints) silo.ConfigureEndpoints(siloSettings.SiloPort, siloSettings.GatewayPort);
                break;
        }

        silo.AddAdoNetGrainStorage(ActorsStorageNames.Identity, o =>
        {
            o.Invariant = AdoNetInvariant;
            o.ConnectionString = connectionString;
        });
        silo.UseAdoNetReminderService(o =>
        {
            o.Invariant = AdoNetInvariant;
            o.ConnectionString = connectionString;
        });
        silo.Configure<ReminderOptions>(o =>
        {
            if (siloSettings.MinimumReminderPeriod is { } minimum) o.MinimumReminderPeriod = minimum;
            if (siloSettings.ReminderRefreshPeriod is { } refresh) o.RefreshReminderListPeriod = refresh;
        });

        var services = silo.Services;
        services.AddDomainSerialization();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(settings);
        services.AddMetrics();
        services.TryAddSingleton<ActorsMetrics>();
        services.AddActorsEventStore(connectionString, settings.EventStoreForHost);
        if (settings.EventStore.RunProjections)
        {
            services.AddHostedService<Reporting.ReportDaemonBeacon>();
            if (settings.EventStore.PauseReportsForLargeTriggers) services.AddHostedService<Reporting.ReportsPause>();
        }
        services.AddSingleton<VisitorDirectory>();
        services.AddSingleton(settings.Segments);
        services.AddSingleton(settings.Messages);
        services.AddSingleton<SegmentCatalog>();
        services.AddHostedService(sp => sp.GetRequiredService<SegmentCatalog>());
        services.AddSingleton<SegmentBackfill>();
        services.AddSingleton(settings.Journeys);
        services.AddSingleton<JourneyTriggers>();
        services.AddSingleton(settings.Webhooks);
        Actors.Channels.ChannelServices.AddOutboundAddressGuard(services);
        services.AddHttpClient(WebhookDispatcher.HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(sp => sp.GetRequiredService<Actors.Channels.Delivery.OutboundAddressGuard>().Handler());
        services.AddHostedService<WebhookDispatcher>();
        services.AddSingleton(settings.Channels);
        services.AddSingleton<Channels.ProviderThreads>();
        services.TryAddSingleton<OutageLog>();
        Actors.Channels.ChannelServices.AddActorsChannels(services);
        services.AddEmailChannel();
        services.AddHostedService<Channels.ChannelDispatch>();
        services.AddSingleton<LargeTriggerHold>();
        services.AddSingleton(settings.OnSite);
        services.AddSingleton<Actors.Storage.Channels.PopularityFeed>();
        services.AddSingleton<Channels.PopularityBoard>();
        services.AddHostedService(sp => sp.GetRequiredService<Channels.PopularityBoard>());
        services.AddWebPush(settings.Push);
        services.AddSmsGateway(settings.Sms);
        services.AddMessageTemplates();
        return silo;
    }
}
