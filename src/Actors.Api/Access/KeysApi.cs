using Actors.Storage.Access;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Actors.Api.Access;

/// <summary>
/// Who the caller's key is: the dashboard asks at sign-in to know what to show (ingest keys cannot read reports,
/// marketing keys do not see the admin pages). Any valid key may ask; the key itself is never echoed back.
/// </summary>
public static class KeysApi
{
    public sealed record KeyView(string Name, string Scope);

    public static IEndpointRouteBuilder MapKeysApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/keys/me", (HttpContext http) =>
            {
                var caller = http.Caller();
                return TypedResults.Ok(new KeyView(caller.Name, caller.Scope.ToString().ToLowerInvariant()));
            })
            .WithTags("Access").RequireScope(ApiScope.Ingest)
            .WithSummary("The caller's key: its name and scope (ingest, marketing or admin)");
        return app;
    }
}
