using System.Diagnostics;
using Actors.Silo.Hosting;
using Actors.Storage.Postgres;
using Npgsql;

namespace Actors.Silo.Commands;

/// <summary>
/// Backup and restore of the host's database with the PostgreSQL installation's own pg_dump and pg_restore:
///   backup &lt;file&gt;    a custom-format dump (compressed; consistent while the host runs)
///   restore &lt;file&gt;   into the configured database, replacing what is there; refused while a host uses the embedded server
/// Works on the embedded server (ACTORS_DATA_DIR) or on ConnectionStrings:Postgres, like the other commands.
/// </summary>
public static class BackupCommands
{
    public static bool IsCommand(string[] args) => args.Length > 0 && args[0] is "backup" or "restore";

    public static async Task<int> RunAsync(string[] args)
    {
        var file = args.Length > 1 && !args[1].StartsWith("--", StringComparison.Ordinal) ? Path.GetFullPath(args[1]) : null;
        if (file is null)
        {
            await Console.Error.WriteLineAsync($"usage: {args[0]} <file>");
            return 2;
        }
        if (args[0] == "restore" && !File.Exists(file))
        {
            await Console.Error.WriteLineAsync($"no backup at {file}");
            return 2;
        }
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = [.. args.Where(a => a.StartsWith("--", StringComparison.Ordinal) && a.Contains('='))],
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration["Logging:LogLevel:Default"] = "Warning";
        await using var postgres = await builder.AddActorsDatabaseAsync(ownAdoptedServer: false);
        var connection = new NpgsqlConnectionStringBuilder(builder.Configuration.GetConnectionString(DatabaseSetup.ConnectionStringName));
        try
        {
            if (args[0] == "backup")
            {
                var started = Stopwatch.StartNew();
                await RunToolAsync("pg_dump", connection, ["--format=custom", "--no-owner", "--no-privileges", $"--file={file}", $"--dbname={connection.Database}"]);
                Console.WriteLine($"backed up database {connection.Database} to {file} ({new FileInfo(file).Length / 1024} KiB) in {started.ElapsedMilliseconds} ms");
                return 0;
            }
            // A running host holds grains and caches of the database it has; replacing it underneath would corrupt both.
            if (postgres is { Adopted: true })
            {
                await Console.Error.WriteLineAsync($"a host is running on the embedded server in {postgres.DataDirectory}: stop it before restoring");
                return 1;
            }
            var timer = Stopwatch.StartNew();
            await RunToolAsync("pg_restore", connection,
                ["--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error", $"--dbname={connection.Database}", file]);
            Console.WriteLine($"restored {file} into database {connection.Database} in {timer.ElapsedMilliseconds} ms");
            return 0;
        }
        catch (InvalidOperationException e)
        {
            await Console.Error.WriteLineAsync(e.Message);
            return 1;
        }
    }

    /// <summary>Connection details come as arguments and PGPASSWORD, so the password is on no command line.</summary>
    private static async Task RunToolAsync(string tool, NpgsqlConnectionStringBuilder connection, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(PostgresBinaries.FindTool(tool))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add($"--host={connection.Host}");
        info.ArgumentList.Add($"--port={connection.Port}");
        info.ArgumentList.Add($"--username={connection.Username}");
        info.ArgumentList.Add("--no-password");
        foreach (var a in arguments) info.ArgumentList.Add(a);
        info.Environment["PGPASSWORD"] = connection.Password ?? "";
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{tool} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var output = (await stdout + await stderr).Trim();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{tool} exited with code {process.ExitCode}: {output}");
    }
}
