using Marten;
using Npgsql;

namespace Actors.Storage.Channels;

/// <summary>
/// One stored event as popularity needs it: its position in the log, when it was stored, and for product views, cart
/// additions and order lines the product (an order gives a row per line, all with the order's sequence number; any
/// other event a row without a product, so the reader sees every position and can tell a gap).
/// </summary>
public sealed record ProductEventRow(long Sequence, string Type, DateTimeOffset StoredAt, bool Recent, string? Sku, string? Category);

/// <summary>
/// Reads the event log (mt_events) forward by <c>seq_id</c>, the primary key: each page is an index range scan of the
/// rows after a position, whatever the log's size. Only the three product event types have their JSON read.
/// </summary>
public sealed class PopularityFeed(IDocumentStore store)
{
    public const string ProductViewed = "product_viewed";
    public const string CartItemAdded = "cart_item_added";
    public const string OrderPlaced = "order_placed";

    private string Events => $"{store.Options.Events.DatabaseSchemaName}.mt_events";

    /// <summary>The latest position in the log (0 when empty).</summary>
    public async Task<long> HeadAsync(CancellationToken ct)
    {
        await using var session = store.QuerySession();
        var connection = await OpenAsync(session, ct);
        await using var command = new NpgsqlCommand($"select coalesce(max(seq_id), 0) from {Events}", connection);
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }

    /// <summary>
    /// Up to <paramref name="limit"/> events after <paramref name="after"/>, in log order. <see cref="ProductEventRow.Recent"/>
    /// says the event was stored less than <paramref name="recent"/> ago by the database's clock (a gap before it may be
    /// a transaction still committing).
    /// </summary>
    public async Task<IReadOnlyList<ProductEventRow>> ReadAsync(long after, int limit, TimeSpan recent, CancellationToken ct)
    {
        await using var session = store.QuerySession();
        var connection = await OpenAsync(session, ct);
        await using var command = new NpgsqlCommand($"""
            select e.seq_id, e.type, e.timestamp, e.timestamp > clock_timestamp() - @recent,
                   case when e.type = '{OrderPlaced}' then l ->> 'Sku' else e.data ->> 'Sku' end,
                   case when e.type = '{OrderPlaced}' then l ->> 'Category' else e.data ->> 'Category' end
              from (select seq_id, type, timestamp,
                           case when type in ('{ProductViewed}', '{CartItemAdded}', '{OrderPlaced}') then data end as data
                      from {Events}
                     where seq_id > @after
                     order by seq_id
                     limit @limit) e
              left join lateral jsonb_array_elements(
                  case when e.type = '{OrderPlaced}' and jsonb_typeof(e.data -> 'Lines') = 'array' then e.data -> 'Lines' end) l on true
             order by e.seq_id
            """, connection);
        command.Parameters.AddWithValue("after", after);
        command.Parameters.AddWithValue("limit", limit);
        command.Parameters.AddWithValue("recent", recent);
        var rows = new List<ProductEventRow>(limit);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            rows.Add(new ProductEventRow(
                reader.GetInt64(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2), reader.GetBoolean(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetString(5)));
        }
        return rows;
    }

    private static async Task<NpgsqlConnection> OpenAsync(IQuerySession session, CancellationToken ct)
    {
        var connection = (NpgsqlConnection)session.Connection!;
        if (connection.State != System.Data.ConnectionState.Open) await connection.OpenAsync(ct);
        return connection;
    }
}
