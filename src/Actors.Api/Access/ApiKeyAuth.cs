using System.Text;
using Actors.Storage.Access;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Actors.Api.Access;

/// <summary>
/// API keys on every route but health and docs. A key comes as the HTTP Basic user name (how Segment and RudderStack
/// SDKs send their write key), as a Bearer token, or in X-Api-Key. Missing or unknown: 401. Too weak a scope: 403.
/// </summary>
public static class ApiKeyAuth
{
    private const string CallerKey = "actors.caller";

    /// <param name="keyInBody">
    /// Segment's routes also take the write key as "writeKey" in the JSON body, which is how the Node SDK sends it.
    /// </param>
    public static TBuilder RequireScope<TBuilder>(this TBuilder builder, ApiScope scope, bool keyInBody = false) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            var key = KeyFrom(http.Request);
            if (key is null && keyInBody && HttpMethods.IsPost(http.Request.Method))
            {
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
            var caller = await store.AuthenticateAsync(key, http.RequestAborted);
            if (caller is null) return Problems.Unauthorized("The API key is unknown or revoked.");
            if (caller.Scope < scope)
                return Problems.Forbidden($"This route needs the '{scope.ToString().ToLowerInvariant()}' scope; the key has '{caller.Scope.ToString().ToLowerInvariant()}'.");
            http.Items[CallerKey] = caller;
            return await next(context);
        });

    public static ApiKeyRecord Caller(this HttpContext http) =>
        http.Items[CallerKey] as ApiKeyRecord ?? throw new InvalidOperationException("No authenticated caller on this request.");

    /// <summary>The raw key of a request, or null. Also the partition for rate limiting.</summary>
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
