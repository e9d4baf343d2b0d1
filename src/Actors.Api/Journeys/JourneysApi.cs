using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Actors.Api.Access;
using Actors.Api.Templates;
using Actors.Api.Tracking;
using Actors.Domain.Journeys;
using Actors.Domain.Profiles;
using Actors.Grains.Identity;
using Actors.Grains.Segments;
using Actors.Storage.Definitions;
using Actors.Storage.Access;
using Actors.Storage.Journeys;
using Actors.Storage.Templates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Actors.Api.Journeys;

/// <summary>
/// Marketers' journeys: create a draft, change it (a new version), publish, pause, archive, list; validate a journey
/// without saving it; day-one templates; and where a visitor is in each journey. Published journeys reach every
/// silo's catalogue (at once on this node), and the visitor grains run them.
/// </summary>
public static partial class JourneysApi
{
    /// <param name="Id">On create: the journey's id (else made from its name).</param>
    /// <param name="Journey">The journey in its language (see README "Journeys: the language").</param>
    /// <param name="Revision">On an update: the revision the change is based on (or send If-Match); a stale one gets 409.</param>
    public sealed record JourneyRequest(string? Id, JsonElement Journey, long? Revision = null);
    public sealed record CheckRequest(JsonElement Journey);
    public sealed record JourneyCheck(bool Valid, string? Description, JsonElement? Journey, IReadOnlyList<JourneyError> Errors);
    public sealed record VersionView(int Version, DateTimeOffset At);
    public sealed record JourneyView(string Id, string Name, string Status, int Version, string Description, JsonElement Journey,
        IReadOnlyList<VersionView> Versions, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, long Revision);
    public sealed record JourneySummary(string Id, string Name, string Status, int Version, string Description, DateTimeOffset UpdatedAt, long Revision);

    /// <summary>Where a visitor is in one journey: the position from their stream and the step's kind in that version.</summary>
    public sealed record VisitorJourney(string JourneyId, string? Name, string? Status, int Version, int Occurrence, bool Inside, string? StepId,
        string? StepKind, bool HeldOut, string? EntryReason, DateTimeOffset? EnteredAt, DateTimeOffset? StepSince, DateTimeOffset? WaitUntil,
        DateTimeOffset? LastExitAt, string? LastExitReason);
    public sealed record VisitorJourneys(string ProfileId, long Version, IReadOnlyList<VisitorJourney> Journeys);

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,63}$")]
    private static partial Regex IdPattern();

    public static IEndpointRouteBuilder MapJourneysApi(this IEndpointRouteBuilder app)
    {
        var journeys = app.MapGroup("/v1/journeys").WithTags("Journeys").RequireScope(ApiScope.Marketing);
        journeys.MapGet("", List).WithSummary("Journeys with their status, version and description");
        journeys.MapGet("/templates", () => TypedResults.Ok(JourneyTemplates.All)).WithSummary("Ready-made journeys a shop needs on day one");
        journeys.MapPost("/validate", Validate).WithSummary("Check a journey without saving it: its description and canonical form, or every error with its path");
        journeys.MapPost("", Create).WithSummary("Create a journey as a draft (version 1); nothing runs until it is published");
        journeys.MapGet("/{id}/figures", async (string id, JourneyStore store, JourneyFigureReader figures, CancellationToken ct) =>
                await store.FindAsync(id, ct) is null ? Results.Problem($"No journey '{id}'.", statusCode: StatusCodes.Status404NotFound, title: "Not found")
                    : Results.Ok(await figures.ReadAsync(id, ct)))
            .WithSummary("Entered, held out, messages sent and suppressed by reason, goals and conversions, exits by reason, visitors in each step now");
        journeys.MapGet("/{id}", Get).WithSummary("The journey at its current version, its description and its versions (ETag: the revision)");
        journeys.MapPut("/{id}", Update).WithSummary("Change the journey: a new version, which new entrants get; visitors inside stay on theirs");
        journeys.MapPost("/{id}/publish", (string id, bool? moveInside, JourneyStore store, SegmentCatalog catalog, TimeProvider clock) =>
            ChangeStatus(id, JourneyStatus.Active, store, catalog, clock, moveInside ?? false)).WithSummary("Publish (or resume): visitors enter and messages are decided");
        journeys.MapPost("/{id}/pause", (string id, JourneyStore store, SegmentCatalog catalog, TimeProvider clock) =>
            ChangeStatus(id, JourneyStatus.Paused, store, catalog, clock)).WithSummary("Pause: no one enters, visitors inside wait and nothing is sent");
        journeys.MapPost("/{id}/archive", (string id, JourneyStore store, SegmentCatalog catalog, TimeProvider clock) =>
            ChangeStatus(id, JourneyStatus.Archived, store, catalog, clock)).WithSummary("Archive: no one enters any more; for good");

        app.MapGet("/v1/users/{id}/journeys", VisitorPositions).WithTags("Journeys").RequireScope(ApiScope.Marketing)
            .WithSummary("Where the visitor is in each journey they entered, and how their last passage ended (marketing or admin)");
        app.MapJourneyTriggersApi();
        return app;
    }

    private static async Task<Ok<List<JourneySummary>>> List(JourneyStore store, string? status)
    {
        var all = await store.ListAsync();
        return TypedResults.Ok(all
            .Where(j => status is null || string.Equals(Wire(j.Status), status, StringComparison.OrdinalIgnoreCase))
            .Select(j => new JourneySummary(j.Id, j.Name, Wire(j.Status), j.Version, Describe(j), j.UpdatedAt, j.Revision))
            .ToList());
    }

    private static async Task<Results<Ok<JourneyView>, ProblemHttpResult>> Get(string id, HttpResponse response, JourneyStore store)
    {
        if (await store.FindAsync(id) is not { } j) return Problems.NotFound($"No journey '{id}'.");
        response.Headers.ETag = $"\"{j.Revision}\""; // send it back as If-Match with a PUT
        return TypedResults.Ok(View(j));
    }

    private static async Task<IResult> Validate(CheckRequest request, TemplateStore templates)
    {
        if (Unstorable(request.Journey) is { } unstorable) return unstorable;
        var parsed = JourneyDefinition.Parse(request.Journey, "validate", 1);
        if (!parsed.IsValid) return Invalid(parsed.Errors);
        if (await TemplateReferences.CheckAsync(request.Journey, templates) is { Count: > 0 } missing) return Invalid(missing);
        return TypedResults.Ok(new JourneyCheck(true, parsed.Journey!.Describe(), parsed.Journey.ToJson(), []));
    }

    private static async Task<IResult> Create(JourneyRequest request, JourneyStore store, TemplateStore templates, TimeProvider clock)
    {
        if (Unstorable(request.Journey) is { } unstorable) return unstorable;
        var errors = new List<(string, string)>();
        var name = NameOf(request.Journey);
        var id = request.Id ?? Slug(name);
        if (id is null || !IdPattern().IsMatch(id)) errors.Add(("id", "must be 1-64 characters of a-z, 0-9, '-' or '_', starting with a letter or digit"));
        var parsed = JourneyDefinition.Parse(request.Journey, id is not null && IdPattern().IsMatch(id) ? id : "journey", 1);
        errors.AddRange(Paths(parsed.Errors));
        if (parsed.IsValid) errors.AddRange(await TemplateReferences.CheckAsync(request.Journey, templates));
        if (errors.Count > 0) return Problems.Invalid(errors, "The journey has errors; each is named by its path.");

        var now = clock.GetUtcNow();
        var journey = parsed.Journey!;
        var saved = await store.CreateAsync(new JourneyDocument
        {
            Id = id!, Name = journey.Name, Status = JourneyStatus.Draft, Version = 1,
            Versions = [new JourneyVersion(1, journey.ToJson().GetRawText(), now)], CreatedAt = now, UpdatedAt = now,
        });
        if (saved is null) return Problems.Conflict($"Journey '{id}' exists; change it with PUT /v1/journeys/{id}.");
        return TypedResults.Created($"/v1/journeys/{saved.Id}", View(saved));
    }

    private static async Task<IResult> Update(string id, JourneyRequest request, HttpRequest http, JourneyStore store, TemplateStore templates,
        SegmentCatalog catalog, TimeProvider clock)
    {
        if (request.Id is { } bodyId && bodyId != id) return Problems.Invalid([("id", "must be the route's id or left out")]);
        if (Unstorable(request.Journey) is { } unstorable) return unstorable;
        var parsed = JourneyDefinition.Parse(request.Journey, IdPattern().IsMatch(id) ? id : "journey", 1);
        if (!parsed.IsValid) return Invalid(parsed.Errors);
        if (await TemplateReferences.CheckAsync(request.Journey, templates) is { Count: > 0 } missing) return Invalid(missing);
        if (!Revisions.TryExpected(http, request.Revision, out var expected))
            return Problems.Invalid([("If-Match", "must be a journey revision, such as \"12\"")]);

        var json = parsed.Journey!.ToJson().GetRawText();
        var update = await store.UpdateAsync(id, expected, current =>
        {
            var now = clock.GetUtcNow();
            if (json == current.CurrentVersion().Json) return current with { Name = parsed.Journey.Name, UpdatedAt = now };
            var version = current.Versions.Max(v => v.Version) + 1;
            return current with
            {
                // A new version moves nobody over until its publish says so.
                Name = parsed.Journey.Name, Version = version, UpdatedAt = now, MoveInsideToCurrent = false,
                Versions = [.. current.Versions, new JourneyVersion(version, json, now)],
            };
        }, refuse: current => current.Status == JourneyStatus.Archived);
        switch (update.Status)
        {
            case RevisionedSaveStatus.NotFound: return Problems.NotFound($"No journey '{id}'.");
            case RevisionedSaveStatus.Refused: return Problems.Conflict($"Journey '{id}' is archived.");
            case RevisionedSaveStatus.Conflict: return Stale(id, update.Document!);
        }
        var saved = update.Document!;
        if (saved.Status != JourneyStatus.Draft) await catalog.RefreshAsync(CancellationToken.None);
        return TypedResults.Ok(View(saved));
    }

    /// <param name="moveInside">On publish: visitors inside older versions move over to the current one (at their next event or wake-up).</param>
    private static async Task<IResult> ChangeStatus(string id, JourneyStatus status, JourneyStore store, SegmentCatalog catalog, TimeProvider clock,
        bool moveInside = false)
    {
        var update = await store.UpdateAsync(id, null, current => current with
            {
                Status = status, UpdatedAt = clock.GetUtcNow(),
                MoveInsideToCurrent = status == JourneyStatus.Active ? moveInside : current.MoveInsideToCurrent,
            },
            // Archived is for good; a draft has nothing to pause.
            refuse: current => current.Status == JourneyStatus.Archived && status != JourneyStatus.Archived
                || current.Status == JourneyStatus.Draft && status == JourneyStatus.Paused);
        switch (update.Status)
        {
            case RevisionedSaveStatus.NotFound: return Problems.NotFound($"No journey '{id}'.");
            case RevisionedSaveStatus.Refused:
                return Problems.Conflict($"Journey '{id}' is {Wire(update.Document!.Status)}; it cannot become {Wire(status)}.");
            case RevisionedSaveStatus.Conflict: return Stale(id, update.Document!);
        }
        await catalog.RefreshAsync(CancellationToken.None);
        return TypedResults.Ok(View(update.Document!));
    }

    private static async Task<IResult> VisitorPositions(string id, VisitorDirectory directory, SegmentCatalog catalog)
    {
        if (id.Length is 0 or > 200) return Problems.Invalid([("id", "must be 1 to 200 characters")]);
        if (JsonText.Problem(id) is { } problem) return Problems.Invalid([("id", problem)]);
        var profileId = await directory.ResolveAsync(Aliases.FromVisitorId(id));
        var profile = (await directory.Visitor(profileId).GetProfile()).Value;
        var known = catalog.Context.Journeys.Journeys.ToDictionary(j => j.Latest.Id, StringComparer.Ordinal);
        var items = profile.Journeys.Select(p =>
        {
            var journey = known.GetValueOrDefault(p.JourneyId);
            var definition = journey?.AtVersion(p.Version);
            var step = p.StepId is { } s ? definition?.Steps.GetValueOrDefault(s) : null;
            return new VisitorJourney(p.JourneyId, journey?.Latest.Name, journey is null ? null : Wire(journey.Status), p.Version, p.Occurrence,
                p.StepId is not null, p.StepId, step is null ? null : KindOf(step), p.HeldOut, p.EntryReason, p.EnteredAt, p.StepSince, p.WaitUntil,
                p.LastExitAt, p.LastExitReason);
        }).ToList();
        return TypedResults.Ok(new VisitorJourneys(profile.ProfileId, profile.Version, items));
    }

    private static string KindOf(JourneyStep step) => step switch
    {
        SendStep => "send",
        WaitStep => "wait",
        WaitUntilStep => "waitUntil",
        WaitForEventStep => "waitForEvent",
        BranchStep => "branch",
        SplitStep => "split",
        SetAttributeStep => "setAttribute",
        ExitStep => "exit",
        _ => "step",
    };

    /// <summary>Text PostgreSQL's jsonb cannot hold (NUL, lone surrogates), anywhere in the journey: 400 at its path, never a 500.</summary>
    private static ValidationProblem? Unstorable(JsonElement journey)
    {
        var errors = new List<(string, string)>();
        return JsonText.Check(journey, "journey", (path, message) => errors.Add((path, message))) ? null : Problems.Invalid(errors);
    }

    private static ValidationProblem Invalid(IReadOnlyList<JourneyError> errors) =>
        Problems.Invalid(Paths(errors), "The journey has errors; each is named by its path.");

    private static ValidationProblem Invalid(IEnumerable<(string, string)> errors) => Problems.Invalid(errors, "The journey has errors; each is named by its path.");

    private static IEnumerable<(string, string)> Paths(IEnumerable<JourneyError> errors) =>
        errors.Select(e => (e.Path.Length == 0 ? "journey" : $"journey.{e.Path}", e.Message));

    private static ProblemHttpResult Stale(string id, JourneyDocument current) => Revisions.Stale("Journey", id, current.Revision);

    private static JourneyView View(JourneyDocument j)
    {
        using var json = JsonDocument.Parse(j.CurrentVersion().Json);
        return new JourneyView(j.Id, j.Name, Wire(j.Status), j.Version, Describe(j), json.RootElement.Clone(),
            [.. j.Versions.Select(v => new VersionView(v.Version, v.At))], j.CreatedAt, j.UpdatedAt, j.Revision);
    }

    /// <summary>The description of the current version (stored JSON is canonical, so it always parses).</summary>
    private static string Describe(JourneyDocument j)
    {
        using var json = JsonDocument.Parse(j.CurrentVersion().Json);
        var parsed = JourneyDefinition.Parse(json.RootElement, j.Id, j.Version);
        return parsed.IsValid ? parsed.Journey!.Describe() : "(this version cannot be read: " + string.Join("; ", parsed.Errors.Select(e => e.Message)) + ")";
    }

    private static string Wire(JourneyStatus status) => status.ToString().ToLowerInvariant();

    private static string? NameOf(JsonElement journey) =>
        journey.ValueKind == JsonValueKind.Object && journey.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String
            ? JsonText.TryGetString(n, out _) : null;

    private static string? Slug(string? name)
    {
        if (string.IsNullOrWhiteSpace(name)) return null;
        var chars = name.Trim().ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray();
        var slug = Regex.Replace(new string(chars), "-+", "-").Trim('-');
        return slug.Length == 0 ? null : slug[..Math.Min(64, slug.Length)];
    }
}
