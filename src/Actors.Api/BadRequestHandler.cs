using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Actors.Api;

/// <summary>
/// A request that minimal APIs could not bind (a body that is not the expected JSON, a query value that is not a
/// number, a media type the route does not read) answers 4xx problem+json that says which parameter and, for JSON, at
/// which path. Without this the framework answers a bare status with a title and nothing a client could act on.
/// Needs RouteHandlerOptions.ThrowOnBadRequest, which <see cref="ApiSetup"/> sets.
/// </summary>
public sealed class BadRequestHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
    {
        if (exception is not BadHttpRequestException bad || http.Response.HasStarted) return false;
        http.Response.StatusCode = bad.StatusCode;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            Exception = exception,
            ProblemDetails = new ProblemDetails
            {
                Status = bad.StatusCode,
                Title = bad.StatusCode switch
                {
                    StatusCodes.Status415UnsupportedMediaType => "Unsupported media type",
                    StatusCodes.Status413PayloadTooLarge => "Payload too large",
                    _ => "Bad request",
                },
                Detail = Detail(bad),
            },
        });
    }

    /// <summary>The framework's sentence (it names the parameter), and for JSON the path and position of the fault.</summary>
    public static string Detail(BadHttpRequestException bad) => bad.InnerException switch
    {
        JsonException { Path: { } path } json => $"{bad.Message} At {path}" + (json.LineNumber is { } line ? $" (line {line + 1}, byte {json.BytePositionInLine + 1})." : "."),
        JsonException json => $"{bad.Message} {json.Message}",
        _ => bad.Message,
    };
}
