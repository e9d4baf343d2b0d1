using System.Net.Http.Headers;
using Actors.Silo.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Actors.Integration.Tests.Support;

/// <summary>
/// The real host (silo + API) on a database of its own, listening on a loopback port: tests speak HTTP to it.
/// Lifecycle thresholds are seconds, not days, so inactivity can be observed.
/// </summary>
public class HostFixture : IAsyncLifetime
{
    public const string AdminKey = "test-admin-key-0123456789";
    public const string MarketingKey = "test-marketing-key-0123456789";
    public const string IngestKey = "test-ingest-key-0123456789";

    private string _connectionString = "";
    public ActorsHost Host { get; private set; } = null!;
    public Uri BaseAddress { get; private set; } = null!;
    public string ConnectionString => _connectionString;
    public IGrainFactory Grains => Host.App.Services.GetRequiredService<IGrainFactory>();

    protected virtual IEnumerable<string> ExtraArguments() => [];

    /// <summary>Services a test class adds to the host (e.g. a provider's counterpart on loopback).</summary>
    protected virtual void Customize(Microsoft.AspNetCore.Builder.WebApplicationBuilder builder) { }

    public async Task InitializeAsync()
    {
        _connectionString = await TestPostgres.CreateDatabaseAsync(GetType().Name);
        string[] args =
        [
            $"--ConnectionStrings:Postgres={_connectionString}",
            "--urls=http://127.0.0.1:0",
            $"--Actors:Silo:SiloPort={FreePorts.Next()}",
            $"--Actors:Silo:GatewayPort={FreePorts.Next()}",
            "--Actors:Silo:MinimumReminderPeriod=00:00:01",
            "--Actors:Silo:ReminderRefreshPeriod=00:00:02",
            "--Actors:Lifecycle:AtRiskAfter=00:00:03",
            "--Actors:Lifecycle:LapsedAfter=00:00:06",
            "--Actors:WakeUpPeriod=00:00:01",
            "--Actors:Api:RequestsPerSecondPerKey=100000",
            // Webhook receivers, gateways and push services of tests listen on loopback.
            "--Actors:Outbound:AllowPrivateNetworks=true",
            $"--ACTORS_BOOTSTRAP_ADMIN_KEY={AdminKey}",
            $"--ACTORS_BOOTSTRAP_MARKETING_KEY={MarketingKey}",
            $"--ACTORS_BOOTSTRAP_INGEST_KEY={IngestKey}",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Actors.Grains.Visitors.VisitorGrain=Debug",
            .. ExtraArguments(),
        ];
        Host = await ActorsHost.CreateAsync(args, Customize);
        await Host.App.StartAsync();
        var address = Host.App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address);
    }

    public HttpClient Client(string? key = IngestKey)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        if (key is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public async Task DisposeAsync()
    {
        await Host.App.StopAsync();
        await Host.DisposeAsync();
        await TestPostgres.DropDatabaseAsync(_connectionString);
    }
}
