using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.FileProviders;

namespace Actors.Dashboard;

/// <summary>
/// Serves the dashboard's static files (embedded in this assembly at build time) under /dashboard/. The files need no
/// key: the page asks for one and sends it only to this origin's API, which checks it on every call.
/// </summary>
public static class DashboardSetup
{
    public const string Path = "/dashboard";

    // Scripts only from this origin, none inline; the API only on this origin, so a key cannot leave it. ECharts places
    // its tooltips with style attributes, hence those (not style elements, never scripts) are allowed.
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; " +
        "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    private static readonly ManifestEmbeddedFileProvider Files = new(typeof(DashboardSetup).Assembly, "wwwroot");
    private static readonly FileExtensionContentTypeProvider ContentTypes = new();

    public static IEndpointRouteBuilder MapActorsDashboard(this IEndpointRouteBuilder app)
    {
        app.MapGet($"{Path}/{{**file}}", Serve).ExcludeFromDescription();
        return app;
    }

    private static async Task Serve(HttpContext http, string? file)
    {
        // Relative URLs of the app resolve under /dashboard/ only.
        if (!http.Request.Path.Value!.EndsWith('/') && string.IsNullOrEmpty(file))
        {
            http.Response.Redirect($"{Path}/");
            return;
        }
        var headers = http.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XFrameOptions = "DENY";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.CacheControl = "no-cache";

        // Pages are chosen by the location hash; any other path without a file is the app itself.
        var info = string.IsNullOrEmpty(file) || file.Contains("..", StringComparison.Ordinal) ? null : Files.GetFileInfo(file);
        if (info is not { Exists: true, IsDirectory: false })
        {
            if (!string.IsNullOrEmpty(file) && System.IO.Path.HasExtension(file))
            {
                http.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }
            info = Files.GetFileInfo("index.html");
        }
        http.Response.ContentType = ContentTypes.TryGetContentType(info.Name, out var type) ? type : "application/octet-stream";
        if (info.Name.EndsWith(".js", StringComparison.Ordinal)) http.Response.ContentType = "text/javascript; charset=utf-8";
        http.Response.ContentLength = info.Length;
        await using var stream = info.CreateReadStream();
        await stream.CopyToAsync(http.Response.Body, http.RequestAborted);
    }
}
