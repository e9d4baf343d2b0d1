using Actors.Domain.Tracking;
using Actors.Storage.Access;
using Actors.Storage.Channels;
using Npgsql;
using Actors.Storage.Journeys;
using Actors.Storage.Reporting;
using Actors.Storage.Segments;
using Actors.Storage.Templates;
using JasperFx;
using JasperFx.Events;
using JasperFx.Events.Daemon;
using JasperFx.Events.Projections;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Weasel.Core;

namespace Actors.Storage.Streams;

public static class MartenSetup
{
    /// <summary>
    /// Marten's own connection pool for the store, for the statements of ours that run beside its sessions (the append
    /// batch, the startup steps): they take no connections beyond the ones its sessions use.
    /// </summary>
    public static NpgsqlDataSource DataSourceOf(IDocumentStore store) =>
        ((Weasel.Postgresql.PostgresqlDatabase)((DocumentStore)store).Storage.Database).DataSource;

    /// <summary>Marten on the given PostgreSQL, in its own schema: visitor streams, snapshots, API keys.</summary>
    public static IServiceCollection AddActorsEventStore(this IServiceCollection services, string connectionString, EventStoreSettings? settings = null)
    {
        settings ??= new EventStoreSettings();
        services.AddSingleton(settings);
        var marten = services.AddMarten(options => Configure(options, connectionString, settings))
            .UseLightweightSessions()
            .ApplyAllDatabaseChangesOnStartup();
        if (settings.RunProjections) marten.AddAsyncDaemon(DaemonMode.Solo);
        services.AddSingleton<ReportReader>();
        services.AddSingleton<ReportRebuilds>();
        services.AddSingleton<MartenVisitorStreams>();
        // Its own pool, as the outbox's: activations' lookups must not wait behind the append batcher's connections.
        services.AddSingleton(sp => new StreamHeads(NpgsqlDataSource.Create(ForEventStore(connectionString, settings)), settings.Schema,
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<StreamHeads>>()));
        services.AddSingleton<AppendBatcher>();
        services.AddSingleton<IVisitorStreams>(sp => sp.GetRequiredService<AppendBatcher>());
        services.AddSingleton<ApiKeyStore>();
        services.AddSingleton<InstallationSecrets>();
        services.AddSingleton<ProfileHistory>();
        services.AddSingleton<SegmentStore>();
        services.AddSingleton<JourneyStore>();
        services.AddSingleton<JourneyFigureReader>();
        services.AddSingleton<JourneyFigureIndex>();
        services.AddHostedService(sp => sp.GetRequiredService<JourneyFigureIndex>());
        services.AddSingleton<BodyStatistics>();
        services.AddHostedService(sp => sp.GetRequiredService<BodyStatistics>());
        // The outbox has its own pool: the dispatchers' claims must not queue behind the append batcher's connections.
        services.AddSingleton(_ => new OutboxStore(NpgsqlDataSource.Create(ForEventStore(connectionString, settings)), settings.Schema));
        services.AddSingleton<TemplateStore>();
        return services;
    }

    /// <summary>
    /// The event store's connection string as its sessions need it: the planner's costs as session defaults (unless it
    /// sets its own options), and pooled connections returned without Npgsql's <c>DISCARD ALL</c>. That reset would
    /// drop the plans PL/pgSQL caches per connection, so every append batch's procedure call would plan its four
    /// statements again; the store's sessions leave nothing behind to reset (no session settings, no temporary tables,
    /// only transaction-scoped advisory locks). An explicit <c>No Reset On Close</c> in the configured string wins.
    /// Statements are prepared automatically once a connection has run them twice: the same few statements (the append
    /// procedure, the outbox's claim and marks, the daemon's reads) run hundreds of times a second, and unprepared, the
    /// server parsed and planned each one every time, a fifth of its CPU during a journey's open loop. An explicit
    /// <c>Max Auto Prepare</c> (0 turns it off) or <c>Auto Prepare Min Usages</c> in the configured string wins.
    /// </summary>
    public static string ForEventStore(string connectionString, EventStoreSettings settings)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (settings.RandomPageCost is { } cost)
        {
            // The server would refuse the connection over a bad value; say what is wrong at startup instead.
            if (!double.IsFinite(cost) || cost <= 0 || cost > 1_000_000)
                throw new ArgumentOutOfRangeException(nameof(settings), cost, "Actors:EventStore:RandomPageCost must be a number above 0 (at most 1,000,000), or unset.");
            if (string.IsNullOrEmpty(builder.Options))
                builder.Options = "-c random_page_cost=" + cost.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        if (!Sets(connectionString, "NoResetOnClose")) builder.NoResetOnClose = true;
        if (!Sets(connectionString, "MaxAutoPrepare")) builder.MaxAutoPrepare = AutoPreparedStatements;
        if (!Sets(connectionString, "AutoPrepareMinUsages")) builder.AutoPrepareMinUsages = 2;
        return builder.ConnectionString;
    }

    /// <summary>Statements each connection keeps prepared (least recently used first out): the hot ones are about 20.</summary>
    public const int AutoPreparedStatements = 64;

    /// <summary>Whether the configured string sets the keyword itself (either spelling: with or without spaces).</summary>
    private static bool Sets(string connectionString, string keyword)
    {
        var raw = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        foreach (string key in raw.Keys)
            if (key.Replace(" ", "", StringComparison.Ordinal).Equals(keyword, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    public static void Configure(StoreOptions options, string connectionString, EventStoreSettings settings)
    {
        options.Connection(ForEventStore(connectionString, settings));
        options.DatabaseSchemaName = settings.Schema;
        options.Events.DatabaseSchemaName = settings.Schema;
        options.Events.StreamIdentity = StreamIdentity.AsString;
        foreach (var type in EventNames.EventTypes) options.Events.MapEventType(type, EventNames.Of(type));
        // Built by JourneyFigureIndex (concurrently): Marten's schema check would drop it as unknown at every start,
        // and the next build would read the whole event log again.
        options.Events.IgnoreIndex(JourneyFigureIndex.Name);
        options.UseSystemTextJsonForSerialization(EnumStorage.AsString);
        options.Schema.For<ProfileSnapshot>();
        options.Schema.For<StoredApiKey>();
        options.Schema.For<InstallationSecret>();
        options.Schema.For<SegmentDocument>().UseOptimisticConcurrency(true);
        // Members are read a page at a time in profile order (a trigger's walk, the members API): one range of this
        // index per page. With SegmentId alone, every page sorted the whole segment again (95 ms a page of 1,000 in a
        // segment of 100,000, so the walk was quadratic: 43% of a core during a trigger of that size).
        options.Schema.For<SegmentMember>().Index(new List<System.Linq.Expressions.Expression<Func<SegmentMember, object>>> { m => m.SegmentId, m => m.ProfileId });
        options.Schema.For<SegmentSize>().Index(s => s.SegmentId);
        options.Schema.For<CustomerValue>();
        options.Schema.For<JourneyDocument>().UseOptimisticConcurrency(true);
        options.Schema.For<TemplateDocument>().UseOptimisticConcurrency(true);
        options.Schema.For<WebhookDelivery>().Index(d => d.Status).UseOptimisticConcurrency(true);
        options.Projections.Add<SegmentMembersProjection>(ProjectionLifecycle.Inline);
        options.Projections.Add<CustomerValueProjection>(ProjectionLifecycle.Inline);
        ReportProjections.Register(options);
        options.Storage.ExtendedSchemaObjects.Add(OutboxStore.Definition(settings.Schema, settings.OutboxShards));
        options.Storage.ExtendedSchemaObjects.Add(OutboxStore.BodyDefinition(settings.Schema));
        options.Storage.ExtendedSchemaObjects.Add(StreamBatchWrite.Definition(settings.Schema));
        options.Storage.ExtendedSchemaObjects.Add(Audit.AuditLog.Definition(settings.Schema));
        options.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;
        options.DisableNpgsqlLogging = true;
    }
}
