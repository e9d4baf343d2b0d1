using Actors.Api.Access;
using Actors.Storage.Access;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Actors.Api.Tracking;

/// <summary>
/// The configuration documents the browser SDKs fetch before they send anything, served by us so a shop points the SDK
/// at this host and sets nothing else: analytics.js's settings (what cdn.segment.com serves at
/// /v1/projects/{writeKey}/settings; with the SDK's cdnURL set to this host it tells the SDK to send its events here),
/// and RudderStack's source configuration (what its control plane serves at /sourceConfig; with configUrl set to this
/// host). Both need a valid ingest key, as the write key.
/// </summary>
public static class SdkSettingsApi
{
    public static IEndpointRouteBuilder MapSdkSettingsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/projects/{writeKey}/settings", SegmentSettings).WithTags("Tracking")
            .RequireScope(ApiScope.Ingest, keyParameter: "writeKey").AllowBrowsers()
            .WithSummary("analytics.js's settings document (set the SDK's cdnURL to this host): sends the events here");
        // Also answers "/sourceConfig/" (the SDK's form): routing ignores a trailing slash.
        app.MapGet("/sourceConfig", RudderStackSourceConfig).WithTags("Tracking")
            .RequireScope(ApiScope.Ingest, keyParameter: "writeKey").AllowBrowsers()
            .WithSummary("RudderStack's source configuration (set the SDK's configUrl to this host)");
        return app;
    }

    /// <summary>The address the SDKs should send to: the configured public URL, or the one this request came to.</summary>
    private static (string Scheme, string HostAndPath) PublicAddress(HttpRequest request, BrowserSettings settings) =>
        settings.PublicUrl is { } url
            ? (url.Scheme, url.Authority + url.AbsolutePath.TrimEnd('/'))
            : (request.Scheme, request.Host.Value + request.PathBase.Value);

    private static IResult SegmentSettings(string writeKey, HttpRequest request, BrowserSettings settings)
    {
        var (scheme, hostAndPath) = PublicAddress(request, settings);
        // Segment.io is the only destination: no device-mode integrations to load, no middleware, no plan filtering.
        // metrics.sampleRate 0: analytics.js would otherwise post its own telemetry to {apiHost}/m.
        return TypedResults.Json(new Dictionary<string, object?>
        {
            ["integrations"] = new Dictionary<string, object?>
            {
                ["Segment.io"] = new Dictionary<string, object?>
                {
                    ["apiKey"] = writeKey,
                    ["apiHost"] = $"{hostAndPath}/v1",
                    ["protocol"] = scheme,
                    ["unbundledIntegrations"] = Array.Empty<string>(),
                    ["addBundledMetadata"] = true,
                    ["maybeBundledConfigIds"] = new Dictionary<string, object?>(),
                },
            },
            ["plan"] = new Dictionary<string, object?>
            {
                ["track"] = new Dictionary<string, object?> { ["__default"] = new { enabled = true, integrations = new { } } },
                ["identify"] = new Dictionary<string, object?> { ["__default"] = new { enabled = true } },
                ["group"] = new Dictionary<string, object?> { ["__default"] = new { enabled = true } },
            },
            ["edgeFunction"] = new { },
            ["analyticsNextEnabled"] = true,
            ["middlewareSettings"] = new { },
            ["enabledMiddleware"] = new { },
            ["metrics"] = new { sampleRate = 0 },
            ["legacyVideoPluginsEnabled"] = false,
            ["remotePlugins"] = Array.Empty<object>(),
        });
    }

    private static IResult RudderStackSourceConfig(HttpContext http)
    {
        var caller = http.Caller();
        // No device-mode destinations; error and metrics reporting off (they would post to {dataPlaneUrl}/rsaMetrics).
        return TypedResults.Json(new
        {
            isHosted = false,
            source = new
            {
                id = caller.Id,
                name = caller.Name,
                workspaceId = "actors",
                enabled = true,
                config = new
                {
                    statsCollection = new { errorReports = new { enabled = false }, metrics = new { enabled = false } },
                },
                destinations = Array.Empty<object>(),
            },
        });
    }
}
