using System.Globalization;
using System.Threading.RateLimiting;
using Actors.Storage.Access;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Actors.Api.Access;

/// <summary>
/// Token buckets, taken before any key is looked up or any body read. A key this node has found valid gets a bucket of
/// its own, by key id (Actors:Api:RequestsPerSecondPerKey, BurstPerKey). Anything else (no header key, a key in the
/// body, an unknown key, a key not seen yet) shares its client address's bucket (RequestsPerSecondPerAddress,
/// BurstPerAddress), so made-up keys cost the guesser and not the database. Over a bucket: 429 with Retry-After.
/// </summary>
public static class RateLimiting
{
    public static IServiceCollection AddActorsRateLimiting(this IServiceCollection services, IConfiguration configuration)
    {
        var perSecond = configuration.GetValue("Actors:Api:RequestsPerSecondPerKey", 2000);
        var burst = configuration.GetValue("Actors:Api:BurstPerKey", perSecond * 2);
        var perAddress = configuration.GetValue("Actors:Api:RequestsPerSecondPerAddress", perSecond);
        var burstPerAddress = configuration.GetValue("Actors:Api:BurstPerAddress", perAddress * 2);
        services.AddRateLimiter(options =>
        {
            options.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
            {
                if (!IsApi(http.Request.Path)) return RateLimitPartition.GetNoLimiter("unlimited");
                var hash = ApiKeyAuth.HeaderKeyHash(http);
                var keyId = hash is null ? null : http.RequestServices.GetRequiredService<ApiKeyStore>().KnownKeyIdOfHash(hash);
                return keyId is not null
                    ? RateLimitPartition.GetTokenBucketLimiter("key:" + keyId, _ => Bucket(perSecond, burst))
                    : RateLimitPartition.GetTokenBucketLimiter("address:" + (http.Connection.RemoteIpAddress?.ToString() ?? "unknown"), _ => Bucket(perAddress, burstPerAddress));
            });
            options.OnRejected = async (context, ct) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
                var response = context.HttpContext.Response;
                response.StatusCode = StatusCodes.Status429TooManyRequests;
                response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
                await TypedResults.Problem($"Too many requests for this API key or client address; retry after {retryAfter} s.",
                    statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests").ExecuteAsync(context.HttpContext);
            };
        });
        return services;
    }

    /// <summary>The API's routes, including the browser SDKs' own outside /v1 (RudderStack's beacon and source configuration).</summary>
    private static bool IsApi(PathString path) =>
        path.StartsWithSegments("/v1") || path.StartsWithSegments("/beacon") || path.StartsWithSegments("/sourceConfig");

    private static TokenBucketRateLimiterOptions Bucket(int perSecond, int burst) => new()
    {
        TokenLimit = burst,
        TokensPerPeriod = perSecond,
        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
        QueueLimit = 0,
        AutoReplenishment = true,
    };
}
