using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Actors.Grains.Hosting;
using Actors.Silo.Hosting;
using Actors.Storage.Streams;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using JasperFx.Events;
using Marten;
using Npgsql;

namespace Actors.Benchmarks;

/// <summary>
/// The real host (embedded durable PostgreSQL, silo, API) in this process on a loopback port, in a throwaway data
/// folder that is deleted at the end.
/// </summary>
public sealed class BenchHost : IAsyncDisposable
{
    public const string IngestKey = "bench-ingest-key-0123456789";
    public const string MarketingKey = "bench-marketing-key-0123456789";

    private BenchHost(ActorsHost host, string dataDirectory, Uri baseAddress)
    {
        Host = host;
        DataDirectory = dataDirectory;
        BaseAddress = baseAddress;
        Database = NpgsqlDataSource.Create(host.Postgres!.ConnectionString());
        WalCounters.Watch(Database);
    }

    public ActorsHost Host { get; }
    public string DataDirectory { get; }
    public Uri BaseAddress { get; }

    /// <summary>The same server and database as the host, for the raw INSERT ceiling.</summary>
    public NpgsqlDataSource Database { get; }

    public IGrainFactory Grains => Host.App.Services.GetRequiredService<IGrainFactory>();
    public IVisitorStreams Streams => Host.App.Services.GetRequiredService<IVisitorStreams>();
    public ProfileHistory History => Host.App.Services.GetRequiredService<ProfileHistory>();
    public ActorsSettings Settings => Host.App.Services.GetRequiredService<ActorsSettings>();

    /// <param name="quickAppend">Experiment: Marten's Quick append mode instead of the host's configuration.</param>
    /// <param name="extra">More host arguments (the delivery group's SMTP server).</param>
    public static async Task<BenchHost> StartAsync(bool quickAppend = false, IEnumerable<string>? extra = null)
    {
        // /tmp: as root the server runs as the postgres user, which must be able to reach the folder.
        var dataDirectory = Path.Combine(Path.GetTempPath(), $"actors-bench-{Guid.NewGuid():N}");
        string[] args =
        [
            $"--ACTORS_DATA_DIR={dataDirectory}",
            "--urls=http://127.0.0.1:0",
            $"--Actors:Silo:SiloPort={FreePort()}",
            $"--Actors:Silo:GatewayPort={FreePort()}",
            "--Actors:Api:RequestsPerSecondPerKey=10000000",
            "--Actors:Outbound:AllowPrivateNetworks=true", // the scenarios' receivers listen on loopback
            $"--ACTORS_BOOTSTRAP_INGEST_KEY={IngestKey}",
            $"--ACTORS_BOOTSTRAP_MARKETING_KEY={MarketingKey}",
            // Journeys: no quiet hours and no marketing cap, so every send step is decided "sent" whatever the hour.
            "--Actors:Messages:QuietFrom=00:00",
            "--Actors:Messages:QuietUntil=00:00",
            "--Actors:Messages:MarketingCap=0",
            // Statement counts for the ingest diagnostics (IngestDiagnostics); costs every statement a little, the
            // INSERT reference as much as the host.
            "--Actors:Postgres:Settings:shared_preload_libraries=pg_stat_statements",
            "--Logging:LogLevel:Default=Warning",
            // Host warnings go to stderr with the progress; stdout is for the table.
            "--Logging:Console:LogToStandardErrorThreshold=Trace",
        ];
        ActorsHost? host = null;
        try
        {
            host = await ActorsHost.CreateAsync([.. args, .. extra ?? []], quickAppend
                ? builder => builder.Services.ConfigureMarten(o => o.Events.AppendMode = EventAppendMode.Quick)
                : null);
            await host.App.StartAsync();
            var address = host.App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new BenchHost(host, dataDirectory, new Uri(address));
        }
        catch
        {
            if (host is not null) await host.DisposeAsync();
            TryDelete(dataDirectory);
            throw;
        }
    }

    /// <summary>One client for a load phase; as many connections as workers, so no request waits for a socket.</summary>
    public HttpClient Client(int connections, string key = IngestKey)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            UseProxy = false,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        };
        var client = new HttpClient(handler) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        await Database.DisposeAsync();
        try
        {
            await Host.App.StopAsync();
        }
        finally
        {
            await Host.DisposeAsync();
            TryDelete(DataDirectory);
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
        catch (Exception e)
        {
            Progress.Line($"could not delete {directory}: {e.Message}");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
