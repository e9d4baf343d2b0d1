using System.Globalization;
using Npgsql;

namespace Actors.Benchmarks;

/// <summary>
/// The WAL PostgreSQL wrote during a phase (<c>pg_stat_wal</c>) and the checkpoints that started in it
/// (<c>pg_stat_bgwriter</c>). A checkpoint makes every page written first after it go to the WAL whole (a full-page
/// image): a phase that meets one writes several times the WAL and its tail grows, which the p99s alone cannot tell.
/// Also how often the WAL was flushed to disk (<c>wal_sync</c>): every durable commit waits for a flush, which commits
/// that come together share. (A backend reports its counts when it goes idle, at most once a second: the figure of a
/// phase is late by that much at both ends.)
/// </summary>
internal readonly record struct WalCounters(long Records, long FullPageImages, long Bytes, long TimedCheckpoints, long RequestedCheckpoints, string Lsn, long Flushes)
{
    private static NpgsqlDataSource? _source;

    /// <summary>With <c>ACTORS_BENCH_WAL=1</c>, every phase also lists the tables its WAL went to (<c>pg_walinspect</c>).</summary>
    private static readonly bool ByTable = Environment.GetEnvironmentVariable("ACTORS_BENCH_WAL") == "1";

    /// <summary>Set once the host's server is up; phases before that (or a failed read) print nothing.</summary>
    public static void Watch(NpgsqlDataSource source)
    {
        _source = source;
        if (!ByTable) return;
        using var command = source.CreateCommand("create extension if not exists pg_walinspect");
        command.ExecuteNonQuery();
    }

    public static WalCounters? Read()
    {
        if (_source is null) return null;
        try
        {
            using var connection = _source.OpenConnection();
            using var command = new NpgsqlCommand(
                "select w.wal_records, w.wal_fpi, w.wal_bytes::bigint, b.checkpoints_timed, b.checkpoints_req, pg_current_wal_flush_lsn()::text, w.wal_sync " +
                "from pg_stat_wal w, pg_stat_bgwriter b", connection) { CommandTimeout = 5 };
            using var reader = command.ExecuteReader();
            reader.Read();
            return new(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetString(5), reader.GetInt64(6));
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException or TimeoutException)
        {
            return null;
        }
    }

    public static string Describe(WalCounters? before, long operations)
    {
        if (before is not { } from || Read() is not { } to) return "";
        var bytes = to.Bytes - from.Bytes;
        var perOperation = operations > 0
            ? string.Create(CultureInfo.InvariantCulture, $", {bytes / (double)operations / 1024:N2} KB and {(to.Flushes - from.Flushes) / (double)operations:N2} flushes per operation")
            : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"; WAL {bytes / 1048576.0:N1} MB{perOperation} ({to.Records - from.Records:N0} records, {to.FullPageImages - from.FullPageImages:N0} full-page images, {to.Flushes - from.Flushes:N0} flushes to disk), " +
            $"checkpoints started: {to.TimedCheckpoints - from.TimedCheckpoints} by time, {to.RequestedCheckpoints - from.RequestedCheckpoints} by WAL or request") +
            (ByTable ? Tables(from.Lsn, to.Lsn, operations) : "");
    }

    /// <summary>The WAL between two positions by the relation of each record's first block (records without one by kind).</summary>
    private static string Tables(string from, string to, long operations)
    {
        try
        {
            using var connection = _source!.OpenConnection();
            using var command = new NpgsqlCommand("""
                select coalesce(c.relname, 'relfilenode ' || r.node, w.resource_manager || '/' || w.record_type) as relation,
                       count(*), sum(w.record_length)::bigint, sum(w.fpi_length)::bigint
                  from pg_get_wal_records_info(@from::pg_lsn, @to::pg_lsn) w
                  left join lateral (select substring(w.block_ref from 'rel \d+/\d+/(\d+)')::oid as node) r on true
                  left join pg_class c on c.relfilenode = r.node
                 group by 1 order by 3 desc limit 14
                """, connection) { CommandTimeout = 120 };
            command.Parameters.AddWithValue("from", from);
            command.Parameters.AddWithValue("to", to);
            using var reader = command.ExecuteReader();
            var lines = new List<string>();
            while (reader.Read())
            {
                var per = operations > 0 ? string.Create(CultureInfo.InvariantCulture, $", {reader.GetInt64(2) / (double)operations:N0} B/op") : "";
                lines.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{reader.GetString(0)} {reader.GetInt64(2) / 1048576.0:N1} MB ({reader.GetInt64(1):N0} records, {reader.GetInt64(3) / 1048576.0:N1} MB full pages{per})"));
            }
            return "; WAL by relation: " + string.Join("; ", lines);
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException or TimeoutException)
        {
            return "; WAL by relation: " + e.Message;
        }
    }
}
