using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Actors.Api.Access;
using Actors.Api.Tracking;
using Actors.Domain.Tracking;
using Actors.Grains.Identity;
using Actors.Storage.Access;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Actors.Api.Import;

public sealed record ImportError(int Row, string Field, string Message);

public sealed record ImportReport(
    string Id, string Kind, string State, int Rows, int Imported, int Duplicates, int Failed,
    IReadOnlyList<ImportError> Errors, bool ErrorsTruncated, long ElapsedMs, string? Error = null);

/// <summary>
/// Bulk import of CRM attributes and store orders, as CSV (header row) or JSON lines. Each row becomes an event in the
/// customer's stream (user:&lt;user_id&gt;); a bad row is reported with its row number and field and the others go on.
/// Rows carry deterministic message ids, so importing the same file twice stores nothing new (reported as duplicates),
/// and an order already tracked online with the same order id counts once.
/// </summary>
public static partial class ImportApi
{
    private const int Chunk = 500;
    private const long MaxBody = 512L * 1024 * 1024;

    public static IEndpointRouteBuilder MapImportApi(this IEndpointRouteBuilder app)
    {
        var imports = app.MapGroup("/v1/imports").WithTags("Import").RequireScope(ApiScope.Marketing);
        imports.MapPost("/attributes", (HttpContext http, VisitorDirectory directory, ImportJobs jobs, TimeProvider clock, ILoggerFactory logs) =>
                RunAsync(http, directory, jobs, clock, logs, "attributes", AttributesRow))
            .WithSummary("CRM attributes: CSV with a user_id column (others become attributes) or JSON lines {\"userId\", \"attributes\": {…}}");
        imports.MapGet("/{id}", (string id, ImportJobs jobs) => jobs.Find(id) is { } job ? Results.Ok(job.Report()) : Problems.NotFound($"No import '{id}' on this node."))
            .WithSummary("Progress of an import started with ?async=true");
        imports.MapPost("/orders", (HttpContext http, VisitorDirectory directory, ImportJobs jobs, TimeProvider clock, ILoggerFactory logs) =>
                RunAsync(http, directory, jobs, clock, logs, "orders", OrderRow))
            .WithSummary("Store (offline) orders: CSV user_id,order_id,total,currency,ordered_at[,channel,sku,category,quantity,price] or JSON lines");
        return app;
    }

    private delegate (string? UserId, VisitorEvent? Event) RowMapper(IReadOnlyDictionary<string, string?> row, int number, DateTimeOffset now, List<ImportError> errors);

    /// <summary>
    /// Runs an import. With ?async=true the body is first saved to a temporary file and the import runs in the
    /// background: 202 with a Location to poll for progress (rows read, imported, refused, errors so far). Without it,
    /// the answer is the final report.
    /// </summary>
    private static async Task<IResult> RunAsync(HttpContext http, VisitorDirectory directory, ImportJobs jobs, TimeProvider clock, ILoggerFactory logs, string kind, RowMapper map)
    {
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = MaxBody;
        var logger = logs.CreateLogger("Actors.Import");
        var jsonLines = IsJsonLines(http.Request);
        if (http.Request.Query["async"] == "true")
        {
            var file = Path.Combine(Path.GetTempPath(), $"actors-import-{Guid.NewGuid():N}");
            await using (var copy = File.Create(file)) await http.Request.Body.CopyToAsync(copy, http.RequestAborted);
            var job = jobs.Start(kind, clock.GetUtcNow());
            _ = Task.Run(async () =>
            {
                try
                {
                    await using var body = File.OpenRead(file);
                    await ImportAsync(body, jsonLines, directory, clock, logger, kind, map, job);
                    job.Finish("completed");
                }
                catch (Exception e)
                {
                    job.Finish("failed", e.Message);
                    LogFailed(logger, e, kind);
                }
                finally
                {
                    File.Delete(file);
                }
            });
            return TypedResults.Accepted($"/v1/imports/{job.Id}", job.Report());
        }

        var inline = jobs.Start(kind, clock.GetUtcNow());
        await ImportAsync(http.Request.Body, jsonLines, directory, clock, logger, kind, map, inline);
        inline.Finish("completed");
        return TypedResults.Ok(inline.Report());
    }

    private static async Task ImportAsync(Stream body, bool jsonLines, VisitorDirectory directory, TimeProvider clock, ILogger logger, string kind, RowMapper map, ImportJob job)
    {
        var now = clock.GetUtcNow();
        var chunk = new List<(string UserId, VisitorEvent Event)>(Chunk);
        var rowErrors = new List<ImportError>();
        using var reader = new StreamReader(body, Encoding.UTF8);
        await foreach (var (number, row) in jsonLines ? ReadJsonLinesAsync(reader, rowErrors) : ReadCsvAsync(reader, rowErrors))
        {
            var refused = row is null;
            if (!refused)
            {
                var before = rowErrors.Count;
                var (userId, e) = map(row!, number, now, rowErrors);
                if (userId is null || e is null || rowErrors.Count > before) refused = true;
                else chunk.Add((userId, e));
            }
            job.Read(refused, rowErrors);
            rowErrors.Clear();
            if (chunk.Count == Chunk)
            {
                var (i, d) = await FlushAsync(directory, chunk);
                job.Stored(i, d);
                chunk.Clear();
                var p = job.Report();
                LogProgress(logger, kind, p.Rows, p.Imported, p.Duplicates, p.Failed);
            }
        }
        var (li, ld) = await FlushAsync(directory, chunk);
        job.Stored(li, ld);
        var done = job.Report();
        LogDone(logger, kind, done.Rows, done.Imported, done.Duplicates, done.Failed, done.ElapsedMs);
    }

    /// <summary>One grain call per customer in the chunk, customers in parallel.</summary>
    private static async Task<(int Imported, int Duplicates)> FlushAsync(VisitorDirectory directory, List<(string UserId, VisitorEvent Event)> chunk)
    {
        if (chunk.Count == 0) return (0, 0);
        // Bounded: an import must not crowd out live traffic (each new customer activates two grains and loads a stream).
        var results = new System.Collections.Concurrent.ConcurrentBag<Actors.Grains.Visitors.TrackResult>();
        await Parallel.ForEachAsync(chunk.GroupBy(r => r.UserId), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (g, _) =>
        {
            var profileId = await directory.ResolveAsync(Aliases.User(g.Key));
            results.Add(await directory.TrackAsync(profileId, [.. g.Select(r => r.Event)]));
        });
        var duplicates = results.Sum(r => r.Events.Count(e => e.Duplicate));
        return (results.Sum(r => r.Events.Count) - duplicates, duplicates);
    }

    private static bool IsJsonLines(HttpRequest request)
    {
        var type = request.ContentType ?? "";
        return type.Contains("ndjson", StringComparison.OrdinalIgnoreCase) || type.Contains("jsonl", StringComparison.OrdinalIgnoreCase)
            || type.Contains("application/json", StringComparison.OrdinalIgnoreCase) || request.Query["format"] == "jsonl";
    }

    private static async IAsyncEnumerable<(int Number, IReadOnlyDictionary<string, string?>? Row)> ReadCsvAsync(TextReader reader, List<ImportError> errors)
    {
        List<string>? header = null;
        var number = 0;
        await foreach (var record in Csv.ReadAsync(reader))
        {
            if (header is null)
            {
                header = [.. record.Select(h => h.Trim().ToLowerInvariant())];
                continue;
            }
            number++;
            if (record.Count != header.Count)
            {
                errors.Add(new ImportError(number, "row", $"has {record.Count} fields; the header has {header.Count}"));
                yield return (number, null);
                continue;
            }
            // A NUL (jsonb cannot hold one) or a lone surrogate refuses the row, naming the column.
            var before = errors.Count;
            for (var i = 0; i < header.Count; i++)
            {
                // A bad header cannot name its column; the column's position does.
                if (JsonText.Problem(header[i]) is { } inName) errors.Add(new ImportError(number, $"column {i + 1}", inName));
                else if (JsonText.Problem(record[i]) is { } inValue) errors.Add(new ImportError(number, header[i], inValue));
            }
            if (errors.Count > before)
            {
                yield return (number, null);
                continue;
            }
            var row = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            for (var i = 0; i < header.Count; i++) row[header[i]] = record[i].Length == 0 ? null : record[i];
            yield return (number, row);
        }
    }

    private static async IAsyncEnumerable<(int Number, IReadOnlyDictionary<string, string?>? Row)> ReadJsonLinesAsync(TextReader reader, List<ImportError> errors)
    {
        var number = 0;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            number++;
            Dictionary<string, string?>? row = null;
            try
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new JsonException("a JSON object is expected");
                // Checked before any string is read: a lone surrogate cannot be read, a NUL cannot be stored.
                if (JsonText.Check(doc.RootElement, "", (field, problem) => errors.Add(new ImportError(number, field == "body" ? "line" : field, problem))))
                {
                    row = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
                    Flatten(doc.RootElement, "", row);
                }
            }
            catch (JsonException e)
            {
                errors.Add(new ImportError(number, "line", $"not a JSON object: {e.Message}"));
            }
            yield return (number, row);
        }
    }

    // JSON lines use the same names as CSV columns: {"userId"} → user_id, nested {"attributes": {"tier": …}} → tier.
    private static void Flatten(JsonElement element, string prefix, Dictionary<string, string?> row)
    {
        foreach (var property in element.EnumerateObject())
        {
            var name = Snake(property.Name);
            if (prefix.Length == 0 && name is "attributes" or "traits" && property.Value.ValueKind == JsonValueKind.Object)
            {
                foreach (var attribute in property.Value.EnumerateObject()) row[attribute.Name] = Text(attribute.Value);
                continue;
            }
            if (name == "lines" && property.Value.ValueKind == JsonValueKind.Array)
            {
                row["lines"] = property.Value.GetRawText();
                continue;
            }
            row[prefix + name] = Text(property.Value);
        }
    }

    private static string? Text(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.String => value.GetString(),
        _ => value.GetRawText(),
    };

    private static string Snake(string name)
    {
        var sb = new StringBuilder(name.Length + 4);
        foreach (var c in name)
        {
            if (char.IsUpper(c) && sb.Length > 0) sb.Append('_');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    private static (string?, VisitorEvent?) AttributesRow(IReadOnlyDictionary<string, string?> row, int number, DateTimeOffset now, List<ImportError> errors)
    {
        var userId = Required(row, "user_id", number, errors);
        var attributes = row.Where(p => p.Key is not ("user_id" or "updated_at")).ToDictionary(p => p.Key, p => p.Value);
        if (attributes.Count == 0) errors.Add(new ImportError(number, "row", "has no attribute columns"));
        var at = Time(row, "updated_at", number, errors, now) ?? now;
        if (userId is null || attributes.Count == 0) return (null, null);
        // Same row content → same message id: re-importing a file stores nothing twice.
        var id = $"import:attributes:{userId}:{Hash(string.Join('\u001f', attributes.OrderBy(a => a.Key).Select(a => $"{a.Key}={a.Value}")))}";
        return (userId, new AttributesUpdated(attributes, "import") { MessageId = id, EventTime = at, ReceivedTime = now });
    }

    private static (string?, VisitorEvent?) OrderRow(IReadOnlyDictionary<string, string?> row, int number, DateTimeOffset now, List<ImportError> errors)
    {
        var userId = Required(row, "user_id", number, errors);
        var orderId = Required(row, "order_id", number, errors);
        var total = Money(row, "total", number, errors, required: true);
        var currency = row.GetValueOrDefault("currency") ?? "EUR";
        if (currency.Length != 3 || !currency.All(char.IsAsciiLetter)) errors.Add(new ImportError(number, "currency", "must be a 3-letter code"));
        var at = Time(row, "ordered_at", number, errors, now);
        if (at is null && row.GetValueOrDefault("ordered_at") is null) errors.Add(new ImportError(number, "ordered_at", "is required"));
        var channel = row.GetValueOrDefault("channel")?.ToLowerInvariant() is "online" or "web" ? SalesChannel.Online : SalesChannel.Store;

        var lines = new List<OrderLine>();
        if (row.GetValueOrDefault("lines") is { } json)
        {
            try
            {
                using var parsed = JsonDocument.Parse(json);
                // A CSV cell's JSON may hold escapes the row check could not see.
                if (!JsonText.Check(parsed.RootElement, "lines", (field, problem) => errors.Add(new ImportError(number, field, problem))))
                    return (null, null);
                foreach (var line in parsed.RootElement.EnumerateArray())
                {
                    var sku = line.TryGetProperty("sku", out var s) ? s.ToString() : line.TryGetProperty("product_id", out var p) ? p.ToString() : null;
                    if (string.IsNullOrWhiteSpace(sku)) { errors.Add(new ImportError(number, "lines.sku", "is required")); continue; }
                    var qty = line.TryGetProperty("quantity", out var q) ? q.TryGetInt32(out var n) && n is >= 1 and <= EventBounds.MaxQuantity ? n : -1 : 1;
                    if (qty < 0) { errors.Add(new ImportError(number, "lines.quantity", $"must be a whole number from 1 to {EventBounds.MaxQuantity}")); continue; }
                    var price = line.TryGetProperty("price", out var pr) ? pr.TryGetDecimal(out var d) && d is >= 0 and <= EventBounds.MaxAmount ? d : -1m : 0m;
                    if (price < 0) { errors.Add(new ImportError(number, "lines.price", $"must be an amount from 0 to {EventBounds.MaxAmount}")); continue; }
                    lines.Add(new OrderLine(sku, line.TryGetProperty("category", out var c) ? c.GetString() : null, qty, price));
                }
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException)
            {
                errors.Add(new ImportError(number, "lines", "must be an array of {sku, category, quantity, price}"));
            }
        }
        else if (row.GetValueOrDefault("sku") is { } sku)
        {
            var quantity = 1;
            if (row.GetValueOrDefault("quantity") is { } q && (!int.TryParse(q, NumberStyles.Integer, CultureInfo.InvariantCulture, out quantity) || quantity is < 1 or > EventBounds.MaxQuantity))
                errors.Add(new ImportError(number, "quantity", $"must be a whole number from 1 to {EventBounds.MaxQuantity}"));
            lines.Add(new OrderLine(sku, row.GetValueOrDefault("category"), quantity, Money(row, "price", number, errors, required: false) ?? total ?? 0m));
        }

        if (userId is null || orderId is null || total is null || at is null) return (null, null);
        // The order id is the identity: the same order tracked online or imported again counts once.
        return (userId, new OrderPlaced(orderId, lines, total.Value, currency.ToUpperInvariant(), channel)
        {
            MessageId = $"import:order:{orderId}",
            EventTime = at.Value,
            ReceivedTime = now,
        });
    }

    private static string? Required(IReadOnlyDictionary<string, string?> row, string field, int number, List<ImportError> errors)
    {
        var value = row.GetValueOrDefault(field)?.Trim();
        if (string.IsNullOrEmpty(value)) { errors.Add(new ImportError(number, field, "is required")); return null; }
        if (value.Length > 200) { errors.Add(new ImportError(number, field, "is longer than 200 characters")); return null; }
        return value;
    }

    private static decimal? Money(IReadOnlyDictionary<string, string?> row, string field, int number, List<ImportError> errors, bool required)
    {
        var text = row.GetValueOrDefault(field);
        if (text is null)
        {
            if (required) errors.Add(new ImportError(number, field, "is required"));
            return null;
        }
        if (decimal.TryParse(text, NumberStyles.Number, CultureInfo.InvariantCulture, out var value) && value >= 0)
        {
            if (value <= EventBounds.MaxAmount) return value;
            errors.Add(new ImportError(number, field, $"must be at most {EventBounds.MaxAmount}"));
            return null;
        }
        errors.Add(new ImportError(number, field, $"'{text}' is not an amount (use a dot for decimals)"));
        return null;
    }

    /// <summary>An ISO-8601 time within the event-time window (README "Event time"): an import refuses, not clamps.</summary>
    private static DateTimeOffset? Time(IReadOnlyDictionary<string, string?> row, string field, int number, List<ImportError> errors, DateTimeOffset now)
    {
        if (row.GetValueOrDefault(field) is not { } text) return null;
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
        {
            if (EventBounds.InWindow(at, now)) return at;
            errors.Add(new ImportError(number, field, $"'{text}' is outside the accepted window: at most {EventBounds.MaxPast.TotalDays:0} days back and {EventBounds.MaxFuture.TotalMinutes:0} minutes ahead"));
            return null;
        }
        errors.Add(new ImportError(number, field, $"'{text}' is not an ISO-8601 time"));
        return null;
    }

    private static string Hash(string text) =>
        Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16].ToLowerInvariant();

    [LoggerMessage(Level = LogLevel.Error, Message = "Import {Kind} failed")]
    private static partial void LogFailed(ILogger logger, Exception e, string kind);

    [LoggerMessage(Level = LogLevel.Information, Message = "Import {Kind}: {Rows} rows read, {Imported} imported, {Duplicates} already there, {Failed} refused")]
    private static partial void LogProgress(ILogger logger, string kind, int rows, int imported, int duplicates, int failed);

    [LoggerMessage(Level = LogLevel.Information, Message = "Import {Kind} done: {Rows} rows, {Imported} imported, {Duplicates} already there, {Failed} refused in {ElapsedMs} ms")]
    private static partial void LogDone(ILogger logger, string kind, int rows, int imported, int duplicates, int failed, long elapsedMs);
}
