using Actors.Channels.Delivery;
using Microsoft.Extensions.DependencyInjection;

namespace Actors.Channels.Push;

public static class PushSetup
{
    /// <summary>The web push provider, its VAPID keys and its HTTP client (which connects to public addresses only, unless allowed).</summary>
    public static IServiceCollection AddWebPush(this IServiceCollection services, PushSettings settings)
    {
        settings.Validate();
        services.AddSingleton(settings);
        services.AddSingleton<VapidKeys>();
        // Push's allowance is its own setting (tests reach a local push service), not Actors:Outbound:AllowPrivateNetworks.
        var guard = new OutboundAddressGuard(allowPrivateNetworks: false, PushEndpoints.AllowSetting);
        services.AddHttpClient(WebPushProvider.HttpClientName, c => c.Timeout = settings.Timeout)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                AllowAutoRedirect = false, // a redirect would take the message (and our signature) elsewhere
                // The guard must see the push service's address, not a proxy's: no proxy for push traffic.
                UseProxy = false,
                ConnectCallback = settings.AllowInsecureEndpoints ? null : guard.ConnectAsync,
            });
        services.AddSingleton<WebPushProvider>();
        services.AddSingleton<IChannelProvider>(sp => sp.GetRequiredService<WebPushProvider>());
        return services;
    }
}
