using System.Text.Json;
using System.Text.Json.Nodes;
using Actors.Api.Access;
using Actors.Api.Privacy;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;
using Actors.Grains.Identity;
using Actors.Storage.Access;
using Actors.Storage.Streams;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Actors.Api.Replay;

/// <summary>
/// For engineers (admin scope): a visitor's stream, the profile as it was at a version or a moment, and what changed
/// between two versions. Any alias resolves to its canonical profile. Reads the stream; never disturbs the grain.
/// </summary>
public static class ReplayApi
{
    public static IEndpointRouteBuilder MapReplayApi(this IEndpointRouteBuilder app)
    {
        var users = app.MapGroup("/v1/users/{id}").WithTags("Replay").RequireScope(ApiScope.Admin);
        users.MapGet("/events", GetEvents).Audited("events").WithSummary("The visitor's events, paged; filter by type and stored time");
        users.MapGet("/state", GetState).Audited("state").WithSummary("The profile exactly as it was at ?version=N or ?at=timestamp (now when neither)");
        users.MapGet("/diff", GetDiff).Audited("diff").WithSummary("What changed in the profile between ?from=A and ?to=B");
        return app;
    }

    public sealed record EventItem(long Version, string Type, string MessageId, DateTimeOffset EventTime, DateTimeOffset ReceivedTime, DateTimeOffset StoredTime, JsonElement Data);
    public sealed record EventPage(string ProfileId, IReadOnlyList<EventItem> Items, long? Next);
    public sealed record StateAt(string ProfileId, long Version, DateTimeOffset? At, ProfileView Profile);
    public sealed record Change(string Path, JsonNode? Before, JsonNode? After);
    public sealed record ProfileDiff(string ProfileId, long From, long To, IReadOnlyList<Change> Changes);

    private static async Task<Results<Ok<EventPage>, ValidationProblem>> GetEvents(
        string id, VisitorDirectory directory, IVisitorStreams streams,
        long? from, int? limit, string? type, DateTimeOffset? since, DateTimeOffset? until)
    {
        var size = limit ?? 100;
        if (size is < 1 or > 1000) return Problems.Invalid([("limit", "must be between 1 and 1000")]);
        if (from is < 1) return Problems.Invalid([("from", "versions start at 1")]);
        var profileId = await directory.ResolveFreshAsync(Aliases.FromVisitorId(id)); // streams do not forward: the latest link
        var types = type?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var page = await streams.ReadAsync(profileId, new EventQuery(from ?? 1, size + 1, types, since, until));
        var items = page.Take(size).Select(ToItem).ToList();
        return TypedResults.Ok(new EventPage(profileId, items, page.Count > size ? page[size].Version : null));
    }

    private static async Task<Results<Ok<StateAt>, ValidationProblem>> GetState(
        string id, VisitorDirectory directory, ProfileHistory history, long? version, DateTimeOffset? at)
    {
        if (version is < 0) return Problems.Invalid([("version", "must be 0 or more")]);
        var profileId = await directory.ResolveFreshAsync(Aliases.FromVisitorId(id)); // streams do not forward: the latest link
        var profile = await history.StateAsync(profileId, version, at);
        return TypedResults.Ok(new StateAt(profileId, profile.Version, at, ProfileView.From(profile)));
    }

    private static async Task<Results<Ok<ProfileDiff>, ValidationProblem>> GetDiff(
        string id, VisitorDirectory directory, ProfileHistory history, long from, long to)
    {
        if (from < 0 || to < from) return Problems.Invalid([("from", "from must be 0 or more and not after to")]);
        var profileId = await directory.ResolveFreshAsync(Aliases.FromVisitorId(id)); // streams do not forward: the latest link
        var before = JsonSerializer.SerializeToNode(ProfileView.From(await history.StateAsync(profileId, from)), ApiJson.Options);
        var after = JsonSerializer.SerializeToNode(ProfileView.From(await history.StateAsync(profileId, to)), ApiJson.Options);
        var changes = new List<Change>();
        Compare("", before, after, changes);
        return TypedResults.Ok(new ProfileDiff(profileId, from, to, changes));
    }

    internal static EventItem ToItem(StoredEvent stored) => new(
        stored.Version, stored.Type, stored.Event.MessageId, stored.Event.EventTime, stored.Event.ReceivedTime, stored.StoredAt,
        JsonSerializer.SerializeToElement(stored.Event, ApiJson.Options)); // as the base type, so "$type" names the event

    /// <summary>Leaf-by-leaf comparison of two JSON trees; arrays are compared whole.</summary>
    internal static void Compare(string path, JsonNode? before, JsonNode? after, List<Change> changes)
    {
        if (before is JsonObject b && after is JsonObject a)
        {
            foreach (var key in b.Select(p => p.Key).Union(a.Select(p => p.Key)))
            {
                if (key is "version") continue; // always differs; the diff names both versions
                Compare(path.Length == 0 ? key : $"{path}.{key}", b[key], a[key], changes);
            }
            return;
        }
        if (!JsonNode.DeepEquals(before, after)) changes.Add(new Change(path, before?.DeepClone(), after?.DeepClone()));
    }

    /// <summary>The replay CLI prints what these routes answer.</summary>
    public static async Task<string> DescribeAsync(string profileId, long? version, ProfileHistory history, IVisitorStreams streams)
    {
        var profile = await history.StateAsync(profileId, version);
        var events = await streams.ReadAsync(profileId, new EventQuery(1, (int)Math.Min(int.MaxValue, profile.Version)));
        var output = new
        {
            profileId,
            version = profile.Version,
            events = events.Select(ToItem),
            profile = ProfileView.From(profile),
        };
        return JsonSerializer.Serialize(output, ApiJson.Indented);
    }
}
