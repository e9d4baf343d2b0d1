using Actors.Storage.Postgres;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Actors.Integration.Tests.Support;

/// <summary>
/// One PostgreSQL server for the whole test run: the embedded launcher on a throwaway folder (fsync off), or the
/// server named by ACTORS_TEST_POSTGRES (a connection string with rights to create databases). Each test class gets
/// a database of its own, dropped afterwards.
/// </summary>
public static class TestPostgres
{
    private static readonly Lazy<Task<Server>> Instance = new(StartAsync);

    private sealed record Server(string AdminConnectionString, EmbeddedPostgres? Embedded, string? Folder);

    public static async Task<string> CreateDatabaseAsync(string purpose)
    {
        var server = await Instance.Value;
        var name = $"t_{new string(purpose.ToLowerInvariant().Where(char.IsLetterOrDigit).Take(30).ToArray())}_{Guid.NewGuid():N}";
        name = name[..Math.Min(name.Length, 60)];
        await using (var connection = new NpgsqlConnection(server.AdminConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await create.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(server.AdminConnectionString) { Database = name }.ConnectionString;
    }

    public static async Task DropDatabaseAsync(string connectionString)
    {
        var server = await Instance.Value;
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database;
        NpgsqlConnection.ClearAllPools();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var connection = new NpgsqlConnection(server.AdminConnectionString);
                await connection.OpenAsync();
                await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
                await drop.ExecuteNonQueryAsync();
                return;
            }
            // A starved machine may time the drop out: once more, then let the failure show.
            catch (NpgsqlException e) when (e.IsTransient && attempt < 2)
            {
                await Task.Delay(TimeSpan.FromSeconds(2));
            }
        }
    }

    /// <summary>A fresh folder for a test that runs its own embedded server (restart tests).</summary>
    public static string NewDataFolder()
    {
        var folder = Path.Combine(Path.GetTempPath(), $"actors-test-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        return folder;
    }

    private static async Task<Server> StartAsync()
    {
        if (Environment.GetEnvironmentVariable("ACTORS_TEST_POSTGRES") is { Length: > 0 } given)
            return new Server(given, null, null);

        var folder = NewDataFolder();
        var embedded = await EmbeddedPostgres.StartAsync(
            new EmbeddedPostgresOptions
            {
                DataDirectory = folder, Durable = false, Database = "postgres",
                // Every test host (a silo, its pools, the daemon) shares this one server: at the suite's busiest moment
                // 285-289 client connections were counted against the host's default of 300 (297 usable), and one more
                // pool opening then is refused (53300) in the middle of whatever test it serves.
                ServerSettings = new Dictionary<string, string> { ["max_connections"] = "600" },
            }, NullLogger.Instance);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            embedded.StopAsync().GetAwaiter().GetResult();
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        // The product's 5 s bound on opening a connection is for a request that should fail fast. The suite at its busiest
        // keeps 15-30 threads runnable on 2 cores (chromium, silo processes, a few hundred backends): a bash loop meant to
        // tick every second ticked every 4-6 s, and CI failed twice on connections that took longer than 5 s to open.
        var admin = new NpgsqlConnectionStringBuilder(embedded.ConnectionString("postgres")) { Timeout = 30 };
        return new Server(admin.ConnectionString, embedded, folder);
    }
}
