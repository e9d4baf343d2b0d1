using Actors.Domain.Tracking;
using Actors.Storage.Access;
using JasperFx;
using JasperFx.Events;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Weasel.Core;

namespace Actors.Storage.Streams;

public static class MartenSetup
{
    /// <summary>Marten on the given PostgreSQL, in its own schema: visitor streams, snapshots, API keys.</summary>
    public static IServiceCollection AddActorsEventStore(this IServiceCollection services, string connectionString, EventStoreSettings? settings = null)
    {
        settings ??= new EventStoreSettings();
        services.AddSingleton(settings);
        services.AddMarten(options => Configure(options, connectionString, settings))
            .UseLightweightSessions()
            .ApplyAllDatabaseChangesOnStartup();
        services.AddSingleton<MartenVisitorStreams>();
        services.AddSingleton<AppendBatcher>();
        services.AddSingleton<IVisitorStreams>(sp => sp.GetRequiredService<AppendBatcher>());
        services.AddSingleton<ApiKeyStore>();
        services.AddSingleton<ProfileHistory>();
        return services;
    }

    public static void Configure(StoreOptions options, string connectionString, EventStoreSettings settings)
    {
        options.Connection(connectionString);
        options.DatabaseSchemaName = settings.Schema;
        options.Events.DatabaseSchemaName = settings.Schema;
        options.Events.StreamIdentity = StreamIdentity.AsString;
        foreach (var type in EventNames.EventTypes) options.Events.MapEventType(type, EventNames.Of(type));
        options.UseSystemTextJsonForSerialization(EnumStorage.AsString);
        options.Schema.For<ProfileSnapshot>();
        options.Schema.For<StoredApiKey>();
        options.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;
        options.DisableNpgsqlLogging = true;
    }
}
