using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Integration.Tests.Support;
using Actors.Silo.Hosting;
using Actors.Storage.Postgres;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Actors.Integration.Tests.Foundation;

/// <summary>The host with no connection string: it runs its own PostgreSQL in its data folder.</summary>
public class HostTests
{
    private const string Key = "restart-admin-key-0123456789";

    private static Task<(ActorsHost Host, HttpClient Client)> StartAsync(string dataFolder) => OwnServerHost.StartAsync(dataFolder, Key);

    private static async Task StopAsync(ActorsHost host)
    {
        await host.App.StopAsync();
        await host.DisposeAsync();
    }

    [Fact]
    public async Task Data_survives_a_restart_of_the_host_and_its_embedded_server()
    {
        var folder = TestPostgres.NewDataFolder();
        try
        {
            var (host, client) = await StartAsync(folder);
            Assert.NotNull(host.Postgres);
            var health = await client.GetAsync("/health");
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            var post = await client.PostAsJsonAsync("/v1/visitors/restart-visitor/events",
                new { @event = "Newsletter Subscribed", messageId = "restart-1", properties = new { source = "footer" } });
            Assert.Equal(HttpStatusCode.OK, post.StatusCode);
            await StopAsync(host);

            (host, client) = await StartAsync(folder);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);
            var profile = await client.GetFromJsonAsync<JsonElement>("/v1/visitors/restart-visitor/profile");
            Assert.Equal(2, profile.GetProperty("version").GetInt64()); // the event and the stage change it caused
            Assert.Equal("lead", profile.GetProperty("stage").GetString());
            await StopAsync(host);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_server_left_running_by_a_killed_host_is_adopted_by_the_next_start()
    {
        var folder = TestPostgres.NewDataFolder();
        try
        {
            var options = new EmbeddedPostgresOptions { DataDirectory = folder, Durable = false };
            var orphan = await EmbeddedPostgres.StartAsync(options, NullLogger.Instance);
            // The host "dies" here: nobody calls StopAsync on the first launcher.

            var next = await EmbeddedPostgres.StartAsync(options, NullLogger.Instance);
            Assert.True(next.Adopted);
            Assert.Equal(orphan.Port, next.Port);
            await next.StopAsync();
            Assert.False(File.Exists(Path.Combine(folder, "postgres", "postmaster.pid")));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Health_reports_the_database_and_the_silo()
    {
        var folder = TestPostgres.NewDataFolder();
        try
        {
            var (host, client) = await StartAsync(folder);
            var health = await client.GetFromJsonAsync<JsonElement>("/health");
            Assert.Equal("healthy", health.GetProperty("status").GetString());
            Assert.Equal("healthy", health.GetProperty("checks").GetProperty("postgres").GetProperty("status").GetString());
            Assert.Equal("healthy", health.GetProperty("checks").GetProperty("silo").GetProperty("status").GetString());

            await host.Postgres!.StopAsync(); // the database goes away under a running host
            var down = await client.GetAsync("/health");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
            await host.App.StopAsync(CancellationToken.None);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
