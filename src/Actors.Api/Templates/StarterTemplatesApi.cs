using System.Text.Json;
using Actors.Channels.Templates;
using Actors.Domain.Journeys;
using Actors.Storage.Templates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Actors.Api.Templates;

/// <summary>
/// The starter message templates (<see cref="StarterTemplates"/>): listed with the ready-made journeys that name each,
/// and created in one call, so that every ready-made journey can be saved on day one. Creating never overwrites: a
/// template the shop already has under a starter's id is kept as it is.
/// </summary>
public static class StarterTemplatesApi
{
    public const string Route = "/v1/templates/starters";

    /// <param name="Journeys">The ready-made journeys (GET /v1/journeys/templates) whose send steps name this template.</param>
    public sealed record StarterView(string Id, string Channel, string Description, string? Subject, string? Html, string? Text,
        IReadOnlyList<string> Journeys);

    /// <param name="Created">Starters saved now (revision 1 each).</param>
    /// <param name="Kept">Starters whose id the shop already has a template under: left as they are.</param>
    public sealed record StartersCreated(IReadOnlyList<string> Created, IReadOnlyList<string> Kept);

    /// <summary>Ready-made journey id → the template ids its send steps name (the same reading journey saves check).</summary>
    private static readonly Lazy<IReadOnlyList<(string Journey, IReadOnlySet<string> Templates)>> NamedByJourneys = new(() =>
        [.. JourneyTemplates.All.Select(j =>
        {
            using var json = JsonDocument.Parse(j.Json);
            return (j.Id, (IReadOnlySet<string>)TemplateReferences.InJourney(json.RootElement).Select(s => s.Template).ToHashSet(StringComparer.Ordinal));
        })]);

    /// <summary>The ready-made journeys that name <paramref name="templateId"/>.</summary>
    public static IReadOnlyList<string> JourneysNaming(string templateId) =>
        [.. NamedByJourneys.Value.Where(j => j.Templates.Contains(templateId)).Select(j => j.Journey)];

    /// <summary>Every template id the ready-made journeys name.</summary>
    public static IReadOnlySet<string> NamedByReadyMadeJourneys() =>
        NamedByJourneys.Value.SelectMany(j => j.Templates).ToHashSet(StringComparer.Ordinal);

    /// <summary>On the templates group (marketing scope): literal segments win over /{id}, so these are not read as a template id.</summary>
    public static RouteGroupBuilder MapStarterTemplates(this RouteGroupBuilder templates)
    {
        templates.MapGet("/starters", () => TypedResults.Ok(StarterTemplates.All.Select(View).ToList()))
            .WithSummary("Starter message templates: one for every template the ready-made journeys name");
        templates.MapPost("/starters", Create)
            .WithSummary("Create the starter templates the shop does not have yet; existing templates of those ids are kept as they are");
        return templates;
    }

    private static async Task<IResult> Create(TemplateStore store, TimeProvider clock, CancellationToken ct)
    {
        var existing = await store.FindManyAsync([.. StarterTemplates.All.Select(t => t.Id)], ct);
        var created = new List<string>();
        var kept = new List<string>();
        foreach (var starter in StarterTemplates.All)
        {
            if (existing.ContainsKey(starter.Id))
            {
                kept.Add(starter.Id);
                continue;
            }
            var now = clock.GetUtcNow();
            var saved = await store.CreateAsync(new TemplateDocument
            {
                Id = starter.Id, Channel = starter.Channel, Subject = starter.Subject, Html = starter.Html, Text = starter.Text,
                CreatedAt = now, UpdatedAt = now,
            }, ct);
            // Null: saved by someone else meanwhile, which is theirs to keep.
            (saved is null ? kept : created).Add(starter.Id);
        }
        return TypedResults.Ok(new StartersCreated(created, kept));
    }

    private static StarterView View(StarterTemplate t) =>
        new(t.Id, t.Channel, t.Description, t.Subject, t.Html, t.Text, JourneysNaming(t.Id));
}
