using Actors.Storage.Postgres;
using Npgsql;

namespace Actors.Silo.Hosting;

public static class DatabaseSetup
{
    public const string ConnectionStringName = "Postgres";

    /// <summary>
    /// Uses ConnectionStrings:Postgres when configured; otherwise starts (or adopts) the private server in the data
    /// folder. Either way the Orleans schema is applied before anything else touches the database.
    /// </summary>
    public static async Task<EmbeddedPostgres?> AddActorsDatabaseAsync(this IHostApplicationBuilder builder, bool ownAdoptedServer)
    {
        using var loggerFactory = LoggerFactory.Create(b => b.AddConsole().AddConfiguration(builder.Configuration.GetSection("Logging")));
        var logger = loggerFactory.CreateLogger("Actors.Database");

        var connectionString = builder.Configuration.GetConnectionString(ConnectionStringName);
        EmbeddedPostgres? server = null;
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            var options = new EmbeddedPostgresOptions
            {
                DataDirectory = DataDirectory(builder.Configuration),
                Port = builder.Configuration.GetValue<int?>("Actors:Postgres:Port"),
                OwnAdoptedServer = ownAdoptedServer,
                // Actors:Postgres:Settings:<name>=<value>, e.g. shared_preload_libraries=pg_stat_statements.
                ServerSettings = builder.Configuration.GetSection("Actors:Postgres:Settings").GetChildren()
                    .Where(c => c.Value is not null).ToDictionary(c => c.Key, c => c.Value!),
            };
            server = await EmbeddedPostgres.StartAsync(options, logger);
            connectionString = server.ConnectionString();
            builder.Configuration[$"ConnectionStrings:{ConnectionStringName}"] = connectionString;
        }
        else
        {
            logger.LogInformation("Using the configured PostgreSQL server at {Host}", new NpgsqlConnectionStringBuilder(connectionString).Host);
        }

        try
        {
            await OrleansSchema.ApplyAsync(connectionString);
        }
        catch
        {
            if (server is not null) await server.DisposeAsync();
            throw;
        }
        return server;
    }

    /// <summary>ACTORS_DATA_DIR, else ".data" at the top of the repository (found from the working folder), else beside the binaries.</summary>
    public static string DataDirectory(IConfiguration configuration)
    {
        if (configuration["ACTORS_DATA_DIR"] is { Length: > 0 } configured) return Path.GetFullPath(configured);
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Actors.sln"))) return Path.Combine(dir.FullName, ".data");
        }
        return Path.Combine(AppContext.BaseDirectory, ".data");
    }
}
