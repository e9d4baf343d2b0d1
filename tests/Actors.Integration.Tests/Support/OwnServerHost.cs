using Actors.Silo.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Actors.Integration.Tests.Support;

/// <summary>
/// The real host with no connection string: it starts (or adopts) its own PostgreSQL in <c>dataFolder</c>, as
/// <c>dotnet run</c> does on a fresh clone. For tests that restart the host or stop its database under it.
/// </summary>
public static class OwnServerHost
{
    public static async Task<(ActorsHost Host, HttpClient Client)> StartAsync(
        string dataFolder, string adminKey, Action<WebApplicationBuilder>? customize = null, IEnumerable<string>? arguments = null)
    {
        var host = await ActorsHost.CreateAsync(
        [
            $"--ACTORS_DATA_DIR={dataFolder}",
            "--urls=http://127.0.0.1:0",
            $"--Actors:Silo:SiloPort={FreePorts.Next()}",
            $"--Actors:Silo:GatewayPort={FreePorts.Next()}",
            $"--ACTORS_BOOTSTRAP_ADMIN_KEY={adminKey}",
            "--Actors:Outbound:AllowPrivateNetworks=true",
            "--Logging:LogLevel:Default=Warning",
            .. arguments ?? [],
        ], customize);
        await host.App.StartAsync();
        var address = host.App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var client = new HttpClient { BaseAddress = new Uri(address) };
        client.DefaultRequestHeaders.Authorization = new("Bearer", adminKey);
        return (host, client);
    }
}
