using Actors.Storage.Access;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Actors.Api.Access;

/// <summary>
/// The host's own settings for browsers: origins every ingest key may be used from (Actors:Api:AllowedOrigins, a list or
/// one comma-separated value; "*" for any), and the address browsers reach the API at (Actors:Api:PublicUrl; unset: the
/// address the request came to), which the SDK settings documents tell the SDKs to send to.
/// </summary>
public sealed record BrowserSettings(IReadOnlyList<string> AllowedOrigins, Uri? PublicUrl)
{
    public static BrowserSettings From(IConfiguration configuration)
    {
        var section = configuration.GetSection("Actors:Api:AllowedOrigins");
        IEnumerable<string> listed = section.Value is { } single
            ? single.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : section.GetChildren().Select(c => c.Value ?? "").Where(v => v.Length > 0);
        IReadOnlyList<string> origins;
        try
        {
            origins = BrowserOrigins.NormalizeAll(listed);
        }
        catch (ArgumentException e)
        {
            throw new InvalidOperationException($"Actors:Api:AllowedOrigins: {e.Message}", e);
        }
        var publicUrl = configuration["Actors:Api:PublicUrl"] is { Length: > 0 } url
            ? Uri.TryCreate(url.TrimEnd('/'), UriKind.Absolute, out var u) && u.Scheme is "http" or "https" ? u
                : throw new InvalidOperationException($"Actors:Api:PublicUrl: '{url}' is not an http(s) URL.")
            : null;
        return new BrowserSettings(origins, publicUrl);
    }
}

/// <summary>
/// Which routes a shop's pages may call from their own origin (CORS), and from which origins. Only routes marked with
/// <see cref="AllowBrowsers{TBuilder}"/> and needing no more than an ingest key answer CORS at all; every other route
/// (marketing, admin) gives a browser nothing to read. A preflight carries no key, so it is answered for the origins
/// any ingest key (or the host's settings) allows; the request itself is then checked against its own key's origins.
/// Credentials (cookies) are never asked for nor allowed: the key travels in the request.
/// </summary>
public static partial class BrowserAccess
{
    public const string PolicyName = "browser";

    /// <summary>Endpoint metadata: a route a shop's frontend may call from the browser.</summary>
    public sealed record BrowserRoute;

    public static TBuilder AllowBrowsers<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new BrowserRoute()).RequireCors(PolicyName);

    public static IServiceCollection AddBrowserAccess(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(BrowserSettings.From(configuration));
        services.AddCors();
        services.Replace(ServiceDescriptor.Singleton<ICorsPolicyProvider, BrowserCorsPolicyProvider>());
        return services;
    }

    /// <summary>True when the request names an origin other than the host's own (a page elsewhere calls us).</summary>
    public static bool IsCrossOrigin(HttpRequest request, out string origin)
    {
        origin = request.Headers.Origin.ToString();
        if (origin.Length == 0) return false;
        var normalized = BrowserOrigins.Normalize(origin, out _) ?? origin;
        if (string.Equals(normalized, BrowserOrigins.Normalize($"{request.Scheme}://{request.Host}", out _), StringComparison.Ordinal)) return false;
        // Behind a proxy that rewrites Host, the public address is the host's own origin too (the /docs page).
        return request.HttpContext.RequestServices.GetService<BrowserSettings>()?.PublicUrl is not { } publicUrl
            || !string.Equals(normalized, BrowserOrigins.Normalize(publicUrl.GetLeftPart(UriPartial.Authority), out _), StringComparison.Ordinal);
    }

    /// <summary>
    /// Null when a cross-origin request may go on with this key; else the refusal. Only ingest keys belong in pages, and
    /// only pages of the key's origins (or the host's) may use it.
    /// </summary>
    internal static IResult? CheckOrigin(HttpContext http, ApiKeyRecord caller)
    {
        if (!IsCrossOrigin(http.Request, out var origin)) return null;
        var logger = http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(BrowserAccess));
        if (http.GetEndpoint()?.Metadata.GetMetadata<BrowserRoute>() is null)
        {
            LogRefused(logger, origin, caller.Id, "route closed to browsers");
            return Problems.Forbidden("This route is not open to browsers.");
        }
        if (caller.Scope > ApiScope.Ingest)
        {
            LogRefused(logger, origin, caller.Id, "secret key in a page");
            return Problems.Forbidden($"A {caller.Scope.ToString().ToLowerInvariant()} key is a secret and is refused from a browser: pages use an ingest key.");
        }
        var settings = http.RequestServices.GetRequiredService<BrowserSettings>();
        if (BrowserOrigins.Allows(caller.AllowedOrigins, origin) || BrowserOrigins.Allows(settings.AllowedOrigins, origin)) return null;
        LogRefused(logger, origin, caller.Id, "origin not allowed for the key");
        return Problems.Forbidden($"Pages of the origin '{origin}' may not use this key: add it to the key's origins (keys origins <id> <origin>) or to Actors:Api:AllowedOrigins.");
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Refused a browser request from {Origin} with key {KeyId}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string origin, string keyId, string reason);

    /// <summary>
    /// The "browser" policy, built per request from the origins allowed now (keys change without a restart). Routes that
    /// need more than an ingest key get no policy, whatever metadata they carry.
    /// </summary>
    private sealed class BrowserCorsPolicyProvider(ApiKeyStore keys, BrowserSettings settings) : ICorsPolicyProvider
    {
        public async Task<CorsPolicy?> GetPolicyAsync(HttpContext context, string? policyName)
        {
            if (policyName != PolicyName) return null;
            var endpoint = context.GetEndpoint();
            if (endpoint?.Metadata.GetMetadata<BrowserRoute>() is null) return null;
            var required = endpoint.Metadata.GetOrderedMetadata<ApiKeyAuth.RequiredScope>();
            if (required.Count > 0 && required.Max(r => r.Scope) > ApiScope.Ingest) return null;

            var fromKeys = await keys.AllAllowedOriginsAsync(context.RequestAborted);
            var policy = new CorsPolicy
            {
                IsOriginAllowed = origin => BrowserOrigins.Allows(fromKeys, origin) || BrowserOrigins.Allows(settings.AllowedOrigins, origin),
                SupportsCredentials = false,
                PreflightMaxAge = TimeSpan.FromMinutes(10),
            };
            foreach (var method in new[] { "GET", "POST", "DELETE" }) policy.Methods.Add(method);
            // Any request header: the SDKs add their own (X-Retry-Count, AnonymousId, SentAt, Rsa-*) and shops may add
            // more; without credentials, a header grants nothing the key in it does not.
            policy.Headers.Add("*");
            policy.ExposedHeaders.Add("Retry-After");
            return policy;
        }
    }
}
