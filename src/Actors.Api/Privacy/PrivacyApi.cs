using Actors.Api.Access;
using Actors.Api.Replay;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;
using Actors.Grains.Privacy;
using Actors.Storage.Access;
using Actors.Storage.Audit;
using Actors.Storage.Privacy;
using Actors.Storage.Streams;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Actors.Api.Privacy;

/// <summary>
/// GDPR for engineers (admin scope): everything held about a person as JSON, their erasure, and the audit log of
/// who read or erased whose data. Admin reads of a person (events, state, diff, export) and erasures are audited.
/// </summary>
public static class PrivacyApi
{
    public const int MaxIdLength = 205;

    public static IEndpointRouteBuilder MapPrivacyApi(this IEndpointRouteBuilder app)
    {
        var users = app.MapGroup("/v1/users/{id}").WithTags("Privacy").RequireScope(ApiScope.Admin);
        users.MapGet("/export", Export).Audited("export").WithSummary("Everything held about the person, as JSON");
        users.MapDelete("", Erase).Audited("erase").WithSummary("Right to erasure: the person's data goes from every store; counts stay");
        app.MapGet("/v1/audit", ReadAudit).WithTags("Privacy").RequireScope(ApiScope.Admin)
            .WithSummary("Admin reads and erasures of personal data: ?from&to&profile&after&limit");
        return app;
    }

    /// <summary>Writes an audit entry (key, action, target, time, client address) before the route reads anything.</summary>
    public static TBuilder Audited<TBuilder>(this TBuilder builder, string action) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            var id = http.Request.RouteValues.TryGetValue("id", out var value) ? value as string : null;
            if (Refuse(id) is { } refused) return refused;
            var caller = http.Caller();
            var log = http.RequestServices.GetRequiredService<AuditLog>();
            var clock = http.RequestServices.GetRequiredService<TimeProvider>();
            await log.WriteAsync(clock.GetUtcNow(), caller.Name, caller.Id, caller.Scope.ToString().ToLowerInvariant(), action,
                Grains.Identity.Aliases.FromVisitorId(id!), http.Connection.RemoteIpAddress?.ToString(), http.RequestAborted);
            return await next(context);
        });

    /// <summary>A route id that cannot name a profile (empty, too long, control characters): 400 naming "id".</summary>
    private static ValidationProblem? Refuse(string? id) =>
        id is { Length: > 0 and <= MaxIdLength } && StoredText.IsClean(id) ? null : Problems.Invalid([("id", $"must be 1 to {MaxIdLength} characters without control characters")]);

    public sealed record ConsentRecord(string Consent, string State, DateTimeOffset At, string? Source, string? WordingVersion);
    public sealed record PersonExport(
        string ProfileId, DateTimeOffset ExportedAt, IReadOnlyList<string> Profiles, ProfileView Profile, IReadOnlyList<ConsentRecord> Consents,
        IReadOnlyList<string> Segments, IReadOnlyList<JourneyPositionView> Journeys, IReadOnlyList<HeldMessage> Messages,
        IReadOnlyDictionary<string, IReadOnlyList<ReplayApi.EventItem>> Events);

    private static async Task<Ok<PersonExport>> Export(string id, PersonalData data, PersonalDataStore store, ProfileHistory history, IVisitorStreams streams, TimeProvider clock)
    {
        var profileId = await data.ResolveAsync(id);
        var family = await data.FamilyAsync(profileId);
        var profile = await history.StateAsync(profileId);
        // The kept records (with source and wording version); consents recorded before records were kept have only a time.
        var records = profile.ConsentRecords ?? [];
        var consents = records.Select(r => new ConsentRecord(r.Key, r.Value.State, r.Value.At, r.Value.Source, r.Value.WordingVersion))
            .Concat(profile.Consents.Where(c => !records.ContainsKey(c.Key)).Select(c => new ConsentRecord(c.Key, "given", c.Value, null, null)))
            .Concat(profile.WithdrawnConsents.Where(c => !records.ContainsKey(c.Key)).Select(c => new ConsentRecord(c.Key, "withdrawn", c.Value, null, null)))
            .OrderBy(c => c.Consent, StringComparer.Ordinal).ToList();
        var view = ProfileView.From(profile);
        var events = new Dictionary<string, IReadOnlyList<ReplayApi.EventItem>>(StringComparer.Ordinal);
        foreach (var member in family)
        {
            var all = new List<ReplayApi.EventItem>();
            for (var from = 1L; ;)
            {
                var page = await streams.ReadAsync(member, new EventQuery(from, 1000));
                all.AddRange(page.Select(ReplayApi.ToItem));
                if (page.Count < 1000) break;
                from = page[^1].Version + 1;
            }
            events[member] = all;
        }
        return TypedResults.Ok(new PersonExport(profileId, clock.GetUtcNow(), family, view, consents, view.Segments, view.Journeys,
            await store.MessagesAsync(family), events));
    }

    private static async Task<Ok<ErasureReport>> Erase(string id, PersonalData data, HttpContext http)
    {
        var profileId = await data.ResolveAsync(id);
        return TypedResults.Ok(await data.EraseAsync(profileId, $"key:{http.Caller().Name}", http.RequestAborted));
    }

    public sealed record AuditPage(IReadOnlyList<AuditEntry> Items, long? Next);

    private static async Task<Results<Ok<AuditPage>, ValidationProblem>> ReadAudit(
        AuditLog log, DateTimeOffset? from, DateTimeOffset? to, string? profile, long? after, int? limit)
    {
        var size = limit ?? 100;
        if (size is < 1 or > 1000) return Problems.Invalid([("limit", "must be between 1 and 1000")]);
        if (after is < 0) return Problems.Invalid([("after", "must be 0 or more")]);
        if (from is { } f && to is { } t && t < f) return Problems.Invalid([("to", "must not be before from")]);
        if (profile is not null && Refuse(profile) is not null) return Problems.Invalid([("profile", $"must be 1 to {MaxIdLength} characters without control characters")]);
        var page = await log.ReadAsync(new AuditQuery(from, to, profile is null ? null : Grains.Identity.Aliases.FromVisitorId(profile), after, size + 1));
        var items = page.Take(size).ToList();
        return TypedResults.Ok(new AuditPage(items, page.Count > size ? items[^1].Id : null));
    }
}
