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
        var hash = HeaderKeyHash(http);
        string? key = null;
        if (hash is null && keyParameter is not null)
        {
            var value = http.Request.RouteValues.TryGetValue(keyParameter, out var routeValue) ? routeValue as string : http.Request.Query[keyParameter].ToString();
            if (!string.IsNullOrEmpty(value)) key = value;
        }
        if (hash is null && key is null && keyInBody && HttpMethods.IsPost(http.Request.Method))
        {
            // Only for requests without a header key, which rate limiting has already counted against their address.
            var body = await Tracking.RequestBody.ReadJsonAsync(http.Request, Tracking.RequestBody.BatchLimit);
            if (body.Error is not null) return body.Error;
            var root = body.Document!.RootElement;
            if (root.ValueKind == System.Text.Json.JsonValueKind.Object && root.TryGetProperty("writeKey", out var writeKey)
                && writeKey.ValueKind == System.Text.Json.JsonValueKind.String)
                key = Tracking.JsonText.TryGetString(writeKey, out _); // unreadable text is no key (401), not a 500
        }
        if (hash is null && key is null)
            return Problems.Unauthorized("An API key is required: send it as the Basic user name, a Bearer token or X-Api-Key.");
        var store = http.RequestServices.GetRequiredService<ApiKeyStore>();
        var check = await store.CheckHashAsync(hash ?? ApiKeyStore.HashOf(key!), http.RequestAborted);
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

    private static readonly object HeaderKeyHashItem = new();

    /// <summary>
    /// The hash of the key in the request's headers (<see cref="ApiKeyStore.HashOf"/>), or null without one. Rate limiting
    /// and authentication both need it: it is read and hashed once per request, and only the hash is kept.
    /// </summary>
    internal static string? HeaderKeyHash(HttpContext http)
    {
        if (http.Items.TryGetValue(HeaderKeyHashItem, out var known)) return (string?)known;
        var hash = KeyFrom(http.Request) is { } key ? ApiKeyStore.HashOf(key) : null;
        http.Items[HeaderKeyHashItem] = hash;
        return hash;
    }

    /// <summary>The raw key of a request's headers, or null.</summary>
    /// <remarks>The Basic header is decoded on the stack, so the key is the one string made.</remarks>
    public static string? KeyFrom(HttpRequest request)
    {
        if (request.Headers.TryGetValue("X-Api-Key", out var headerKey) && headerKey.ToString() is { Length: > 0 } k) return k;
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return authorization.AsSpan("Bearer ".Length).Trim() is { Length: > 0 } bearer ? bearer.ToString() : null;
        if (authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
            return BasicUser(authorization.AsSpan("Basic ".Length).Trim());
        return null;
    }

    /// <summary>The user name of HTTP Basic credentials (base64 of "user:password"), or null when empty or not base64.</summary>
    private static string? BasicUser(ReadOnlySpan<char> encoded)
    {
        const int stackBytes = 512;
        var most = encoded.Length / 4 * 3 + 3;
        byte[]? rented = null;
        var bytes = most <= stackBytes ? stackalloc byte[stackBytes] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(most));
        try
        {
            if (!Convert.TryFromBase64Chars(encoded, bytes, out var written)) return null;
            var decoded = bytes[..written];
            // ':' is one byte in UTF-8 and never part of another character's bytes, so the split can come before decoding.
            var colon = decoded.IndexOf((byte)':');
            var user = colon < 0 ? decoded : decoded[..colon];
            return user.Length > 0 ? Encoding.UTF8.GetString(user) : null;
        }
        finally
        {
            if (rented is not null) System.Buffers.ArrayPool<byte>.Shared.Return(rented, clearArray: true); // it held a key
        }
    }
}
