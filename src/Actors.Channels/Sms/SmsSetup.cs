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
        services.AddHttpClient(SmsGatewayProvider.HttpClientName, c => c.Timeout = settings.Timeout)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false });
        services.AddSingleton<SmsGatewayProvider>();
        services.AddSingleton<IChannelProvider>(sp => sp.GetRequiredService<SmsGatewayProvider>());
        return services;
    }
}
