using System.Reflection;
using Orleans.Dashboard;

namespace Actors.Silo.Hosting;

/// <summary>
/// The Orleans dashboard reads the Orleans meter into its counters page every second, and each read walks every
/// activation of the silo (the activation gauges and the directory cache's size are counted one entry at a time): with
/// 100,000 visitors active that was about an eighth of a core, all the time (README "The Orleans dashboard"). The
/// interval is an internal property of its start-up service (<c>DashboardHost.ExportIntervalMilliseconds</c>, 1,000),
/// with no option, so the service is built here and the property set before it starts. The type is found by name:
/// <see cref="ReadEvery"/> fails the start if an Orleans upgrade changed it, rather than leave the one-second reader
/// running unnoticed.
/// </summary>
internal static class OrleansDashboardCounters
{
    private const string HostTypeName = "Orleans.Dashboard.DashboardHost";
    private const string IntervalName = "ExportIntervalMilliseconds";

    public static void ReadEvery(IServiceCollection services, TimeSpan every)
    {
        var hostType = typeof(DashboardOptions).Assembly.GetType(HostTypeName);
        var interval = hostType?.GetProperty(IntervalName, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
        var registration = services.SingleOrDefault(d => d.ServiceType == hostType && d.ImplementationType == hostType);
        if (hostType is null || interval is not { CanWrite: true } || interval.PropertyType != typeof(int) || registration is null)
            throw new InvalidOperationException(
                $"Orleans.Dashboard {typeof(DashboardOptions).Assembly.GetName().Version} has no {HostTypeName}.{IntervalName} registered as this host " +
                "expects, so its counters would be read every second: see Hosting/OrleansDashboardCounters.cs.");

        var milliseconds = (int)every.TotalMilliseconds;
        services.Remove(registration);
        // Still one instance: the dashboard resolves its hosted service and its silo-lifecycle part from this one.
        services.AddSingleton(hostType, sp =>
        {
            var host = ActivatorUtilities.CreateInstance(sp, hostType);
            interval.SetValue(host, milliseconds);
            return host;
        });
    }
}
