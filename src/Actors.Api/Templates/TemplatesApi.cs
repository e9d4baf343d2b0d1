using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Actors.Api.Access;
using Actors.Api.Tracking;
using Actors.Channels.Delivery;
using Actors.Channels.Templates;
using Actors.Grains.Identity;
using Actors.Storage.Access;
using Actors.Storage.Definitions;
using Actors.Storage.Journeys;
using Actors.Storage.Templates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Actors.Api.Templates;

/// <summary>
/// Marketers' message templates in Liquid: save (checked first: syntax, every variable and filter, sizes, a render for
/// sample visitors), read, list, delete (not while a journey uses it), check without saving, and preview for a real
/// visitor, saved or inline. Journeys and broadcasts name templates; their saves check that the templates exist.
/// </summary>
public static partial class TemplatesApi
{
    public sealed record TemplateView(string Id, string? Channel, string? Subject, string? Html, string? Text, string? Url,
        DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, long Revision);
    public sealed record TemplateSummary(string Id, string? Channel, string? Subject, DateTimeOffset UpdatedAt, long Revision);
    public sealed record TemplateCheckView(bool Valid, IReadOnlyList<string> Variables);
    public sealed record PreviewView(string TemplateId, string ProfileId, string? Subject, string? Html, string? Text, string? Url);

    /// <summary>Room for the largest parts written with JSON escapes.</summary>
    public const int BodyLimit = 2 * 1024 * 1024;

    private static readonly string[] Parts = ["channel", "subject", "html", "text", "url"];

    [GeneratedRegex("^[a-z0-9][a-z0-9_.-]{0,99}$")]
    private static partial Regex IdPattern();

    private const string ReservedId = "starters";

    private const string IdRule = "must be 1-100 characters of a-z, 0-9, '-', '_' or '.', starting with a letter or digit";

    public static bool IsTemplateId(string? id) => id is not null && IdPattern().IsMatch(id);

    public static IEndpointRouteBuilder MapTemplatesApi(this IEndpointRouteBuilder app)
    {
        var templates = app.MapGroup("/v1/templates").WithTags("Templates").RequireScope(ApiScope.Marketing);
        templates.MapGet("", List).WithSummary("Templates with their channel, subject and revision");
        templates.MapPost("/validate", Validate).WithSummary("Check a template without saving it: every error with its part (subject, html, text, url)");
        templates.MapPost("/preview", PreviewInline).WithSummary("Render an unsaved template for a visitor: {\"profileId\": …, \"template\": {…}}");
        templates.MapGet("/{id}", Get).WithSummary("One template (ETag: the revision)");
        templates.MapPut("/{id}", Put).WithSummary("Create or change a template; If-Match with a stale revision gets 409");
        templates.MapDelete("/{id}", Delete).WithSummary("Delete a template no journey uses (409 while one does)");
        templates.MapPost("/{id}/preview", PreviewSaved).WithSummary("Render the saved template for a visitor: {\"profileId\": …}");
        templates.MapStarterTemplates();
        return app;
    }

    private static async Task<IResult> List(TemplateStore store, CancellationToken ct) =>
        TypedResults.Ok((await store.ListAsync(ct)).Select(t => new TemplateSummary(t.Id, t.Channel, t.Subject, t.UpdatedAt, t.Revision)).ToList());

    private static async Task<IResult> Get(string id, HttpResponse response, TemplateStore store, CancellationToken ct)
    {
        if (!IsTemplateId(id) || await store.FindAsync(id, ct) is not { } t) return Problems.NotFound($"No template '{Shorten(id)}'.");
        response.Headers.ETag = $"\"{t.Revision}\"";
        return TypedResults.Ok(View(t));
    }

    private static async Task<IResult> Validate(HttpRequest http)
    {
        var body = await RequestBody.ReadJsonAsync(http, BodyLimit);
        if (Unreadable(body) is { } unreadable) return unreadable;
        var errors = new List<(string, string)>();
        var source = ReadSource(body.Document!.RootElement, "", [], errors);
        if (source is null) return Problems.Invalid(errors);
        var (_, problems) = await TemplateCheck.CheckAsync(source, "validate");
        return problems.Count > 0 ? Invalid(problems, "") : TypedResults.Ok(new TemplateCheckView(true, TemplateVariables.Documented));
    }

    private static async Task<IResult> Put(string id, HttpRequest http, HttpResponse response, TemplateStore store, OutboundAddressGuard guard, TimeProvider clock,
        CancellationToken ct)
    {
        if (!IsTemplateId(id)) return Problems.Invalid([("id", IdRule)]);
        // GET /v1/templates/starters is the starters' list: a template of that id could never be read back.
        if (id == ReservedId) return Problems.Invalid([("id", $"'{ReservedId}' is reserved for {StarterTemplatesApi.Route}; choose another id")]);
        var body = await RequestBody.ReadJsonAsync(http, BodyLimit);
        if (Unreadable(body) is { } unreadable) return unreadable;
        var root = body.Document!.RootElement;
        var errors = new List<(string, string)>();
        var source = ReadSource(root, "", ["id", "revision"], errors);
        long? fromBody = null;
        if (source is not null)
        {
            if (root.TryGetProperty("id", out var bodyId) && (bodyId.ValueKind != JsonValueKind.String || bodyId.ValueEquals(id) is false))
                errors.Add(("id", "must be the route's id or left out"));
            if (root.TryGetProperty("revision", out var r) && r.ValueKind != JsonValueKind.Null)
            {
                if (r.ValueKind == JsonValueKind.Number && r.TryGetInt64(out var revision) && revision > 0) fromBody = revision;
                else errors.Add(("revision", "must be a template revision, such as 12"));
            }
        }
        if (source is null || errors.Count > 0) return Problems.Invalid(errors);
        var (_, problems) = await TemplateCheck.CheckAsync(source, id);
        if (problems.Count > 0) return Invalid(problems, "");
        // A webhook's fixed URL is checked now; one that Liquid writes is checked when it is rendered and connected to.
        if (source.Channel == "webhook" && source.Url is { } url && !url.Contains('{', StringComparison.Ordinal) && guard.Problem(url) is { } refused)
            return Problems.Invalid([("url", refused)]);
        if (!Revisions.TryExpected(http, fromBody, out var expected))
            return Problems.Invalid([("If-Match", "must be a template revision, such as \"12\"")]);

        var now = clock.GetUtcNow();
        var update = await store.UpdateAsync(id, expected, current => current with
        {
            Channel = source.Channel, Subject = source.Subject, Html = source.Html, Text = source.Text, Url = source.Url, UpdatedAt = now,
        }, ct);
        switch (update.Status)
        {
            case RevisionedSaveStatus.Conflict: return Stale(id, update.Document!);
            case RevisionedSaveStatus.NotFound when expected is not null: return Problems.NotFound($"No template '{id}' at revision {expected}.");
            case RevisionedSaveStatus.NotFound:
                var created = await store.CreateAsync(new TemplateDocument
                {
                    Id = id, Channel = source.Channel, Subject = source.Subject, Html = source.Html, Text = source.Text, Url = source.Url,
                    CreatedAt = now, UpdatedAt = now,
                }, ct);
                if (created is null) return Problems.Conflict($"Template '{id}' was created meanwhile; read it and re-apply your change.");
                response.Headers.ETag = $"\"{created.Revision}\"";
                return TypedResults.Created($"/v1/templates/{id}", View(created));
        }
        response.Headers.ETag = $"\"{update.Document!.Revision}\"";
        return TypedResults.Ok(View(update.Document!));
    }

    private static async Task<IResult> Delete(string id, HttpRequest http, TemplateStore store, JourneyStore journeys, CancellationToken ct)
    {
        if (!IsTemplateId(id)) return Problems.NotFound($"No template '{Shorten(id)}'.");
        if (!Revisions.TryExpected(http, null, out var expected))
            return Problems.Invalid([("If-Match", "must be a template revision, such as \"12\"")]);
        List<string> users = [];
        var deleted = await store.DeleteAsync(id, expected, async _ =>
        {
            users = [.. (await journeys.ListAsync(ct)).Where(j => j.Status != Domain.Journeys.JourneyStatus.Archived && TemplateReferences.UsedBy(j).Contains(id)).Select(j => j.Id)];
            return users.Count > 0;
        }, ct);
        return deleted.Status switch
        {
            RevisionedSaveStatus.NotFound => Problems.NotFound($"No template '{id}'."),
            RevisionedSaveStatus.Conflict => Stale(id, deleted.Document!),
            RevisionedSaveStatus.Refused => Problems.Conflict(
                $"Template '{id}' is used by journeys that are not archived: {string.Join(", ", users.Take(20))}. Change or archive them first."),
            _ => TypedResults.NoContent(),
        };
    }

    private static async Task<IResult> PreviewSaved(string id, HttpRequest http, TemplateRenderer renderer, VisitorDirectory directory, CancellationToken ct)
    {
        if (!IsTemplateId(id)) return Problems.NotFound($"No template '{Shorten(id)}'.");
        var body = await RequestBody.ReadJsonAsync(http, BodyLimit);
        if (Unreadable(body) is { } unreadable) return unreadable;
        var errors = new List<(string, string)>();
        var visitorId = ProfileIdOf(body.Document!.RootElement, ["profileId"], errors);
        if (visitorId is null) return Problems.Invalid(errors);
        CompiledTemplate template;
        try
        {
            template = await renderer.TemplateAsync(id, ct);
        }
        catch (TemplateNotFoundException)
        {
            return Problems.NotFound($"No template '{id}'.");
        }
        return await PreviewAsync(id, template, visitorId, renderer, directory);
    }

    private static async Task<IResult> PreviewInline(HttpRequest http, TemplateRenderer renderer, VisitorDirectory directory)
    {
        var body = await RequestBody.ReadJsonAsync(http, BodyLimit);
        if (Unreadable(body) is { } unreadable) return unreadable;
        var root = body.Document!.RootElement;
        var errors = new List<(string, string)>();
        var visitorId = ProfileIdOf(root, ["profileId", "template"], errors);
        TemplateSource? source = null;
        if (root.ValueKind == JsonValueKind.Object)
        {
            if (root.TryGetProperty("template", out var t)) source = ReadSource(t, "template.", [], errors);
            else errors.Add(("template", "is required: the template's parts (channel, subject, html, text, url)"));
        }
        if (visitorId is null || source is null || errors.Count > 0) return Problems.Invalid(errors);
        var (template, problems) = await TemplateCheck.CheckAsync(source, "preview");
        if (template is null) return Invalid(problems, "template.");
        return await PreviewAsync("preview", template, visitorId, renderer, directory);
    }

    private static async Task<IResult> PreviewAsync(string templateId, CompiledTemplate template, string visitorId, TemplateRenderer renderer, VisitorDirectory directory)
    {
        var profileId = await directory.ResolveAsync(Aliases.FromVisitorId(visitorId));
        if ((await directory.Visitor(profileId).Recipient()).Value is not { } recipient) return Problems.NotFound($"No visitor '{visitorId}'.");
        try
        {
            var rendered = await renderer.PreviewAsync(template, recipient, templateId);
            return TypedResults.Ok(new PreviewView(templateId, recipient.ProfileId, rendered.Subject, rendered.Html, rendered.Text, rendered.Url));
        }
        catch (Exception e) when (e is not OutOfMemoryException and not OperationCanceledException)
        {
            // What this visitor's values make of the template (a limit, a filter refusing a value) is the template's fault, not ours.
            return Problems.Invalid([("template", $"cannot be rendered for this visitor: {e.Message}")]);
        }
    }

    /// <summary>The parts of a template from a JSON object; null (with errors) when it is not one or a part is not storable text.</summary>
    private static TemplateSource? ReadSource(JsonElement json, string prefix, string[] alsoAllowed, List<(string, string)> errors)
    {
        if (json.ValueKind != JsonValueKind.Object)
        {
            errors.Add((prefix.Length == 0 ? "body" : prefix.TrimEnd('.'), "must be a JSON object with the template's parts: channel, subject, html, text, url"));
            return null;
        }
        var before = errors.Count;
        if (!JsonText.Check(json, prefix.TrimEnd('.'), (path, message) => errors.Add((path.Length == 0 ? "body" : path, message)))) return null;
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var property in json.EnumerateObject())
        {
            if (!Parts.Contains(property.Name))
            {
                if (!alsoAllowed.Contains(property.Name))
                    errors.Add((prefix + Shorten(property.Name), $"is not a template field; expected {string.Join(", ", Parts)}"));
                continue;
            }
            switch (property.Value.ValueKind)
            {
                case JsonValueKind.Null: values[property.Name] = null; break;
                case JsonValueKind.String: values[property.Name] = property.Value.GetString(); break;
                default: errors.Add((prefix + property.Name, "must be a string (Liquid text) or null")); break;
            }
        }
        if (errors.Count > before) return null;
        return new TemplateSource(Blank(values.GetValueOrDefault("channel")), Blank(values.GetValueOrDefault("subject")), Blank(values.GetValueOrDefault("html")),
            Blank(values.GetValueOrDefault("text")), Blank(values.GetValueOrDefault("url")));
    }

    private static string? ProfileIdOf(JsonElement json, string[] allowed, List<(string, string)> errors)
    {
        if (json.ValueKind != JsonValueKind.Object)
        {
            errors.Add(("body", "must be a JSON object such as {\"profileId\": \"…\"}"));
            return null;
        }
        foreach (var property in json.EnumerateObject())
            if (!allowed.Contains(property.Name)) errors.Add((Shorten(property.Name), $"is not a field here; expected {string.Join(", ", allowed)}"));
        if (!json.TryGetProperty("profileId", out var p) || p.ValueKind != JsonValueKind.String)
        {
            errors.Add(("profileId", "is required: the visitor's id (an anonymous id, or user:<id> for a known customer)"));
            return null;
        }
        var id = JsonText.TryGetString(p, out var problem);
        if (id is null) errors.Add(("profileId", problem ?? "must be text"));
        else if (id.Length is 0 or > 200 || !Domain.Tracking.StoredText.IsClean(id)) errors.Add(("profileId", "must be 1 to 200 characters without control characters"));
        else return id;
        return null;
    }

    /// <summary>The body's error, or a 400 when its text is not valid UTF-8 (the JSON reader would only find out when a string is read).</summary>
    private static IResult? Unreadable(RequestBody.Result body) =>
        body.Error ?? (System.Text.Unicode.Utf8.IsValid(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(body.Document!.RootElement))
            ? null : Problems.Invalid([("body", "must be valid UTF-8 text")]));

    private static string? Blank(string? text) => string.IsNullOrEmpty(text) ? null : text;

    private static Microsoft.AspNetCore.Http.HttpResults.ValidationProblem Invalid(IReadOnlyList<TemplateError> errors, string prefix) =>
        Problems.Invalid(errors.Select(e => (prefix + e.Path, e.Message)), "The template has errors; each is named by its part.");

    private static IResult Stale(string id, TemplateDocument current) => Revisions.Stale("Template", id, current.Revision);

    private static TemplateView View(TemplateDocument t) =>
        new(t.Id, t.Channel, t.Subject, t.Html, t.Text, t.Url, t.CreatedAt, t.UpdatedAt, t.Revision);

    /// <summary>Echoed text is kept short and printable (a hostile id may be long or hold anything).</summary>
    private static string Shorten(string text)
    {
        var printable = new string([.. text.Take(64).Select(c => char.IsControl(c) || char.IsSurrogate(c) ? '?' : c)]);
        return text.Length > 64 ? printable + "..." : printable;
    }
}
