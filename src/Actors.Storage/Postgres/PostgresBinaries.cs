namespace Actors.Storage.Postgres;

/// <summary>Finds the machine's PostgreSQL server programs (initdb, pg_ctl, postgres).</summary>
public static class PostgresBinaries
{
    public const string InstallHint =
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found in PATH or /usr/lib/postgresql/*/bin. " +
        "Install them (Debian/Ubuntu: 'apt-get install postgresql'), or set ConnectionStrings__Postgres to use an existing server.";

    public static string? TryFind()
    {
        var candidates = new List<string>();
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            candidates.Add(dir);

        const string debianRoot = "/usr/lib/postgresql";
        if (Directory.Exists(debianRoot))
        {
            // Newest major version first.
            candidates.AddRange(Directory.GetDirectories(debianRoot)
                .Select(d => (Dir: d, Version: int.TryParse(Path.GetFileName(d), out var v) ? v : 0))
                .OrderByDescending(x => x.Version)
                .Select(x => Path.Combine(x.Dir, "bin")));
        }

        return candidates.FirstOrDefault(dir =>
            File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl")) && File.Exists(Path.Combine(dir, "postgres")));
    }

    public static string Find() => TryFind() ?? throw new InvalidOperationException(InstallHint);
}
