using Actors.Api.Access;
using Actors.Domain.Tracking;
using Actors.Grains.Identity;
using Actors.Storage.Access;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Actors.Api.Identity;

/// <summary>
/// Joining and separating known customers, explicitly: a visitor's own messages never merge two known customers
/// (see README, identity rules). A merge needs the marketing scope and an unmerge the admin scope; both are recorded in
/// the streams with the key's name and the reason given.
/// </summary>
public static class IdentityApi
{
    public sealed record MergeRequest(string? From, string? Into, string? Reason);
    public sealed record UnmergeRequest(string? Profile, string? Reason);
    public sealed record IdentityResult(string ProfileId);

    public static IEndpointRouteBuilder MapIdentityApi(this IEndpointRouteBuilder app)
    {
        var profiles = app.MapGroup("/v1/profiles").WithTags("Identity");
        profiles.MapPost("/merge", Merge).RequireScope(ApiScope.Marketing)
            .WithSummary("Merge one known customer into another ({from: 'user:a', into: 'user:b', reason}); audited, undone by /unmerge");
        profiles.MapPost("/unmerge", Unmerge).RequireScope(ApiScope.Admin)
            .WithSummary("Undo the merge of a profile ({profile: 'user:a' or 'anon:device', reason}): both profiles replay without each other");
        return app;
    }

    // Stored in the streams' jsonb: no NUL (PostgreSQL refuses it), no lone surrogates, nothing invisible.
    private static bool IsText(string? text) => !string.IsNullOrWhiteSpace(text) && text.Length <= 500 && StoredText.IsClean(text) && Aliases.IdProblem(text) is null;

    private static async Task<Results<Ok<IdentityResult>, ValidationProblem, ProblemHttpResult>> Merge(MergeRequest request, HttpContext http, VisitorDirectory directory)
    {
        var errors = new List<(string, string)>();
        if (Aliases.KnownOrNull(request.From) is not { } from) errors.Add(("from", "a known customer's id, 'user:<userId>'"));
        if (Aliases.KnownOrNull(request.Into) is not { } into) errors.Add(("into", "a known customer's id, 'user:<userId>'"));
        if (!IsText(request.Reason)) errors.Add(("reason", "1 to 500 characters without control characters: why these two are one customer"));
        if (errors.Count > 0) return Problems.Invalid(errors);
        var outcome = await directory.MergeKnownAsync(Aliases.KnownOrNull(request.From)!, Aliases.KnownOrNull(request.Into)!, http.IngestCaller().Name, request.Reason!);
        return outcome.Refusal is { } why ? Problems.Conflict(why) : TypedResults.Ok(new IdentityResult(outcome.ProfileId!));
    }

    private static async Task<Results<Ok<IdentityResult>, ValidationProblem, ProblemHttpResult>> Unmerge(UnmergeRequest request, HttpContext http, VisitorDirectory directory)
    {
        var errors = new List<(string, string)>();
        if (request.Profile is not { Length: > 5 and <= 205 } profile || !IsText(profile)
            || !(profile.StartsWith("user:", StringComparison.Ordinal) || profile.StartsWith("anon:", StringComparison.Ordinal)))
            errors.Add(("profile", "the id of the profile that was merged: 'user:<userId>' or 'anon:<anonymousId>'"));
        if (!IsText(request.Reason)) errors.Add(("reason", "1 to 500 characters without control characters"));
        if (errors.Count > 0) return Problems.Invalid(errors);
        var outcome = await directory.UnmergeAsync(request.Profile!, http.IngestCaller().Name, request.Reason!);
        return outcome.Refusal is { } why ? Problems.Conflict(why) : TypedResults.Ok(new IdentityResult(outcome.ProfileId!));
    }
}
