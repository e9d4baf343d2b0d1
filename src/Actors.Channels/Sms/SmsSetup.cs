using Actors.Channels.Delivery;
using Microsoft.Extensions.DependencyInjection;

namespace Actors.Channels.Sms;

public static class SmsSetup
{
    /// <summary>The SMS gateway provider when a gateway is configured; nothing otherwise.</summary>
    public static IServiceCollection AddSmsGateway(this IServiceCollection services, SmsSettings settings)
    {
        settings.Validate();
        if (!settings.IsConfigured) return services;
        services.AddSingleton(settings);
        services.AddOutboundAddressGuard();
        // The gateway's address is checked when the host starts, not at the first message hours later.
        services.AddOptions<SmsGatewayAddress>()
            .Validate<OutboundAddressGuard>((_, guard) => guard.Problem(settings.GatewayUrl) is null,
                $"Actors:Sms:GatewayUrl points at a private, loopback or link-local address; set {OutboundAddressGuard.AllowSetting} to allow it.")
            .ValidateOnStart();
        services.AddHttpClient(SmsGatewayProvider.HttpClientName, c => c.Timeout = settings.Timeout)
            .ConfigurePrimaryHttpMessageHandler(sp => sp.GetRequiredService<OutboundAddressGuard>().Handler());
        services.AddSingleton<SmsGatewayProvider>();
        services.AddSingleton<IChannelProvider>(sp => sp.GetRequiredService<SmsGatewayProvider>());
        return services;
    }

    /// <summary>Nothing to configure: the name under which the gateway's address is validated at startup.</summary>
    public sealed class SmsGatewayAddress;
}
