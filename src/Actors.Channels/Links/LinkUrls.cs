using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Configuration;

namespace Actors.Channels.Links;

/// <summary>
/// The visitor-facing addresses the host serves for messages (no API key: the signed token is the permission).
/// Links point at Actors:Channels:PublicBaseUrl, the address visitors reach the host at (default http://localhost:5080).
/// </summary>
public sealed class LinkUrls(MessageLinks links, IConfiguration configuration)
{
    /// <summary>Route templates, relative to the host's root.</summary>
    public const string OpenRoute = "/m/o/{token}";
    public const string ClickRoute = "/m/c/{token}";
    public const string UnsubscribeRoute = "/m/u/{token}";
    public const string PreferencesRoute = "/m/p/{token}";

    public string BaseUrl => (configuration["Actors:Channels:PublicBaseUrl"] is { Length: > 0 } configured ? configured : "http://localhost:5080").TrimEnd('/');

    public Task<string> OpenAsync(string profileId, string messageKey, string channel, string? journeyId = null, string? stepId = null) =>
        links.SignAsync(BaseUrl + "/m/o/", LinkPurpose.Open, profileId, messageKey, channel, journeyId: journeyId, stepId: stepId);

    public Task<string> ClickAsync(string profileId, string messageKey, string channel, string url, string? journeyId = null, string? stepId = null) =>
        links.SignAsync(BaseUrl + "/m/c/", LinkPurpose.Click, profileId, messageKey, channel, url, journeyId: journeyId, stepId: stepId);

    public Task<string> UnsubscribeAsync(string profileId, string? messageKey, string? channel) =>
        links.SignAsync(BaseUrl + "/m/u/", LinkPurpose.Unsubscribe, profileId, messageKey, channel);

    public Task<string> PreferencesAsync(string profileId, string? messageKey, string? channel) =>
        links.SignAsync(BaseUrl + "/m/p/", LinkPurpose.Preferences, profileId, messageKey, channel);
}

public static class LinksSetup
{
    /// <summary>The signed visitor links, once, for every part that puts them in messages or reads them back.</summary>
    public static IServiceCollection AddMessageLinks(this IServiceCollection services)
    {
        services.TryAddSingleton<MessageLinks>();
        services.TryAddSingleton<LinkUrls>();
        return services;
    }
}
