using System.Text;
using Actors.Storage.Access;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Actors.Api.Access;

/// <summary>
/// API keys on every route but health and docs. A key comes as the HTTP Basic user name (how Segment and RudderStack
/// SDKs send their write key), as a Bearer token, or in X-Api-Key. Missing or unknown: 401. Too weak a scope: 403.
/// Checked by a middleware after rate limiting and before the endpoint, so nobody's body is bound before their key is known.
/// </summary>
public static class ApiKeyAuth
{
    private const string CallerKey = "actors.caller";

    /// <summary>What a route (or group) asks of the caller's key; the strongest scope on an endpoint applies.</summary>
    public sealed record RequiredScope(ApiScope Scope, bool KeyInBody, string? KeyParameter = null);

    /// <param name="keyInBody">
    /// Segment's routes also take the write key as "writeKey" in the JSON body, which is how the Node SDK and
    /// analytics.js's text/plain requests send it.
    /// </param>
    /// <param name="keyParameter">
    /// A route value or query parameter that may hold the key, for requests that cannot set headers: analytics.js's
    /// settings document (/v1/projects/{writeKey}/settings), RudderStack's sendBeacon batches (?writeKey=).
    /// </param>
    public static TBuilder RequireScope<TBuilder>(this TBuilder builder, ApiScope scope, bool keyInBody = false, string? keyParameter = null)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RequiredScope(scope, keyInBody, keyParameter));

    public static IApplicationBuilder UseApiKeys(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        var required = http.GetEndpoint()?.Metadata.GetOrderedMetadata<RequiredScope>();
        if (required is not { Count: > 0 })
        {
            await next(http);
            return;
        }
        var refusal = await AuthenticateAsync(http, required.Max(r => r.Scope), required.Any(r => r.KeyInBody),
            required.Select(r => r.KeyParameter).FirstOrDefault(p => p is not null));
        if (refusal is not null) await refusal.ExecuteAsync(http);
        else await next(http);
    });

    private static async Task<IResult?> AuthenticateAsync(HttpContext http, ApiScope scope, bool keyInBody, string? keyParameter)
    {
        var key = KeyFrom(http.Request);
        if (key is null && keyParameter is not null)
        {
            var value = http.Request.RouteValues.TryGetValue(keyParameter, out var routeValue) ? routeValue as string : http.Request.Query[keyParameter].ToString();
            if (!string.IsNullOrEmpty(value)) key = value;
        }
        if (key is null && keyInBody && HttpMethods.IsPost(http.Request.Method))
        {
            // Only for requests without a header key, which rate limiting has already counted against their address.
            var body = await Tracking.RequestBody.ReadJsonAsync(http.Request, Tracking.RequestBody.BatchLimit);
            if (body.Error is not null) return body.Error;
            var root = body.Document!.RootElement;
            if (root.ValueKind == System.Text.Json.JsonValueKind.Object && root.TryGetProperty("writeKey", out var writeKey)
                && writeKey.ValueKind == System.Text.Json.JsonValueKind.String)
                key = Tracking.JsonText.TryGetString(writeKey, out _); // unreadable text is no key (401), not a 500
        }
        if (key is null)
            return Problems.Unauthorized("An API key is required: send it as the Basic user name, a Bearer token or X-Api-Key.");
        var store = http.RequestServices.GetRequiredService<ApiKeyStore>();
        var check = await store.CheckAsync(key, http.RequestAborted);
        if (check.ExpiredAt is { } expired)
            return Problems.Unauthorized($"The API key expired at {expired.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}; create a new one (keys create).");
        if (check.Active is not { } caller) return Problems.Unauthorized("The API key is unknown or revoked.");
        if (caller.Scope < scope)
            return Problems.Forbidden($"This route needs the '{scope.ToString().ToLowerInvariant()}' scope; the key has '{caller.Scope.ToString().ToLowerInvariant()}'.");
        if (BrowserAccess.CheckOrigin(http, caller) is { } refused) return refused;
        http.Items[CallerKey] = caller;
        return null;
    }

    public static ApiKeyRecord Caller(this HttpContext http) =>
        http.Items[CallerKey] as ApiKeyRecord ?? throw new InvalidOperationException("No authenticated caller on this request.");

    /// <summary>The caller as the tracking gateway needs it: scope, and the key's name for audit records.</summary>
    public static Tracking.IngestCaller IngestCaller(this HttpContext http) =>
        http.Items[CallerKey] is ApiKeyRecord caller ? new Tracking.IngestCaller(caller.Scope, $"key:{caller.Name}") : Tracking.IngestCaller.Ingest;

    /// <summary>The raw key of a request's headers, or null.</summary>
    public static string? KeyFrom(HttpRequest request)
    {
        if (request.Headers.TryGetValue("X-Api-Key", out var headerKey) && headerKey.ToString() is { Length: > 0 } k) return k;
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return authorization["Bearer ".Length..].Trim() is { Length: > 0 } bearer ? bearer : null;
        if (authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authorization["Basic ".Length..].Trim()));
                var user = decoded.Split(':', 2)[0];
                return user.Length > 0 ? user : null;
            }
            catch (FormatException)
            {
                return null;
            }
        }
        return null;
    }
}
