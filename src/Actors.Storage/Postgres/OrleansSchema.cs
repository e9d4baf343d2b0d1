using System.Reflection;
using Npgsql;

namespace Actors.Storage.Postgres;

/// <summary>
/// Applies the SQL the Orleans ADO.NET providers need (clustering, grain state, reminders) from silo-config/sql,
/// embedded in this assembly. The scripts are idempotent; an advisory lock keeps nodes that start together in line.
/// </summary>
public static class OrleansSchema
{
    private const long LockKey = 0x4163746f72730001; // "Actors" + 1

    public static IReadOnlyList<(string Name, string Sql)> Scripts()
    {
        var assembly = typeof(OrleansSchema).Assembly;
        return assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith("silo-config.sql.", StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(n => (n, Read(assembly, n)))
            .ToList();
    }

    public static async Task ApplyAsync(string connectionString, CancellationToken ct = default)
    {
        var scripts = Scripts();
        if (scripts.Count == 0) throw new InvalidOperationException("No Orleans SQL scripts are embedded in Actors.Storage.");

        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        await using (var take = new NpgsqlCommand($"SELECT pg_advisory_lock({LockKey})", connection))
            await take.ExecuteNonQueryAsync(ct);
        try
        {
            foreach (var (name, sql) in scripts)
            {
                await using var command = new NpgsqlCommand(sql, connection);
                try { await command.ExecuteNonQueryAsync(ct); }
                catch (PostgresException e) { throw new InvalidOperationException($"Applying {name} failed: {e.MessageText}", e); }
            }
        }
        finally
        {
            await using var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({LockKey})", connection);
            await release.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    private static string Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
