using Actors.Channels.Delivery;
using Actors.Channels.Links;
using Actors.Channels.Webhook;
using Microsoft.Extensions.DependencyInjection;

namespace Actors.Channels;

public static class ChannelServices
{
    /// <summary>Links, and the providers that need no configuration to exist (each provider's own section says the rest).</summary>
    public static IServiceCollection AddActorsChannels(this IServiceCollection services)
    {
        services.AddMessageLinks();
        services.AddSingleton<WebhookSecret>();
        services.AddHttpClient(WebhookChannelProvider.HttpClientName);
        services.AddSingleton<IChannelProvider, WebhookChannelProvider>();
        return services;
    }
}
