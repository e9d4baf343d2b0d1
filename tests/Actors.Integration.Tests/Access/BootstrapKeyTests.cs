using System.Net;
using Actors.Integration.Tests.Support;
using Actors.Silo.Commands;
using Actors.Silo.Hosting;
using Actors.Storage.Access;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Actors.Integration.Tests.Access;

/// <summary>Bootstrap keys from the environment: a revocation outlives restarts; a short key stops the host.</summary>
public class BootstrapKeyTests
{
    private const string Key = "bootstrap-admin-key-0123456789";

    private static Task<ActorsHost> CreateAsync(string connectionString, string key) => ActorsHost.CreateAsync(
        [
            $"--ConnectionStrings:Postgres={connectionString}",
            "--urls=http://127.0.0.1:0",
            $"--Actors:Silo:SiloPort={FreePorts.Next()}",
            $"--Actors:Silo:GatewayPort={FreePorts.Next()}",
            $"--ACTORS_BOOTSTRAP_ADMIN_KEY={key}",
            "--Logging:LogLevel:Default=Warning",
        ]);

    private static async Task<(ActorsHost Host, HttpClient Client)> StartAsync(string connectionString, string key = Key)
    {
        var host = await CreateAsync(connectionString, key);
        await host.App.StartAsync();
        var address = host.App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var client = new HttpClient { BaseAddress = new Uri(address) };
        client.DefaultRequestHeaders.Authorization = new("Bearer", key);
        return (host, client);
    }

    private static async Task StopAsync(ActorsHost host)
    {
        await host.App.StopAsync();
        await host.DisposeAsync();
    }

    [Fact]
    public async Task A_revoked_bootstrap_key_stays_revoked_after_a_restart()
    {
        var database = await TestPostgres.CreateDatabaseAsync(nameof(BootstrapKeyTests));
        try
        {
            var (host, client) = await StartAsync(database);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/segments")).StatusCode);
            await StopAsync(host);

            // The operator revokes it with the command line, as README says.
            var id = ApiKeyStore.HashOf(Key)[..16];
            Assert.Equal(0, await AdminCommands.RunAsync(["keys", "revoke", id, $"--ConnectionStrings:Postgres={database}"]));

            // Same environment, same database: the key must not come back.
            (host, client) = await StartAsync(database);
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/v1/segments")).StatusCode);
            await StopAsync(host);
        }
        finally
        {
            await TestPostgres.DropDatabaseAsync(database);
        }
    }

    [Fact]
    public async Task A_short_bootstrap_key_stops_the_host_with_a_clear_error()
    {
        var database = await TestPostgres.CreateDatabaseAsync(nameof(BootstrapKeyTests));
        try
        {
            var host = await CreateAsync(database, "short-key-123");
            try
            {
                var error = await Assert.ThrowsAnyAsync<Exception>(() => host.App.StartAsync());
                Assert.Contains("at least 20", error.Message);
            }
            finally
            {
                await host.DisposeAsync();
            }
        }
        finally
        {
            await TestPostgres.DropDatabaseAsync(database);
        }
    }
}
