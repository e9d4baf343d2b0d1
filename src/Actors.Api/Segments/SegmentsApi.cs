using Actors.Domain.Tracking;
using Actors.Api.Tracking;
using System.Text.Json;
using System.Text.RegularExpressions;
using Actors.Api.Access;
using Actors.Channels.Delivery;
using Actors.Domain.Segments;
using Actors.Grains.Segments;
using Actors.Grains.Visitors;
using Actors.Storage.Definitions;
using Actors.Storage.Access;
using Actors.Storage.Segments;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Actors.Api.Segments;

/// <summary>
/// Marketers' segments: create, change (a new version), archive, list; validate or preview a rule without saving it;
/// members (paged), counts and size over time; the backfill that applies a saved rule to every existing profile.
/// </summary>
public static partial class SegmentsApi
{
    /// <param name="Revision">On an update: the revision the change is based on (or send If-Match); a stale one gets 409.</param>
    public sealed record SegmentRequest(string? Id, string? Name, JsonElement Rule, long? Revision = null);
    public sealed record RuleRequest(JsonElement Rule);
    public sealed record SegmentView(string Id, string Name, int Version, string Description, JsonElement Rule, bool Archived,
        DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, int Members, BackfillProgress? Backfill, long Revision);
    public sealed record RuleCheck(bool Valid, string? Description, JsonElement? Rule, IReadOnlyList<RuleError> Errors);
    public sealed record Preview(int Matches, int Scanned);
    public sealed record MemberPage(string SegmentId, IReadOnlyList<SegmentMember> Items, string? Next);

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,63}$")]
    private static partial Regex IdPattern();

    public static IEndpointRouteBuilder MapSegmentsApi(this IEndpointRouteBuilder app)
    {
        var segments = app.MapGroup("/v1/segments").WithTags("Segments").RequireScope(ApiScope.Marketing);
        segments.MapGet("", List).WithSummary("Segments with their readable rule and member count");
        segments.MapGet("/templates", () => TypedResults.Ok(SegmentTemplates.All)).WithSummary("Ready-made rules a shop needs on day one");
        segments.MapPost("/validate", Validate).WithSummary("Check a rule without saving it: its readable form, or errors pointing at the wrong part");
        segments.MapPost("/preview", PreviewRule).WithSummary("How many profiles a rule would match now (evaluated by each visitor grain, nothing stored)");
        segments.MapPost("", Create).WithSummary("Create a segment; a backfill applies it to every existing profile");
        segments.MapGet("/{id}", Get);
        segments.MapPut("/{id}", Update).WithSummary("Change the rule (a new version) or the name; a backfill re-applies it");
        segments.MapPost("/{id}/archive", Archive).WithSummary("Archive: every member leaves");
        segments.MapGet("/{id}/members", Members).WithSummary("Members, paged by profile id (from the inline projection)");
        segments.MapGet("/{id}/count", async (string id, SegmentStore store) => TypedResults.Ok(new { segmentId = id, members = await store.CountAsync(id) }));
        segments.MapGet("/{id}/history", async (string id, SegmentStore store) => TypedResults.Ok(await store.SizeHistoryAsync(id))).WithSummary("Size over time");
        segments.MapPut("/{id}/webhook", SetWebhook).WithSummary("Subscribe: enter/exit changes are POSTed to the URL, HMAC-signed, retried with backoff");
        segments.MapDelete("/{id}/webhook", RemoveWebhook);
        segments.MapGet("/{id}/deliveries", async (string id, SegmentStore store, int? limit) =>
            TypedResults.Ok(await store.DeliveriesAsync(id, Math.Clamp(limit ?? 100, 1, 1000)))).WithSummary("Latest webhook deliveries and their state");
        segments.MapGet("/{id}/backfill", (string id, SegmentBackfill backfill) =>
            backfill.Progress(id) is { } p ? Results.Ok(p) : Problems.NotFound($"No backfill has run for segment '{id}' on this node."));
        return app;
    }

    private static async Task<Ok<List<SegmentView>>> List(SegmentStore store, SegmentBackfill backfill, bool? archived)
    {
        var all = await store.ListAsync(archived ?? false);
        var views = new List<SegmentView>(all.Count);
        foreach (var s in all) views.Add(await ViewAsync(s, store, backfill));
        return TypedResults.Ok(views);
    }

    private static async Task<Results<Ok<SegmentView>, ProblemHttpResult>> Get(string id, HttpResponse response, SegmentStore store, SegmentBackfill backfill)
    {
        if (await store.FindAsync(id) is not { } s) return Problems.NotFound($"No segment '{id}'.");
        response.Headers.ETag = $"\"{s.Revision}\""; // send it back as If-Match with a PUT
        return TypedResults.Ok(await ViewAsync(s, store, backfill));
    }

    private static Results<Ok<RuleCheck>, BadRequest<RuleCheck>> Validate(RuleRequest request)
    {
        var parsed = SegmentRule.Parse(request.Rule);
        return parsed.IsValid
            ? TypedResults.Ok(new RuleCheck(true, parsed.Rule!.Describe(), parsed.Rule.ToJson(), []))
            : TypedResults.BadRequest(new RuleCheck(false, null, null, parsed.Errors));
    }

    private static async Task<Results<Ok<Preview>, BadRequest<RuleCheck>>> PreviewRule(RuleRequest request, SegmentStore store, IGrainFactory grains, SegmentSettings settings)
    {
        var parsed = SegmentRule.Parse(request.Rule);
        if (!parsed.IsValid) return TypedResults.BadRequest(new RuleCheck(false, null, null, parsed.Errors));
        var json = parsed.Rule!.ToJson().GetRawText();
        int matches = 0, scanned = 0;
        string? after = null;
        while (true)
        {
            var ids = await store.ProfileIdsAsync(after, 1000);
            if (ids.Count == 0) break;
            await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = settings.BackfillParallelism }, async (id, _) =>
            {
                if (await grains.Visitor(id).Matches(json)) Interlocked.Increment(ref matches);
                Interlocked.Increment(ref scanned);
            });
            after = ids[^1];
        }
        return TypedResults.Ok(new Preview(matches, scanned));
    }

    private static async Task<IResult> Create(SegmentRequest request, SegmentStore store, SegmentCatalog catalog, SegmentBackfill backfill, TimeProvider clock)
    {
        var id = request.Id ?? Slug(request.Name);
        var errors = new List<(string, string)>();
        if (string.IsNullOrWhiteSpace(request.Name)) errors.Add(("name", "is required"));
        else if (request.Name.Length > 200 || !StoredText.IsClean(request.Name))
            errors.Add(("name", "must be at most 200 characters of text without control characters"));
        if (id is null || !IdPattern().IsMatch(id)) errors.Add(("id", "must be 1-64 characters of a-z, 0-9, '-' or '_', starting with a letter or digit"));
        var parsed = SegmentRule.Parse(request.Rule);
        errors.AddRange(parsed.Errors.Select(e => ($"rule.{e.Path}".TrimEnd('.'), e.Message)));
        if (errors.Count > 0) return Problems.Invalid(errors);

        var now = clock.GetUtcNow();
        var rule = parsed.Rule!;
        var segment = await store.CreateAsync(new SegmentDocument
        {
            Id = id!, Name = request.Name!.Trim(), Version = 1, RuleJson = rule.ToJson().GetRawText(), Description = rule.Describe(),
            CreatedAt = now, UpdatedAt = now, History = [new SegmentVersion(1, rule.ToJson().GetRawText(), now)],
        });
        if (segment is null)
            return TypedResults.Problem($"Segment '{id}' exists; change it with PUT /v1/segments/{id}.", statusCode: StatusCodes.Status409Conflict, title: "Conflict");
        await catalog.RefreshAsync(CancellationToken.None);
        backfill.Start(segment.Id, segment.Version);
        return TypedResults.Created($"/v1/segments/{segment.Id}", await ViewAsync(segment, store, backfill));
    }

    private static async Task<IResult> Update(string id, SegmentRequest request, HttpRequest http, SegmentStore store, SegmentCatalog catalog, SegmentBackfill backfill, TimeProvider clock)
    {
        var parsed = SegmentRule.Parse(request.Rule);
        if (!parsed.IsValid) return Problems.Invalid(parsed.Errors.Select(e => ($"rule.{e.Path}".TrimEnd('.'), e.Message)));
        if (request.Name is { } name && (name.Length > 200 || !StoredText.IsClean(name)))
            return Problems.Invalid([("name", "must be at most 200 characters of text without control characters")]);
        if (!Revisions.TryExpected(http, request.Revision, out var expected))
            return Problems.Invalid([("If-Match", "must be a segment revision, such as \"12\"")]);

        var json = parsed.Rule!.ToJson().GetRawText();
        var changed = false;
        var update = await store.UpdateAsync(id, expected, current =>
        {
            var now = clock.GetUtcNow();
            changed = json != current.RuleJson;
            var version = changed ? current.Version + 1 : current.Version;
            return current with
            {
                Name = string.IsNullOrWhiteSpace(request.Name) ? current.Name : request.Name.Trim(),
                Version = version, RuleJson = json, Description = parsed.Rule.Describe(), UpdatedAt = now,
                History = changed ? [.. current.History, new SegmentVersion(version, json, now)] : current.History,
            };
        }, refuse: current => current.Archived);
        switch (update.Status)
        {
            case RevisionedSaveStatus.NotFound: return Problems.NotFound($"No segment '{id}'.");
            case RevisionedSaveStatus.Refused: return TypedResults.Problem($"Segment '{id}' is archived.", statusCode: StatusCodes.Status409Conflict, title: "Conflict");
            case RevisionedSaveStatus.Conflict: return Stale(id, update.Document!);
        }
        var segment = update.Document!;
        await catalog.RefreshAsync(CancellationToken.None);
        if (changed) backfill.Start(segment.Id, segment.Version);
        return TypedResults.Ok(await ViewAsync(segment, store, backfill));
    }

    private static ProblemHttpResult Stale(string id, SegmentDocument current) => Revisions.Stale("Segment", id, current.Revision);

    private static async Task<IResult> Archive(string id, SegmentStore store, SegmentCatalog catalog, SegmentBackfill backfill, TimeProvider clock)
    {
        var update = await store.UpdateAsync(id, null, current => current with { Archived = true, UpdatedAt = clock.GetUtcNow() });
        if (update.Status == RevisionedSaveStatus.NotFound) return Problems.NotFound($"No segment '{id}'.");
        if (update.Status == RevisionedSaveStatus.Conflict) return Stale(id, update.Document!);
        var segment = update.Document!;
        await catalog.RefreshAsync(CancellationToken.None);
        backfill.Start(segment.Id, segment.Version); // members leave
        return TypedResults.Ok(await ViewAsync(segment, store, backfill));
    }

    public sealed record WebhookRequest(string? Url, string? Secret);
    public sealed record WebhookView(string SegmentId, string Url, string Secret);

    private static async Task<IResult> SetWebhook(string id, WebhookRequest request, SegmentStore store, OutboundAddressGuard guard, TimeProvider clock)
    {
        if (guard.Problem(request.Url) is { } refused) return Problems.Invalid([("url", refused)]);
        var url = new Uri(request.Url!, UriKind.Absolute);
        if (request.Secret is { Length: < 16 }) return Problems.Invalid([("secret", "must be at least 16 characters")]);
        var secret = request.Secret ?? Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
        var update = await store.UpdateAsync(id, null, s => s with { Webhook = new SegmentWebhook(url.ToString(), secret), UpdatedAt = clock.GetUtcNow() });
        return update.Status switch
        {
            RevisionedSaveStatus.NotFound => Problems.NotFound($"No segment '{id}'."),
            RevisionedSaveStatus.Conflict => Stale(id, update.Document!),
            _ => TypedResults.Ok(new WebhookView(id, url.ToString(), secret)),
        };
    }

    private static async Task<IResult> RemoveWebhook(string id, SegmentStore store, TimeProvider clock)
    {
        var update = await store.UpdateAsync(id, null, s => s with { Webhook = null, UpdatedAt = clock.GetUtcNow() });
        return update.Status switch
        {
            RevisionedSaveStatus.NotFound => Problems.NotFound($"No segment '{id}'."),
            RevisionedSaveStatus.Conflict => Stale(id, update.Document!),
            _ => TypedResults.NoContent(),
        };
    }

    private static async Task<Results<Ok<MemberPage>, ValidationProblem>> Members(string id, SegmentStore store, string? after, int? limit)
    {
        var size = limit ?? 100;
        if (size is < 1 or > 1000) return Problems.Invalid([("limit", "must be between 1 and 1000")]);
        var (items, next) = await store.MembersAsync(id, after, size);
        return TypedResults.Ok(new MemberPage(id, items, next));
    }

    private static async Task<SegmentView> ViewAsync(SegmentDocument s, SegmentStore store, SegmentBackfill backfill)
    {
        using var rule = JsonDocument.Parse(s.RuleJson);
        return new SegmentView(s.Id, s.Name, s.Version, s.Description, rule.RootElement.Clone(), s.Archived, s.CreatedAt, s.UpdatedAt,
            await store.CountAsync(s.Id), backfill.Progress(s.Id), s.Revision);
    }

    private static string? Slug(string? name)
    {
        if (string.IsNullOrWhiteSpace(name)) return null;
        var chars = name.Trim().ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray();
        var slug = Regex.Replace(new string(chars), "-+", "-").Trim('-');
        return slug.Length == 0 ? null : slug[..Math.Min(64, slug.Length)];
    }
}
