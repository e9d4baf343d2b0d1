using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Actors.Integration.Tests.Support;

/// <summary>
/// A shop's own web server on a second loopback port: a different origin from the API host, as a real shop is. It
/// serves the test's pages and the published browser SDK bundles from tests/browser-sdks (npm ci there, from the
/// committed package-lock.json, the first time).
/// </summary>
public sealed class ShopOrigin : IAsyncDisposable
{
    public static readonly string SdkFolder = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../browser-sdks"));

    /// <summary>The bundles as the packages publish them (the files a shop copies or its CDN serves).</summary>
    public static readonly IReadOnlyDictionary<string, string> Bundles = new Dictionary<string, string>
    {
        // analytics.js 2.0 as a browser global (AnalyticsNext.AnalyticsBrowser), the npm package's UMD build.
        ["analytics-next.js"] = "node_modules/@segment/analytics-next/dist/umd/index.js",
        // RudderStack's v3 SDK with its plugins bundled in (the CDN build would fetch them from RudderStack's CDN).
        ["rudderstack.js"] = "node_modules/@rudderstack/analytics-js/dist/npm/modern/bundled/umd/index.js",
    };

    private static readonly SemaphoreSlim InstallOnce = new(1, 1);
    private readonly ConcurrentDictionary<string, string> _pages = new(StringComparer.Ordinal);
    private WebApplication _app = null!;

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The origin a browser sends for this server's pages: "http://127.0.0.1:port".</summary>
    public string Origin => BaseAddress.GetLeftPart(UriPartial.Authority);

    public static async Task<ShopOrigin> StartAsync()
    {
        await EnsureSdksInstalledAsync();
        var shop = new ShopOrigin();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        shop._app = builder.Build();
        shop._app.MapGet("/sdk/{name}", (string name) => Bundles.TryGetValue(name, out var path)
            ? Results.File(Path.Combine(SdkFolder, path), "text/javascript") : Results.NotFound());
        shop._app.MapGet("/pages/{name}", (string name) => shop._pages.TryGetValue(name, out var html)
            ? Results.Content(html, "text/html; charset=utf-8") : Results.NotFound());
        await shop._app.StartAsync();
        var address = shop._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        shop.BaseAddress = new Uri(address);
        return shop;
    }

    /// <summary>Serves <paramref name="html"/> at /pages/{name} and returns its address.</summary>
    public Uri Page(string name, string html)
    {
        _pages[name] = html;
        return new Uri(BaseAddress, $"/pages/{name}");
    }

    public static async Task EnsureSdksInstalledAsync()
    {
        await InstallOnce.WaitAsync();
        try
        {
            if (Bundles.Values.All(p => File.Exists(Path.Combine(SdkFolder, p)))) return;
            var info = new ProcessStartInfo("npm") { WorkingDirectory = SdkFolder, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "ci", "--no-audit", "--no-fund" }) info.ArgumentList.Add(a);
            using var process = Process.Start(info)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            await process.WaitForExitAsync(timeout.Token);
            if (process.ExitCode != 0) throw new InvalidOperationException($"npm ci failed in {SdkFolder}: {await output}{await error}");
        }
        finally
        {
            InstallOnce.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
