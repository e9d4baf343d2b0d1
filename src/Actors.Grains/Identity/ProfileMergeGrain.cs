using Actors.Domain.Identity;
using Actors.Grains.Visitors;
using Microsoft.Extensions.Logging;

namespace Actors.Grains.Identity;

/// <summary>
/// Explicit merges and unmerges of known customers, one at a time for the whole cluster. They are rare and made by
/// people; doing them in turn means two opposite merges (a into b while b into a) can never wait on each other with
/// each profile half-absorbing the other.
/// </summary>
public interface IProfileMergeGrain : IGrainWithIntegerKey
{
    Task<IdentityOutcome> Merge(string sourceAlias, string targetAlias, string actor, string reason);

    Task<IdentityOutcome> Unmerge(string profileId, string actor, string reason);
}

/// <summary>The outcome of an explicit merge or unmerge: the profile that now holds the history, or why nothing happened.</summary>
[GenerateSerializer, Immutable]
public sealed record IdentityOutcome([property: Id(0)] string? ProfileId, [property: Id(1)] string? Refusal)
{
    public static IdentityOutcome Done(string profileId) => new(profileId, null);
    public static IdentityOutcome Refused(string why) => new(null, why);
}

public sealed partial class ProfileMergeGrain(ILogger<ProfileMergeGrain> logger) : Grain, IProfileMergeGrain
{
    public async Task<IdentityOutcome> Merge(string sourceAlias, string targetAlias, string actor, string reason)
    {
        var source = await Visitor(await Resolve(sourceAlias)).Identity();
        var target = await ProfileChain.EndAsync(GrainFactory, await Resolve(targetAlias));
        // A retried merge (or an alias sent twice) finds it done.
        if (source.ProfileId == target.ProfileId
            || (source.MergedInto is not null && (await ProfileChain.EndAsync(GrainFactory, source.ProfileId)).ProfileId == target.ProfileId))
            return IdentityOutcome.Done(target.ProfileId);
        if (IdentityRules.CannotMerge(source.ProfileId, source.MergedInto, target.ProfileId, target.MergedInto) is { } why)
            return IdentityOutcome.Refused(why);
        var final = await Visitor(source.ProfileId).MergeKnownInto(target.ProfileId, actor, reason);
        LogMerged(source.ProfileId, final, actor, reason);
        return IdentityOutcome.Done(final);
    }

    public async Task<IdentityOutcome> Unmerge(string profileId, string actor, string reason)
    {
        var source = await Visitor(profileId).Identity();
        var targetMergedInto = source.MergedInto is { } t ? (await Visitor(t).Identity()).MergedInto : null;
        if (IdentityRules.CannotUnmerge(profileId, source.MergedInto, targetMergedInto) is { } why) return IdentityOutcome.Refused(why);
        var target = await Visitor(profileId).Unmerge(actor, reason);
        await GrainFactory.GetGrain<IIdentityGrain>(profileId).Reset();
        LogUnmerged(profileId, target, actor, reason);
        return IdentityOutcome.Done(target);
    }

    private Task<string> Resolve(string alias) => GrainFactory.GetGrain<IIdentityGrain>(alias).Resolve();

    private IVisitorGrain Visitor(string profileId) => GrainFactory.Visitor(profileId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Customer profile {SourceProfileId} merged into {ProfileId} by {Actor}: {Reason}")]
    private partial void LogMerged(string sourceProfileId, string profileId, string actor, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Profile {ProfileId} unmerged from {TargetProfileId} by {Actor}: {Reason}")]
    private partial void LogUnmerged(string profileId, string targetProfileId, string actor, string reason);
}
