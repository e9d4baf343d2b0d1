using Actors.Domain.Tracking;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Actors.Api;

/// <summary>
/// Query values are text a route may filter PostgreSQL with ("?type=", "?after="): "%00" decodes to a NUL that the
/// database refuses (a 500 deep inside a read). Refused here for every route, naming the parameter. Kestrel already
/// refuses a NUL in the path; invalid UTF-8 decodes to U+FFFD, so NUL is the one character left to stop.
/// </summary>
public static class QueryText
{
    public static IApplicationBuilder UseQueryText(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        if (http.Request.QueryString.HasValue && http.Request.QueryString.Value!.Contains("%00", StringComparison.Ordinal))
        {
            var errors = new List<(string, string)>();
            foreach (var (name, values) in http.Request.Query)
            {
                if (name.Contains('\0')) errors.Add(("query", StoredText.NulMessage));
                else if (values.Any(v => v is not null && v.Contains('\0'))) errors.Add((name, StoredText.NulMessage));
            }
            if (errors.Count > 0)
            {
                await Problems.Invalid(errors, "A query parameter holds the NUL character (%00).").ExecuteAsync(http);
                return;
            }
        }
        await next(http);
    });
}
