using Actors.Grains.Hosting;
using Actors.Storage.Postgres;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.TestingHost;

namespace Actors.Integration.Tests.Support;

/// <summary>
/// A two-silo Orleans TestCluster wired exactly as the host wires its silo, with ADO.NET clustering, grain state and
/// reminders on a PostgreSQL database of its own. Grain calls between the silos cross a real serializer.
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public TestCluster Cluster { get; private set; } = null!;
    public string ConnectionString { get; private set; } = "";

    public async Task InitializeAsync()
    {
        ConnectionString = await TestPostgres.CreateDatabaseAsync("cluster");
        await OrleansSchema.ApplyAsync(ConnectionString);
        var builder = new TestClusterBuilder(2);
        builder.Options.UseTestClusterMembership = false;
        // The silos take their ids from SiloSettings, as the host's do; the client must name the same cluster.
        builder.Options.ClusterId = new SiloSettings().ClusterId;
        builder.Options.ServiceId = new SiloSettings().ServiceId;
        builder.Properties["Postgres"] = ConnectionString;
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        builder.AddClientBuilderConfigurator<ClientConfigurator>();
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        await TestPostgres.DropDatabaseAsync(ConnectionString);
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            var settings = new ActorsSettings
            {
                Lifecycle = new() { AtRiskAfter = TimeSpan.FromSeconds(2), LapsedAfter = TimeSpan.FromSeconds(4) },
                WakeUpPeriod = TimeSpan.FromSeconds(1),
                EventStore = new() { SnapshotEvery = 50, RunProjections = false }, // two silos: a Solo daemon on each would apply every event twice
            };
            var silo = new SiloSettings { Clustering = ClusteringMode.AdoNet, ConfigureEndpoints = false, MinimumReminderPeriod = TimeSpan.FromSeconds(1), ReminderRefreshPeriod = TimeSpan.FromSeconds(2) };
            siloBuilder.AddActors(siloBuilder.Configuration["Postgres"]!, settings, silo);
        }
    }

    private sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(IConfiguration configuration, IClientBuilder clientBuilder)
        {
            clientBuilder.UseAdoNetClustering(o =>
            {
                o.Invariant = ActorsSilo.AdoNetInvariant;
                o.ConnectionString = configuration["Postgres"];
            });
            clientBuilder.Services.AddDomainSerialization();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}
