using Actors.Channels.Delivery;
using Actors.Channels.Links;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Actors.Channels.Email;

public static class EmailSetup
{
    /// <summary>
    /// The email channel as an <see cref="IChannelProvider"/>. The transport is chosen once, at startup, by
    /// configuration: Actors:Email:Smtp:Host set means SMTP, unset means .eml files under Actors:Email:Folder.
    /// Needs an <see cref="IMessageRenderer"/> registered beside it.
    /// </summary>
    public static IServiceCollection AddEmailChannel(this IServiceCollection services)
    {
        services.AddMessageLinks();
        services.TryAddSingleton(sp => EmailSettings.Read(sp.GetRequiredService<IConfiguration>()));
        services.TryAddSingleton<EmailComposer>();
        services.TryAddSingleton<IEmailTransport>(sp => sp.GetRequiredService<EmailSettings>().SmtpHost is null
            ? ActivatorUtilities.CreateInstance<EmlFileTransport>(sp)
            : ActivatorUtilities.CreateInstance<SmtpTransport>(sp));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IChannelProvider, EmailChannelProvider>());
        return services;
    }
}
