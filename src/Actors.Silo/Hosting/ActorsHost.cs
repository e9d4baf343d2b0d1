using Actors.Api;
using Actors.Dashboard;
using Actors.Storage.Postgres;

namespace Actors.Silo.Hosting;

/// <summary>
/// Builds the one Actors process: database (embedded or configured), silo, API. Tests and benchmarks build the
/// same host with other arguments, so they exercise exactly what runs in production.
/// </summary>
public sealed class ActorsHost : IAsyncDisposable
{
    private ActorsHost(WebApplication app, EmbeddedPostgres? postgres)
    {
        App = app;
        Postgres = postgres;
    }

    public const string DefaultUrl = "http://localhost:5080";

    public WebApplication App { get; }

    /// <summary>The private server this host started, or null when a connection string was configured.</summary>
    public EmbeddedPostgres? Postgres { get; }

    public static async Task<ActorsHost> CreateAsync(string[] args, Action<WebApplicationBuilder>? customize = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            // Configuration (silo-config/appsettings*.json) is copied next to the binaries.
            ContentRootPath = AppContext.BaseDirectory,
        });

        // ASPNETCORE_URLS or --urls choose the address; without them, the product's default port.
        if (string.IsNullOrWhiteSpace(builder.Configuration["urls"])) builder.WebHost.UseUrls(DefaultUrl);

        var postgres = await builder.AddActorsDatabaseAsync(ownAdoptedServer: true);
        try
        {
            builder.AddActorsTelemetry();
            builder.AddActorsSilo();
            builder.Services.AddActorsApi(builder.Configuration);
            if (postgres is not null) AddSupervisor(builder, postgres);
            customize?.Invoke(builder);

            var app = builder.Build();
            LogCollector(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Actors.Host"));
            app.UseClusterDashboardChallenge();
            app.MapActorsApi();
            app.MapActorsDashboard();
            app.MapClusterDashboard();
            return new ActorsHost(app, postgres);
        }
        catch
        {
            if (postgres is not null) await postgres.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The collector's settings shape every pause a request can wait through, and the project file sets one of them
    /// (gen0's budget, see Actors.Silo.csproj), so the log says what this process runs with.
    /// </summary>
    private static void LogCollector(ILogger logger)
    {
        var settings = GC.GetConfigurationVariables();
        var server = settings.TryGetValue("ServerGC", out var s) && s is true;
        var heaps = settings.TryGetValue("HeapCount", out var h) ? Convert.ToInt64(h, System.Globalization.CultureInfo.InvariantCulture) : 1;
        var budget = settings.TryGetValue("GCGen0MaxBudget", out var b) ? Convert.ToInt64(b, System.Globalization.CultureInfo.InvariantCulture) : 0;
        logger.LogInformation("Garbage collector: {Kind}, {Heaps} heaps, gen0 budget at most {Gen0BudgetMegabytes} MB per heap",
            server ? "server" : "workstation", heaps, budget / (1024 * 1024));
    }

    private static void AddSupervisor(WebApplicationBuilder builder, EmbeddedPostgres postgres)
    {
        var settings = PostgresSupervisorSettings.From(builder.Configuration);
        if (!settings.Supervise) return;
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(postgres); // an instance: the container does not dispose it, the host stops it last
        builder.Services.AddSingleton<EmbeddedPostgresSupervisor>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<EmbeddedPostgresSupervisor>());
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        // The database goes last: the silo and API flush to it while they stop.
        if (Postgres is not null) await Postgres.DisposeAsync();
    }
}
