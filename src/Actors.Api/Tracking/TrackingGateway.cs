using System.Text.Json;
using Actors.Domain.Identity;
using Actors.Domain.Tracking;
using Actors.Grains.Identity;
using Actors.Grains.Visitors;
using Actors.Storage.Access;

namespace Actors.Api.Tracking;

/// <summary>One refused message of a request, and why.</summary>
public sealed record RefusedMessage(int Index, string? MessageId, IReadOnlyList<FieldError> Errors);

/// <summary>Who sends: the key's scope decides whether an alias may join two known customers, its name is the audit's actor.</summary>
public sealed record IngestCaller(ApiScope Scope, string Name)
{
    public static IngestCaller Ingest { get; } = new(ApiScope.Ingest, "ingest");
}

/// <summary>What became of a request's messages: stored, recognised as retries, or refused.</summary>
public sealed record IngestOutcome(int Accepted, int Duplicates, IReadOnlyList<RefusedMessage> Refused, IReadOnlyList<TrackResult> Profiles)
{
    public bool Success => Refused.Count == 0;
}

/// <summary>
/// The way in for visitor messages: map each, resolve its profile, and send each profile its events in one grain call;
/// calls for different profiles run in parallel. A message that identifies a visitor (stitching two profiles) first
/// waits for the messages before it, so a visitor's events keep their order across the merge.
/// Refused messages store nothing; the rest are durable when this returns.
/// </summary>
public sealed class TrackingGateway(VisitorDirectory directory, TimeProvider clock)
{
    private const int MaxParallelProfiles = 32;

    /// <param name="typeFromRoute">The message type a route fixes (/v1/track), or null when each message says it.</param>
    /// <param name="visitorId">The visitor a per-visitor route names; its messages belong to that visitor.</param>
    /// <param name="defaultType">The type of a message that names none (the per-visitor events route: track).</param>
    /// <param name="batchSentAt">The batch's sentAt, for messages that carry none (skew correction).</param>
    public async Task<IngestOutcome> IngestAsync(
        IReadOnlyList<JsonElement> messages, string? typeFromRoute, string fieldPrefix, string? visitorId = null, string? defaultType = null,
        IngestCaller? caller = null, DateTimeOffset? batchSentAt = null)
    {
        caller ??= IngestCaller.Ingest;
        var receivedAt = clock.GetUtcNow();
        // On a per-visitor route the route names the visitor: its anonymous id (or, for "user:42", its user id) replaces
        // whatever the message says, so a frontend cannot write into another visitor's profile through it.
        string? routeAnonymousId = null, routeUserId = null;
        if (visitorId is not null)
        {
            var alias = Aliases.FromVisitorId(visitorId);
            if (alias.StartsWith("user:", StringComparison.Ordinal)) routeUserId = alias["user:".Length..];
            else routeAnonymousId = alias["anon:".Length..];
        }
        var refused = new List<RefusedMessage>();
        var mapped = new List<(MappedMessage Message, int Index)>(messages.Count);
        for (var i = 0; i < messages.Count; i++)
        {
            var prefix = fieldPrefix.Length == 0 ? "" : $"{fieldPrefix}[{i}].";
            var message = messages[i];
            var type = typeFromRoute ?? (defaultType is not null && !HasType(message) ? defaultType : null);
            var result = SegmentMapper.Map(message, type, receivedAt, prefix, routeAnonymousId, routeUserId, batchSentAt);
            if (result.IsValid) mapped.Add((result.Message!, i));
            else refused.Add(new RefusedMessage(i, MessageIdOf(messages[i]), result.Errors));
        }

        var pending = new Dictionary<string, List<VisitorEvent>>(StringComparer.Ordinal);
        var results = new List<TrackResult>();
        foreach (var (message, index) in mapped)
        {
            string profileId;
            // The login's own message id names the identity change, so a retried login records it once.
            var cause = message.Events.FirstOrDefault()?.MessageId ?? MessageIdOf(messages[index]) ?? $"{message.Type}:{Guid.NewGuid():N}";
            if (message.Type == "alias" && message.PreviousId is { } previous && message.UserId is { } aliasUser)
            {
                var previousAlias = Aliases.FromVisitorId(previous);
                switch (IdentityRules.ForAlias(previousAlias.StartsWith("user:", StringComparison.Ordinal), caller.Scope >= ApiScope.Marketing))
                {
                    case AliasDecision.Refuse:
                        refused.Add(new RefusedMessage(index, MessageIdOf(messages[index]), [new FieldError(
                            fieldPrefix.Length == 0 ? "previousId" : $"{fieldPrefix}[{index}].previousId",
                            "An alias of a known customer would merge two customers: that needs a marketing key (POST /v1/profiles/merge). With this key only anonymous ids may be aliased.")]));
                        continue;
                    case AliasDecision.MergeKnown:
                        await FlushAsync(pending, results);
                        var merged = await directory.MergeKnownAsync(previousAlias, Aliases.User(aliasUser), caller.Name, $"alias message {cause}");
                        if (merged.Refusal is { } why)
                            refused.Add(new RefusedMessage(index, MessageIdOf(messages[index]), [new FieldError(
                                fieldPrefix.Length == 0 ? "previousId" : $"{fieldPrefix}[{index}].previousId", why)]));
                        continue;
                    default:
                        await FlushAsync(pending, results);
                        await directory.StitchAsync(previousAlias, Aliases.User(aliasUser), cause);
                        continue;
                }
            }
            if (message.UserId is { } userId && message.AnonymousId is { } anonymousId)
            {
                var known = await directory.ResolveAsync(Aliases.User(userId));
                // The device's link, not its routing: a device already linked to this customer needs no stitching.
                var device = await directory.ResolveFreshAsync(Aliases.Anonymous(anonymousId));
                if (known != device)
                {
                    await FlushAsync(pending, results);
                    profileId = await directory.StitchAsync(Aliases.Anonymous(anonymousId), Aliases.User(userId), cause);
                }
                else profileId = known;
            }
            else profileId = await directory.ProfileForAsync(message.AnonymousId, message.UserId, cause);

            if (message.Events.Count == 0) continue;
            if (!pending.TryGetValue(profileId, out var events)) pending[profileId] = events = [];
            events.AddRange(message.Events);
        }
        await FlushAsync(pending, results);

        var accepted = results.Sum(r => r.Events.Count(e => !e.Duplicate));
        var duplicates = results.Sum(r => r.Events.Count(e => e.Duplicate));
        return new IngestOutcome(accepted, duplicates, refused, results);
    }

    private async Task FlushAsync(Dictionary<string, List<VisitorEvent>> pending, List<TrackResult> results)
    {
        if (pending.Count == 0) return;
        // Profiles in parallel, but bounded: a 500-visitor batch must not open 500 activations at once.
        var work = pending.ToList();
        pending.Clear();
        var done = new TrackResult[work.Count];
        await Parallel.ForAsync(0, work.Count, new ParallelOptions { MaxDegreeOfParallelism = MaxParallelProfiles }, async (i, _) =>
            done[i] = await directory.TrackAsync(work[i].Key, work[i].Value));
        results.AddRange(done);
    }

    private static bool HasType(JsonElement message) =>
        message.ValueKind == JsonValueKind.Object && message.TryGetProperty("type", out _);

    private static string? MessageIdOf(JsonElement message) =>
        // Only a storable id is echoed (a lone surrogate cannot even be read).
        message.ValueKind == JsonValueKind.Object && message.TryGetProperty("messageId", out var id) && id.ValueKind == JsonValueKind.String
            ? JsonText.TryGetString(id, out _) : null;
}
