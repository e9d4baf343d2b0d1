using Actors.Domain.Identity;
using Actors.Domain.Tracking;
using Actors.Grains.Visitors;
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Actors.Grains.Identity;

/// <summary>The outcome of an explicit merge or unmerge: the profile that now holds the history, or why nothing happened.</summary>
public sealed record IdentityOutcome(string? ProfileId, string? Refusal)
{
    public static IdentityOutcome Done(string profileId) => new(profileId, null);
    public static IdentityOutcome Refused(string why) => new(null, why);
}

/// <summary>
/// Finds the profile behind an alias and joins profiles by the identity rules (<see cref="IdentityRules"/>): a device
/// that logs in is merged into the customer, or reassigned when it belonged to another customer; two known customers
/// are merged only explicitly, and a merge can be undone. Every step is idempotent, so retried or concurrent logins end
/// in the same profiles with each event once.
/// </summary>
public sealed partial class VisitorDirectory(IGrainFactory grains, ILogger<VisitorDirectory> logger)
{
    // Only "this alias is its own profile" is remembered on this node: it can go stale only by that profile ending
    // (merged, or its device taken over), and an ended profile forwards every call to where its alias now goes.
    // A link to another profile can change (a shared device, an unmerge), so it is always asked of the identity grain.
    private const int CacheLimit = 200_000;
    private readonly ConcurrentDictionary<string, bool> _ownProfile = new(StringComparer.Ordinal);

    public async ValueTask<string> ResolveAsync(string alias)
    {
        if (_ownProfile.ContainsKey(alias)) return alias;
        var profileId = await grains.GetGrain<IIdentityGrain>(alias).Resolve();
        if (profileId == alias)
        {
            if (_ownProfile.Count >= CacheLimit) _ownProfile.Clear();
            _ownProfile[alias] = true;
        }
        return profileId;
    }

    /// <summary>Asks the identity grain, not the cache: for decisions that must see the latest link (stitching).</summary>
    public Task<string> ResolveFreshAsync(string alias) => grains.GetGrain<IIdentityGrain>(alias).Resolve();

    public IVisitorGrain Visitor(string profileId) => grains.GetGrain<IVisitorGrain>(profileId);

    /// <summary>
    /// The device <paramref name="anonymousAlias"/> identifies as the known <paramref name="knownAlias"/> ("user:…"):
    /// its history is carried into the customer's profile, or, if it belongs to another customer, only its later events
    /// go to this one. Returns the profile the device's events go to from now on.
    /// </summary>
    public async Task<string> StitchAsync(string anonymousAlias, string knownAlias, string cause)
    {
        var target = await ResolveAsync(knownAlias);
        var userId = knownAlias.StartsWith("user:", StringComparison.Ordinal) ? knownAlias["user:".Length..] : knownAlias;
        var final = await grains.GetGrain<IIdentityGrain>(anonymousAlias).Claim(target, userId, cause);
        LogStitched(anonymousAlias, final);
        return final;
    }

    /// <summary>Resolves the profile for a visitor message: the user id wins, and an anonymous id with it is stitched in.</summary>
    public async Task<string> ProfileForAsync(string? anonymousId, string? userId, string cause)
    {
        if (userId is not null)
        {
            var known = Aliases.User(userId);
            return anonymousId is null ? await ResolveAsync(known) : await StitchAsync(Aliases.Anonymous(anonymousId), known, cause);
        }
        if (anonymousId is null) throw new ArgumentException("Either anonymousId or userId is required.");
        return await ResolveAsync(Aliases.Anonymous(anonymousId));
    }

    /// <summary>
    /// The explicit merge of two known customers (marketing scope): <paramref name="sourceAlias"/>'s history goes into
    /// <paramref name="targetAlias"/>'s profile, recorded in both streams with who asked and why. Undone by <see cref="UnmergeAsync"/>.
    /// </summary>
    public async Task<IdentityOutcome> MergeKnownAsync(string sourceAlias, string targetAlias, string actor, string reason)
    {
        var source = await Visitor(await ResolveFreshAsync(sourceAlias)).Identity();
        var target = await ProfileChain.EndAsync(grains, await ResolveFreshAsync(targetAlias));
        // A retried merge (or an alias sent twice) finds it done.
        if (source.ProfileId == target.ProfileId || (source.MergedInto is not null && (await ProfileChain.EndAsync(grains, source.ProfileId)).ProfileId == target.ProfileId))
            return IdentityOutcome.Done(target.ProfileId);
        if (IdentityRules.CannotMerge(source.ProfileId, source.MergedInto, target.ProfileId, target.MergedInto) is { } why)
            return IdentityOutcome.Refused(why);
        var final = await Visitor(source.ProfileId).MergeKnownInto(target.ProfileId, actor, reason);
        LogKnownMerged(source.ProfileId, final, actor, reason);
        return IdentityOutcome.Done(final);
    }

    /// <summary>
    /// Undoes the merge of the profile <paramref name="profileId"/> (admin): the profile it went into stops counting the
    /// carried events and decides its stage and segments again; this one reopens, and its alias points at it again.
    /// </summary>
    public async Task<IdentityOutcome> UnmergeAsync(string profileId, string actor, string reason)
    {
        var source = await Visitor(profileId).Identity();
        var targetMergedInto = source.MergedInto is { } t ? (await Visitor(t).Identity()).MergedInto : null;
        if (IdentityRules.CannotUnmerge(profileId, source.MergedInto, targetMergedInto) is { } why) return IdentityOutcome.Refused(why);
        var target = await Visitor(profileId).Unmerge(actor, reason);
        await grains.GetGrain<IIdentityGrain>(profileId).Reset();
        return IdentityOutcome.Done(target);
    }

    public async Task<TrackResult> TrackAsync(string profileId, IReadOnlyList<VisitorEvent> events) =>
        await Visitor(profileId).Track(events.AsImmutable());

    [LoggerMessage(Level = LogLevel.Debug, Message = "Device {Alias} identified: its events go to {ProfileId}")]
    private partial void LogStitched(string alias, string profileId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Customer profile {SourceProfileId} merged into {ProfileId} by {Actor}: {Reason}")]
    private partial void LogKnownMerged(string sourceProfileId, string profileId, string actor, string reason);
}
