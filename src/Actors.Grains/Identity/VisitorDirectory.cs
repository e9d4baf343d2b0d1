using Actors.Domain.Tracking;
using Actors.Grains.Visitors;
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Actors.Grains.Identity;

/// <summary>
/// Finds the profile behind an alias and stitches profiles together when a visitor identifies. Every step is
/// idempotent (the alias link, the source's "merged into", the target's record of what it absorbed), so a retried or
/// concurrent identify from two devices ends in the same single profile with each event once.
/// </summary>
public sealed partial class VisitorDirectory(IGrainFactory grains, ILogger<VisitorDirectory> logger)
{
    // Alias → profile, remembered on this node. A stale entry is harmless: the profile it names has ended with
    // "merged into" and forwards every call to the profile that absorbed it. It only saves the identity hop.
    private const int CacheLimit = 200_000;
    private readonly ConcurrentDictionary<string, string> _resolved = new(StringComparer.Ordinal);

    public async ValueTask<string> ResolveAsync(string alias)
    {
        if (_resolved.TryGetValue(alias, out var cached)) return cached;
        var profileId = await grains.GetGrain<IIdentityGrain>(alias).Resolve();
        if (_resolved.Count >= CacheLimit) _resolved.Clear();
        _resolved[alias] = profileId;
        return profileId;
    }

    /// <summary>Asks the identity grain, not the cache: for decisions that must see the latest link (stitching).</summary>
    public Task<string> ResolveFreshAsync(string alias) => grains.GetGrain<IIdentityGrain>(alias).Resolve();

    public IVisitorGrain Visitor(string profileId) => grains.GetGrain<IVisitorGrain>(profileId);

    /// <summary>
    /// Links <paramref name="anonymousAlias"/> (a device) to the known <paramref name="knownAlias"/> and carries the
    /// device's history into the known profile. Returns the canonical profile id.
    /// </summary>
    public async Task<string> StitchAsync(string anonymousAlias, string knownAlias)
    {
        var target = await ResolveFreshAsync(knownAlias);
        var source = await ResolveFreshAsync(anonymousAlias);
        _resolved[knownAlias] = target;
        if (source == target)
        {
            _resolved[anonymousAlias] = target;
            return target;
        }

        var final = await Visitor(source).MergeInto(target);
        await grains.GetGrain<IIdentityGrain>(anonymousAlias).Link(final);
        _resolved[anonymousAlias] = final;
        LogStitched(anonymousAlias, source, final);
        return final;
    }

    /// <summary>Resolves the profile for a visitor message: the user id wins, and an anonymous id with it is stitched in.</summary>
    public async Task<string> ProfileForAsync(string? anonymousId, string? userId)
    {
        if (userId is not null)
        {
            var known = Aliases.User(userId);
            return anonymousId is null ? await ResolveAsync(known) : await StitchAsync(Aliases.Anonymous(anonymousId), known);
        }
        if (anonymousId is null) throw new ArgumentException("Either anonymousId or userId is required.");
        return await ResolveAsync(Aliases.Anonymous(anonymousId));
    }

    public async Task<TrackResult> TrackAsync(string profileId, IReadOnlyList<VisitorEvent> events) =>
        await Visitor(profileId).Track(events.AsImmutable());

    [LoggerMessage(Level = LogLevel.Information, Message = "Stitched {Alias}: profile {SourceProfileId} merged into {ProfileId}")]
    private partial void LogStitched(string alias, string sourceProfileId, string profileId);
}
