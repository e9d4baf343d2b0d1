using Actors.Storage.Streams;
using Npgsql;
using Weasel.Core;
using Weasel.Postgresql;
using Weasel.Postgresql.Tables;

namespace Actors.Storage.Audit;

/// <summary>One admin read or erasure of a person's data: who (key name, id, scope), what, whose, when, from where.</summary>
public sealed record AuditEntry(long Id, DateTimeOffset At, string KeyName, string KeyId, string Scope, string Action, string ProfileId, string? ClientAddress);

/// <summary>What an audit read asks for; <see cref="After"/> is the last id of the previous page.</summary>
public sealed record AuditQuery(DateTimeOffset? From, DateTimeOffset? To, string? ProfileId, long? After, int Limit);

/// <summary>
/// The audit log of admin access to personal data, in a table of its own (append-only; ids in write order). An
/// erasure keeps its entries: they hold the profile id and the key, not the person's data.
/// </summary>
public sealed class AuditLog(NpgsqlDataSource dataSource, EventStoreSettings settings)
{
    public const string TableName = "audit_log";

    private string Table => $"{settings.Schema}.{TableName}";

    /// <summary>The table, created and kept up to date with the rest of the schema at startup (MartenSetup).</summary>
    public static Table Definition(string schema)
    {
        var table = new Table(new PostgresqlObjectName(schema, TableName, SchemaUtils.IdentifierUsage.General));
        table.AddColumn<long>("id").BigAutoIncrement().AsPrimaryKey();
        table.AddColumn("at", "timestamp with time zone").NotNull();
        table.AddColumn<string>("key_name").NotNull();
        table.AddColumn<string>("key_id").NotNull();
        table.AddColumn<string>("scope").NotNull();
        table.AddColumn<string>("action").NotNull();
        table.AddColumn<string>("profile_id").NotNull();
        table.AddColumn<string>("client_address");
        table.Indexes.Add(new IndexDefinition($"ix_{TableName}_profile") { Columns = ["profile_id", "id"] });
        table.Indexes.Add(new IndexDefinition($"ix_{TableName}_at") { Columns = ["at"] });
        return table;
    }

    public async Task<long> WriteAsync(DateTimeOffset at, string keyName, string keyId, string scope, string action, string profileId, string? clientAddress, CancellationToken ct = default)
    {
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
