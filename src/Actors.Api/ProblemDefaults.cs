using Microsoft.AspNetCore.Http;

namespace Actors.Api;

/// <summary>
/// Problems the framework writes itself (status code pages: a route that is not there, a media type a route does not
/// read) carry only a title; this fills their detail so every 4xx says what to change.
/// </summary>
public static class ProblemDefaults
{
    public static void Fill(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        if (!string.IsNullOrEmpty(problem.Detail)) return;
        var request = context.HttpContext.Request;
        problem.Detail = problem.Status switch
        {
            StatusCodes.Status404NotFound => $"No route answers {request.Method} {request.Path}.",
            StatusCodes.Status405MethodNotAllowed => $"{request.Path} does not take {request.Method}.",
            StatusCodes.Status415UnsupportedMediaType =>
                $"This route reads a JSON body (Content-Type: application/json); the request's Content-Type is '{request.ContentType ?? "none"}'.",
            _ => null,
        };
    }
}
