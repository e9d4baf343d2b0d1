using Actors.Api.Access;
using Actors.Storage.Access;
using Orleans.Dashboard;

namespace Actors.Silo.Hosting;

/// <summary>
/// The Orleans dashboard (silos, grain activations, calls, reminders) under <see cref="Path"/>, for admin keys only:
/// it shows every node of the cluster and grain state, which is not for marketing or ingest keys.
/// </summary>
public static class OrleansDashboard
{
    public const string Path = "/orleans";

    /// <summary>
    /// Actors:OrleansDashboard:Enabled (default true). The dashboard times every grain call on every silo to show its figures;
    /// a node that must not pay for that, or must not show it, turns it off (the route then answers 404).
    /// </summary>
    public static bool Enabled(IConfiguration configuration) => configuration.GetValue("Actors:OrleansDashboard:Enabled", true);

    /// <summary>
    /// Actors:OrleansDashboard:CountersEvery (default 10 s, within 1 s and 1 h): how often the counters page reads the
    /// Orleans meter and the silo's runtime statistics. Each read walks every activation of the node.
    /// </summary>
    public static TimeSpan CountersEvery(IConfiguration configuration)
    {
        var every = configuration.GetValue("Actors:OrleansDashboard:CountersEvery", TimeSpan.FromSeconds(10));
        return TimeSpan.FromTicks(Math.Clamp(every.Ticks, TimeSpan.TicksPerSecond, TimeSpan.TicksPerHour));
    }

    public static ISiloBuilder AddClusterDashboard(this ISiloBuilder silo, IConfiguration configuration)
    {
        var every = CountersEvery(configuration);
        silo.AddDashboard(o =>
        {
            // No live log streaming: it would hand the whole log (profile ids, addresses) to one HTTP stream.
            o.HideTrace = true;
            o.CounterUpdateIntervalMs = (int)every.TotalMilliseconds;
        });
        OrleansDashboardCounters.ReadEvery(silo.Services, every);
        return silo;
    }

    /// <summary>
    /// Before the API's key check: a browser that gets the 401 is asked for credentials (Basic, the admin key as the
    /// user name, which ApiKeyAuth accepts), so the dashboard opens in a plain browser tab.
    /// </summary>
    public static WebApplication UseClusterDashboardChallenge(this WebApplication app)
    {
        app.UseWhen(http => http.Request.Path.StartsWithSegments(Path), branch => branch.Use(async (http, next) =>
        {
            http.Response.OnStarting(() =>
            {
                if (http.Response.StatusCode == StatusCodes.Status401Unauthorized)
                    http.Response.Headers.WWWAuthenticate = "Basic realm=\"Actors admin\", charset=\"UTF-8\"";
                return Task.CompletedTask;
            });
            await next(http);
        }));
        return app;
    }

    public static WebApplication MapClusterDashboard(this WebApplication app)
    {
        if (!Enabled(app.Configuration)) return app;
        app.MapOrleansDashboard(Path).RequireScope(ApiScope.Admin).ExcludeFromDescription();
        return app;
    }
}
