using Actors.Channels.Delivery;
using Actors.Channels.Links;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Actors.Channels.Templates;

public static class TemplatesSetup
{
    /// <summary>The template renderer as the host's <see cref="IMessageRenderer"/>, with the signed links it puts in messages.</summary>
    public static IServiceCollection AddMessageTemplates(this IServiceCollection services)
    {
        services.AddMessageLinks();
        services.TryAddSingleton<TemplateRenderer>();
        services.TryAddSingleton<IMessageRenderer>(sp => sp.GetRequiredService<TemplateRenderer>());
        return services;
    }
}
