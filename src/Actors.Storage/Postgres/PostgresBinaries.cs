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

    /// <summary>
    /// A client program (pg_dump, pg_restore) of the same installation as the server programs: beside the real pg_ctl
    /// (Debian links /usr/local/bin/pg_ctl to /usr/lib/postgresql/N/bin), so its version matches the server's.
    /// </summary>
    public static string FindTool(string name)
    {
        var serverDir = Find();
        var pgCtl = new FileInfo(Path.Combine(serverDir, "pg_ctl"));
        var realDir = pgCtl.ResolveLinkTarget(returnFinalTarget: true) is { } target ? Path.GetDirectoryName(target.FullName)! : serverDir;
        foreach (var dir in new[] { realDir, serverDir })
        {
            var path = Path.Combine(dir, name);
            if (File.Exists(path)) return path;
        }
        throw new InvalidOperationException($"{name} was not found beside the PostgreSQL server programs in {realDir}.");
    }
}
