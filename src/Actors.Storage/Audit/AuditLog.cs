using Actors.Storage.Streams;
using Npgsql;

namespace Actors.Storage.Audit;

/// <summary>One admin read or erasure of a person's data: who (key name, id, scope), what, whose, when, from where.</summary>
public sealed record AuditEntry(long Id, DateTimeOffset At, string KeyName, string KeyId, string Scope, string Action, string ProfileId, string? ClientAddress);

/// <summary>What an audit read asks for; <see cref="After"/> is the last id of the previous page.</summary>
public sealed record AuditQuery(DateTimeOffset? From, DateTimeOffset? To, string? ProfileId, long? After, int Limit);

/// <summary>
/// The audit log of admin access to personal data, in a table of its own (append-only; ids in write order). The table is
/// created on first use, so it needs no change to the shared schema set-up. An erasure keeps its entries: they hold
/// the profile id and the key, not the person's data.
/// </summary>
public sealed class AuditLog(NpgsqlDataSource dataSource, EventStoreSettings settings)
{
    public const string TableName = "audit_log";

    private string Table => $"{settings.Schema}.{TableName}";
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile bool _ready;

    private async Task EnsureTableAsync(CancellationToken ct)
    {
        if (_ready) return;
        await _gate.WaitAsync(ct);
        try
        {
            if (_ready) return;
            await using var command = dataSource.CreateCommand($"""
                create schema if not exists {settings.Schema};
                create table if not exists {Table} (
                    id bigint generated always as identity primary key,
                    at timestamptz not null,
                    key_name text not null,
                    key_id text not null,
                    scope text not null,
                    action text not null,
                    profile_id text not null,
                    client_address text);
                create index if not exists ix_{TableName}_profile on {Table} (profile_id, id);
                create index if not exists ix_{TableName}_at on {Table} (at);
                """);
            await command.ExecuteNonQueryAsync(ct);
            _ready = true;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<long> WriteAsync(DateTimeOffset at, string keyName, string keyId, string scope, string action, string profileId, string? clientAddress, CancellationToken ct = default)
    {
        await EnsureTableAsync(ct);
        await using var command = dataSource.CreateCommand(
            $"insert into {Table} (at, key_name, key_id, scope, action, profile_id, client_address) values (@at, @name, @key, @scope, @action, @profile, @client) returning id");
        command.Parameters.AddWithValue("at", at);
        command.Parameters.AddWithValue("name", keyName);
        command.Parameters.AddWithValue("key", keyId);
        command.Parameters.AddWithValue("scope", scope);
        command.Parameters.AddWithValue("action", action);
        command.Parameters.AddWithValue("profile", profileId);
        command.Parameters.AddWithValue("client", (object?)clientAddress ?? DBNull.Value);
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }

    public async Task<IReadOnlyList<AuditEntry>> ReadAsync(AuditQuery query, CancellationToken ct = default)
    {
        await EnsureTableAsync(ct);
        await using var command = dataSource.CreateCommand($"""
            select id, at, key_name, key_id, scope, action, profile_id, client_address from {Table}
             where (@from::timestamptz is null or at >= @from) and (@to::timestamptz is null or at < @to)
               and (@profile::text is null or profile_id = @profile) and id > @after
             order by id limit @limit
            """);
        command.Parameters.Add(new NpgsqlParameter("from", NpgsqlTypes.NpgsqlDbType.TimestampTz) { Value = (object?)query.From ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("to", NpgsqlTypes.NpgsqlDbType.TimestampTz) { Value = (object?)query.To ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("profile", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)query.ProfileId ?? DBNull.Value });
        command.Parameters.AddWithValue("after", query.After ?? 0L);
        command.Parameters.AddWithValue("limit", query.Limit);
        var found = new List<AuditEntry>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            found.Add(new AuditEntry(reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), reader.GetString(3),
                reader.GetString(4), reader.GetString(5), reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetString(7)));
        }
        return found;
    }
}
