using Actors.Domain.Tracking;
using Marten;
using Weasel.Postgresql;
using Weasel.Postgresql.Procedures;

namespace Actors.Storage.Streams;

/// <summary>
/// The appends of many visitor streams in one statement: one function call per append batch moves every existing
/// stream's version (checked against the version its writer saw), starts the new streams and inserts all their events,
/// where Marten's quick append runs one function call (a stream read, an insert or update, a loop of inserts) per
/// stream. The rows are the ones Marten writes, so Marten reads them back, the daemon projects them and
/// <see cref="MartenVisitorStreams"/> keeps appending after them. Appends whose events an inline projection must see
/// (segment membership, orders) still go through Marten in the same transaction (<see cref="NeedsMarten"/>).
/// Any conflict fails the statement, and so the batch; the batcher then commits its appends one by one through Marten,
/// which names the stream that conflicted.
/// </summary>
public static class StreamBatchWrite
{
    public const string FunctionName = "append_visitor_streams";

    /// <summary>SQLSTATE of "a stream moved past the version its writer saw" (a class of our own, like Marten's MT003).</summary>
    public const string MovedOnState = "AC409";

    // Marten's default tenant: the one every row of a single-tenant store carries.
    private const string Tenant = "*DEFAULT*";

    // A procedure, not a function: CALL returns no result set, so Marten reads the results of the other operations of
    // the unit of work (inline projections' upserts) where it expects them.
    public static StoredProcedure Definition(string schema) => new(new PostgresqlObjectName(schema, FunctionName, SchemaUtils.IdentifierUsage.General), $$"""
        create or replace procedure {{schema}}.{{FunctionName}}(
            stream_ids varchar[], expected bigint[], appended int[],
            event_ids uuid[], event_streams varchar[], event_versions bigint[], event_types varchar[], dotnet_types varchar[],
            bodies jsonb[], stamps timestamptz[]) language plpgsql as $$
        declare
            moved int;
            existing int;
        begin
            update {{schema}}.mt_streams s set version = i.expected + i.appended, timestamp = now()
              from unnest(stream_ids, expected, appended) as i(id, expected, appended)
             where i.expected > 0 and s.id = i.id and s.version = i.expected and not s.is_archived;
            get diagnostics moved = row_count;
            select count(*) into existing from unnest(expected) as e(version) where e.version > 0;
            if moved <> existing then
                raise exception 'A visitor stream moved past the version its writer saw' using errcode = '{{MovedOnState}}';
            end if;
            insert into {{schema}}.mt_streams (id, version, timestamp, tenant_id)
            select i.id, i.appended, now(), '{{Tenant}}'
              from unnest(stream_ids, expected, appended) as i(id, expected, appended) where i.expected = 0;
            insert into {{schema}}.mt_events (seq_id, id, stream_id, version, data, type, tenant_id, timestamp, mt_dotnet_type, is_archived)
            select nextval('{{schema}}.mt_events_sequence'), e.id, e.stream_id, e.version, e.body, e.type, '{{Tenant}}', e.stamp, e.dotnet_type, false
              from unnest(event_ids, event_streams, event_versions, event_types, dotnet_types, bodies, stamps) with ordinality
                   as e(id, stream_id, version, type, dotnet_type, body, stamp, n)
             order by e.n;
        end
        $$;
        """);

    /// <summary>
    /// Event types an inline projection must see in the transaction that appends them (segment members and their
    /// webhooks, customer value for RFM): appends holding one go through Marten. Kept in step with
    /// <c>SegmentMembersProjection</c> and <c>CustomerValueProjection</c> (a test checks it).
    /// </summary>
    public static readonly IReadOnlySet<Type> InlineProjected = new HashSet<Type>
    {
        typeof(SegmentEntered), typeof(SegmentLeft),
        typeof(OrderPlaced), typeof(OrderRefunded), typeof(MergedInto), typeof(ProfilesUnmerged), typeof(MergeUndone),
    };

    public static bool NeedsMarten(IReadOnlyList<VisitorEvent> events)
    {
        foreach (var e in events) if (InlineProjected.Contains(e.GetType())) return true;
        return false;
    }

    /// <summary>One stream's append as the batch statement takes it.</summary>
    public readonly record struct StreamAppend(string ProfileId, long ExpectedVersion, IReadOnlyList<VisitorEvent> Events);

    /// <summary>The appends as one statement (null for none), serialized as Marten would store each event.</summary>
    public static BatchStatement? Statement(StoreOptions options, string schema, IReadOnlyList<StreamAppend> appends)
    {
        if (appends.Count == 0) return null;
        var count = 0;
        foreach (var a in appends) count += a.Events.Count;
        var streamIds = new string[appends.Count];
        var expected = new long[appends.Count];
        var appended = new int[appends.Count];
        var ids = new Guid[count];
        var streams = new string[count];
        var versions = new long[count];
        var types = new string[count];
        var dotnetTypes = new string[count];
        var bodies = new string[count];
        var stamps = new DateTimeOffset[count];
        var now = DateTimeOffset.UtcNow;
        var events = (Marten.Events.EventGraph)options.Events;
        var serializer = options.Serializer();
        var n = 0;
        for (var s = 0; s < appends.Count; s++)
        {
            var a = appends[s];
            streamIds[s] = a.ProfileId;
            expected[s] = a.ExpectedVersion;
            appended[s] = a.Events.Count;
            for (var i = 0; i < a.Events.Count; i++, n++)
            {
                var e = a.Events[i];
                var mapping = events.EventMappingFor(e.GetType());
                ids[n] = EventIds.NewVersion7(now);
                streams[n] = a.ProfileId;
                versions[n] = a.ExpectedVersion + i + 1;
                types[n] = mapping.EventTypeName;
                dotnetTypes[n] = mapping.DotNetTypeName;
                bodies[n] = serializer.ToJson(e);
                stamps[n] = now;
            }
        }
        return new BatchStatement(BatchStatement.Text.For("append-streams", schema, static schema =>
            $"call {schema}.{FunctionName}(?::varchar[], ?::bigint[], ?::int[], ?::uuid[], ?::varchar[], ?::bigint[], ?::varchar[], ?::varchar[], ?::jsonb[], ?::timestamptz[])"),
            [streamIds, expected, appended, ids, streams, versions, types, dotnetTypes, bodies, stamps]);
    }
}
