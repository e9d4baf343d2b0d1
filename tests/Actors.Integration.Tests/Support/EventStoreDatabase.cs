using Actors.Storage.Streams;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Actors.Integration.Tests.Support;

/// <summary>
/// A database of its own with the event store's schema and services (no host, no silo), for tests of the storage
/// adapters alone: the append batcher, the outbox, the segment members.
/// </summary>
public sealed class EventStoreDatabase : IAsyncDisposable
{
    private EventStoreDatabase(string connectionString, ServiceProvider services) => (ConnectionString, Services) = (connectionString, services);

    public string ConnectionString { get; }
    public ServiceProvider Services { get; }
    public IDocumentStore Store => Services.GetRequiredService<IDocumentStore>();

    public static async Task<EventStoreDatabase> CreateAsync(string purpose, EventStoreSettings settings)
    {
        var connectionString = await TestPostgres.CreateDatabaseAsync(purpose);
        var services = new ServiceCollection().AddLogging(b => b.SetMinimumLevel(LogLevel.Warning)).AddSingleton(TimeProvider.System);
        services.AddActorsEventStore(connectionString, settings);
        var provider = services.BuildServiceProvider();
        await provider.GetRequiredService<IDocumentStore>().Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        return new EventStoreDatabase(connectionString, provider);
    }

    public async ValueTask DisposeAsync()
    {
        await Services.DisposeAsync();
        await TestPostgres.DropDatabaseAsync(ConnectionString);
    }
}
