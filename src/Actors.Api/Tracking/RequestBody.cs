using System.IO.Compression;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Actors.Api.Tracking;

/// <summary>Reads a JSON body, gzip or plain, refusing more than a limit counted after decompression.</summary>
public static class RequestBody
{
    public const int MessageLimit = 32 * 1024;   // Segment's limit for one message
    public const int BatchLimit = 500 * 1024;    // Segment's limit for a batch

    /// <summary>The parsed body, or the answer to give instead; <see cref="Length"/> is the decompressed size in bytes.</summary>
    public sealed record Result(JsonDocument? Document, IResult? Error, int Length = 0);

    private const string ParsedKey = "actors.body";

    /// <summary>Reads the body once per request: a second call (the handler after the key filter) gets the same document.</summary>
    public static async Task<Result> ReadJsonAsync(HttpRequest request, int limit)
    {
        if (request.HttpContext.Items.TryGetValue(ParsedKey, out var parsed) && parsed is Result cached)
        {
            if (cached.Document is not null && cached.Length > limit) return new Result(null, Problems.TooLarge(limit));
            return cached;
        }
        var result = await ReadCoreAsync(request, limit);
        request.HttpContext.Items[ParsedKey] = result;
        if (result.Document is not null) request.HttpContext.Response.RegisterForDispose(result.Document);
        return result;
    }

    private static async Task<Result> ReadCoreAsync(HttpRequest request, int limit)
    {
        Stream body = request.Body;
        var encoding = request.Headers.ContentEncoding.ToString();
        if (encoding.Contains("gzip", StringComparison.OrdinalIgnoreCase)) body = new GZipStream(body, CompressionMode.Decompress);
        else if (encoding.Contains("deflate", StringComparison.OrdinalIgnoreCase)) body = new ZLibStream(body, CompressionMode.Decompress);
        else if (encoding.Length > 0 && !encoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
            return new Result(null, Problems.BadRequest($"Content-Encoding '{encoding}' is not supported; use gzip or none."));

        var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await body.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0)
            {
                if (buffer.Length + read > limit) return new Result(null, Problems.TooLarge(limit));
                buffer.Write(chunk, 0, read);
            }
        }
        catch (InvalidDataException)
        {
            return new Result(null, Problems.BadRequest("The body is not valid gzip."));
        }

        if (buffer.Length == 0) return new Result(null, Problems.BadRequest("The body is empty; a JSON object is expected."));
        try
        {
            var document = JsonDocument.Parse(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
            if (JsonText.UnreadableName(document.RootElement) is { } at)
            {
                document.Dispose();
                return new Result(null, Problems.Invalid([(at, JsonText.SurrogateNameMessage)]));
            }
            return new Result(document, null, (int)buffer.Length);
        }
        catch (JsonException e)
        {
            return new Result(null, Problems.Invalid([("body", $"Not valid JSON: {e.Message}")]));
        }
    }
}
