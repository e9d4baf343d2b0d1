using Actors.Channels.Delivery;
using Actors.Channels.Links;
using Actors.Channels.Webhook;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Actors.Channels;

public static class ChannelServices
{
    /// <summary>Links, and the providers that need no configuration to exist (each provider's own section says the rest).</summary>
    public static IServiceCollection AddActorsChannels(this IServiceCollection services)
    {
        services.AddMessageLinks();
        services.AddSingleton<WebhookSecret>();
        services.AddOutboundAddressGuard();
        services.AddHttpClient(WebhookChannelProvider.HttpClientName).ConfigurePrimaryHttpMessageHandler(sp => sp.GetRequiredService<OutboundAddressGuard>().Handler());
        services.AddSingleton<IChannelProvider, WebhookChannelProvider>();
        return services;
    }

    /// <summary>The one <see cref="OutboundAddressGuard"/>, from Actors:Outbound:AllowPrivateNetworks.</summary>
    public static IServiceCollection AddOutboundAddressGuard(this IServiceCollection services)
    {
        services.TryAddSingleton(sp => OutboundAddressGuard.From(sp.GetRequiredService<IConfiguration>()));
        return services;
    }
}
