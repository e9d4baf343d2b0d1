using Actors.Domain.Tracking;
using Actors.Grains.Visitors;
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Actors.Grains.Identity;

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

    /// <summary>
    /// The profile that calls for <paramref name="alias"/> go to. An anonymous alias routes to its own profile without
    /// a lookup: a device's identity changes only through its identity grain's Claim, which ends the device's stream
    /// (merged_into) or, for a device taken over, records forwarding_changed in it before linking, so the device's own
    /// profile forwards every call to where the link points; a new visitor's first event then costs no identity read.
    /// Decisions that need the link itself (stitching, replay) ask <see cref="ResolveFreshAsync"/>.
    /// </summary>
    public async ValueTask<string> ResolveAsync(string alias)
    {
        if (alias.StartsWith(AnonymousPrefix, StringComparison.Ordinal)) return alias;
        if (_ownProfile.ContainsKey(alias)) return alias;
        var profileId = await grains.GetGrain<IIdentityGrain>(alias).Resolve();
        if (profileId == alias)
        {
            if (_ownProfile.Count >= CacheLimit) _ownProfile.Clear();
            _ownProfile[alias] = true;
        }
        return profileId;
    }

    private const string AnonymousPrefix = "anon:";

    /// <summary>Asks the identity grain, not the cache: for decisions that must see the latest link (stitching).</summary>
    public Task<string> ResolveFreshAsync(string alias) => grains.GetGrain<IIdentityGrain>(alias).Resolve();

    public IVisitorGrain Visitor(string profileId) => grains.Visitor(profileId);

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
    public Task<IdentityOutcome> MergeKnownAsync(string sourceAlias, string targetAlias, string actor, string reason) =>
        grains.GetGrain<IProfileMergeGrain>(0).Merge(sourceAlias, targetAlias, actor, reason);

    /// <summary>
    /// Undoes the merge of the profile <paramref name="profileId"/> (admin): the profile it went into stops counting the
    /// carried events and decides its stage and segments again; this one reopens, and its alias points at it again.
    /// </summary>
    public Task<IdentityOutcome> UnmergeAsync(string profileId, string actor, string reason) =>
        grains.GetGrain<IProfileMergeGrain>(0).Unmerge(profileId, actor, reason);

    public async Task<TrackResult> TrackAsync(string profileId, IReadOnlyList<VisitorEvent> events) =>
        await Visitor(profileId).Track(events.AsImmutable());

    [LoggerMessage(Level = LogLevel.Debug, Message = "Device {Alias} identified: its events go to {ProfileId}")]
    private partial void LogStitched(string alias, string profileId);
}
