using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Actors.Storage.Postgres;

public sealed record EmbeddedPostgresOptions
{
    /// <summary>Folder that holds the server's data ("postgres/"), log and credentials.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Loopback port; a free one is chosen when null.</summary>
    public int? Port { get; init; }

    /// <summary>The application database, created when missing.</summary>
    public string Database { get; init; } = "actors";

    /// <summary>
    /// False trades crash safety for speed (fsync off): only for throwaway test servers, never for data you keep.
    /// </summary>
    public bool Durable { get; init; } = true;

    /// <summary>
    /// Whether a server found already running (left by a host that was killed) is ours to stop on dispose.
    /// The host owns it; a command-line tool that borrows a running host's server must not stop it.
    /// </summary>
    public bool OwnAdoptedServer { get; init; } = true;

    /// <summary>
    /// Extra server settings passed as <c>-c name=value</c> when this server is launched (not when one is adopted), for
    /// example <c>shared_preload_libraries=pg_stat_statements</c> for the benchmark's diagnostics. Names and values are
    /// limited to letters, digits and <c>_ . , -</c>: pg_ctl hands them to a shell.
    /// </summary>
    public IReadOnlyDictionary<string, string> ServerSettings { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// A private PostgreSQL server started from the machine's binaries, in a data folder we own, on a loopback port.
/// A server left running by a host that was killed is found through its postmaster.pid and adopted.
/// </summary>
public sealed partial class EmbeddedPostgres : IAsyncDisposable
{
    private const string SuperUser = "actors";
    private readonly ProcessRunner _runner;
    private readonly string _binaries;
    private readonly ILogger _logger;
    private int _stopped;

    private EmbeddedPostgres(EmbeddedPostgresOptions options, ProcessRunner runner, string binaries, ILogger logger)
    {
        Options = options;
        _runner = runner;
        _binaries = binaries;
        _logger = logger;
        DataDirectory = Path.GetFullPath(options.DataDirectory);
        ClusterDirectory = Path.Combine(DataDirectory, "postgres");
    }

    public EmbeddedPostgresOptions Options { get; }
    public string DataDirectory { get; }
    public string ClusterDirectory { get; }
    public int Port { get; private set; }
    public bool Adopted { get; private set; }
    private string Password { get; set; } = "";

    public string ConnectionString(string? database = null) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = SuperUser,
        Password = Password,
        Database = database ?? Options.Database,
        MaxPoolSize = 200,
        // Opening a connection gives up after this (Npgsql's default is 15 s): a server that is hung or still coming
        // back makes a request answer 503 within seconds rather than hold it.
        Timeout = 5,
    }.ConnectionString;

    public static async Task<EmbeddedPostgres> StartAsync(EmbeddedPostgresOptions options, ILogger logger, CancellationToken ct = default)
    {
        var server = new EmbeddedPostgres(options, ProcessRunner.ForCurrentUser(), PostgresBinaries.Find(), logger);
        await server.StartAsync(ct);
        return server;
    }

    private async Task StartAsync(CancellationToken ct)
    {
        Directory.CreateDirectory(DataDirectory);
        Password = LoadOrCreatePassword();

        if (!File.Exists(Path.Combine(ClusterDirectory, "PG_VERSION")))
            await InitializeClusterAsync(ct);

        if (TryFindRunningServer() is { } running)
        {
            Port = running.Port;
            Adopted = true;
            LogAdopting(running.Pid, Port, ClusterDirectory);
        }
        else
        {
            Port = Options.Port ?? FreeLoopbackPort();
            await LaunchAsync(ct);
        }

        await WaitUntilAcceptingAsync(ct);
        await EnsureDatabaseAsync(ct);
    }

    private string LoadOrCreatePassword()
    {
        var file = Path.Combine(DataDirectory, "postgres-credentials");
        if (File.Exists(file)) return File.ReadAllText(file).Trim();
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(18)).ToLowerInvariant();
        File.WriteAllText(file, password);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return password;
    }

    private async Task InitializeClusterAsync(CancellationToken ct)
    {
        LogInitializing(ClusterDirectory, _binaries);
        if (Directory.Exists(ClusterDirectory)) Directory.Delete(ClusterDirectory, recursive: true); // a half-made cluster from an interrupted initdb
        Directory.CreateDirectory(ClusterDirectory);
        _runner.GiveOwnership(ClusterDirectory);
        EnsureReachableByServerUser();

        var passwordFile = Path.Combine(ClusterDirectory, "..", $".initdb-password-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(passwordFile, Password, ct);
        _runner.GiveOwnership(passwordFile);
        try
        {
            await _runner.RunAsync(Path.Combine(_binaries, "initdb"),
            [
                "-D", ClusterDirectory, "-U", SuperUser, "--pwfile", passwordFile,
                "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--no-locale",
            ], ct);
        }
        catch
        {
            Directory.Delete(ClusterDirectory, recursive: true);
            throw;
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    private void EnsureReachableByServerUser()
    {
        if (_runner.RunAsUser is null) return;
        // The server user must be able to walk down to its folder; a folder under a private home will not do.
        for (var dir = new DirectoryInfo(DataDirectory); dir is not null; dir = dir.Parent)
        {
            if (OperatingSystem.IsWindows()) return;
            var mode = File.GetUnixFileMode(dir.FullName);
            if ((mode & UnixFileMode.OtherExecute) == 0)
                throw new InvalidOperationException(
                    $"The data folder {DataDirectory} is inside {dir.FullName}, which the '{_runner.RunAsUser}' user cannot enter. " +
                    "Set ACTORS_DATA_DIR to a folder it can reach (for example under /var/lib or /tmp).");
        }
    }

    private (int Pid, int Port)? TryFindRunningServer()
    {
        var pidFile = Path.Combine(ClusterDirectory, "postmaster.pid");
        if (!File.Exists(pidFile)) return null;
        string[] lines;
        try { lines = File.ReadAllLines(pidFile); }
        catch (IOException) { return null; }
        if (lines.Length < 4 || !int.TryParse(lines[0], out var pid) || !int.TryParse(lines[3], out var port)) return null;

        var comm = $"/proc/{pid}/comm";
        string? program;
        try { program = File.Exists(comm) ? File.ReadAllText(comm).Trim() : null; }
        catch (IOException) { program = null; } // the process ended between the two reads
        if (program is "postgres" or "postmaster" && !IsZombie(pid))
            return (pid, port);

        // The server died with its host (power loss, SIGKILL of a container), or alone and nobody reaped it yet. If its
        // pid now belongs to another program or to a zombie, postgres would refuse to start (kill(pid, 0) succeeds),
        // so the stale lock file goes. A pid that is simply gone, postgres clears itself.
        if (program is not null)
        {
            LogRemovingStalePidFile(pid);
            File.Delete(pidFile);
        }
        return null;
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            // "pid (comm) S ...": the state follows the last parenthesis (comm may hold spaces and parentheses).
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] is 'Z' or 'X';
        }
        catch (IOException) { return true; }
        catch (UnauthorizedAccessException) { return false; }
    }

    /// <summary>
    /// True while the postmaster named in postmaster.pid lives. Cheap (a file and /proc), for a supervisor to poll.
    /// A stale pid file is dealt with as at startup.
    /// </summary>
    public bool IsRunning => TryFindRunningServer() is not null;

    /// <summary>True once <see cref="StopAsync"/> was called: the server is meant to be down, not to be restarted.</summary>
    public bool StopRequested => Volatile.Read(ref _stopped) == 1;

    /// <summary>
    /// Starts the server again after it died, on the same folder and port: crash recovery replays the WAL. A server
    /// found running again (someone else started it) is left as it is. Returns once it accepts connections.
    /// </summary>
    public async Task RestartAsync(CancellationToken ct = default)
    {
        if (StopRequested) throw new InvalidOperationException("The embedded PostgreSQL server was stopped on purpose; it is not restarted.");
        if (TryFindRunningServer() is null) await LaunchAsync(ct);
        await WaitUntilAcceptingAsync(ct);
    }

    private async Task LaunchAsync(CancellationToken ct)
    {
        // autovacuum_naptime: the outbox's dead rows (three per message) are vacuumed within 10 s, not a minute.
        // max_wal_size, checkpoint_timeout, wal_compression: under a steady write load PostgreSQL's 1 GB of WAL forced a
        // checkpoint every 15-25 s, and every page written first after a checkpoint starts goes to the WAL whole: a burst
        // of full-page images that stalled the appends of that second (a journey's p99 sat in the seconds after a
        // checkpoint started). Checkpoints now come every 15 min or 8 GB of WAL, and the page images are compressed. With
        // 4 GB a checkpoint still started every 3 min under the benchmark's heaviest writes (a trigger of 100,000 decided
        // messages writes about 11 KB of WAL each); the price is up to 8 GB in pg_wal and a longer replay after a crash.
        var settings = $"-p {Port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=300 -c shared_buffers=256MB -c autovacuum_naptime=10s" +
            " -c max_wal_size=8GB -c checkpoint_timeout=15min -c wal_compression=lz4";
        if (!Options.Durable) settings += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off";
        foreach (var (name, value) in Options.ServerSettings)
        {
            if (!IsPlainSetting(name) || !IsPlainSetting(value))
                throw new ArgumentException($"The server setting '{name}' = '{value}' may hold only letters, digits and _ . , -");
            settings += $" -c {name}={value}";
        }
        var log = Path.Combine(DataDirectory, "postgres.log");
        if (!File.Exists(log)) await File.WriteAllTextAsync(log, "", ct);
        _runner.GiveOwnership(log);

        LogStarting(Port, ClusterDirectory);
        await _runner.RunAsync(Path.Combine(_binaries, "pg_ctl"), ["start", "-D", ClusterDirectory, "-l", log, "-w", "-t", "120", "-o", settings], ct);
    }

    private static bool IsPlainSetting(string text) =>
        text.Length > 0 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or ',' or '-');

    private async Task WaitUntilAcceptingAsync(CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
                await connection.OpenAsync(ct);
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or SocketException && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200, ct);
            }
        }
    }

    public async Task EnsureDatabaseAsync(CancellationToken ct) => await CreateDatabaseIfMissingAsync(Options.Database, ct);

    public async Task CreateDatabaseIfMissingAsync(string database, CancellationToken ct = default)
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync(ct);
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", connection);
        exists.Parameters.AddWithValue("name", database);
        if (await exists.ExecuteScalarAsync(ct) is not null) return;
        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database.Replace("\"", "\"\"")}\"", connection);
        try { await create.ExecuteNonQueryAsync(ct); }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DuplicateDatabase) { }
    }

    public async Task DropDatabaseAsync(string database, CancellationToken ct = default)
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync(ct);
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{database.Replace("\"", "\"\"")}\" WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync(ct);
    }

    public async Task StopAsync(CancellationToken ct = default)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1) return;
        NpgsqlConnection.ClearAllPools();
        if (Adopted && !Options.OwnAdoptedServer) return;
        LogStopping(Port);
        await _runner.RunAsync(Path.Combine(_binaries, "pg_ctl"), ["stop", "-D", ClusterDirectory, "-m", "fast", "-w", "-t", "60"], ct, throwOnError: false);
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Creating a PostgreSQL cluster in {ClusterDirectory} with the binaries in {Binaries}")]
    private partial void LogInitializing(string clusterDirectory, string binaries);

    [LoggerMessage(Level = LogLevel.Information, Message = "Starting the embedded PostgreSQL server on 127.0.0.1:{Port} for {ClusterDirectory}")]
    private partial void LogStarting(int port, string clusterDirectory);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Adopting a PostgreSQL server left running (pid {Pid}, port {Port}) for {ClusterDirectory}")]
    private partial void LogAdopting(int pid, int port, string clusterDirectory);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Removing a stale postmaster.pid whose pid {Pid} is no longer a live PostgreSQL server")]
    private partial void LogRemovingStalePidFile(int pid);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopping the embedded PostgreSQL server on port {Port}")]
    private partial void LogStopping(int port);
}
