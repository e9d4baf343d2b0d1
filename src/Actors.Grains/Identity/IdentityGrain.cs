using Actors.Domain.Identity;
using Actors.Domain.Tracking;
using Actors.Grains.Visitors;
using Microsoft.Extensions.Logging;

namespace Actors.Grains.Identity;

[GenerateSerializer]
public sealed class AliasState
{
    [Id(0)] public string? ProfileId { get; set; }
}

public sealed partial class IdentityGrain(
    [PersistentState("alias", ActorsStorageNames.Identity)] IPersistentState<AliasState> alias,
    TimeProvider clock,
    ILogger<IdentityGrain> logger) : Grain, IIdentityGrain
{
    private string Self => this.GetPrimaryKeyString();

    public Task<string> Resolve() => Task.FromResult(alias.State.ProfileId ?? Self);

    public async Task Link(string profileId)
    {
        if (alias.State.ProfileId == profileId) return;
        alias.State.ProfileId = profileId;
        await alias.WriteStateAsync();
    }

    public async Task Reset()
    {
        if (alias.State.ProfileId is null) return;
        alias.State.ProfileId = null;
        await alias.WriteStateAsync();
    }

    public async Task<string> Claim(string userProfileId, string userId, string cause)
    {
        var current = await ProfileChain.EndAsync(GrainFactory, alias.State.ProfileId ?? Self);
        var target = await ProfileChain.EndAsync(GrainFactory, userProfileId);
        if (current.ProfileId == target.ProfileId)
        {
            await Link(userProfileId);
            return userProfileId;
        }

        switch (IdentityRules.ForDevice(current.UserId, userId))
        {
            case DeviceClaim.Same:
                return current.ProfileId;
            case DeviceClaim.Merge:
                await GrainFactory.Visitor(current.ProfileId).MergeInto(userProfileId);
                LogMerged(Self, current.ProfileId, userProfileId);
                break;
            case DeviceClaim.Reassign:
                await ReassignAsync(current.ProfileId, userProfileId, cause);
                break;
        }
        await Link(userProfileId);
        return userProfileId;
    }

    /// <summary>
    /// A device that belonged to one customer now belongs to another: each profile records it, and the device's own
    /// ended profile forwards to the new one (nodes that remember the alias as its own profile are sent on from there).
    /// Recorded before the link moves, with ids made from the login's message id, so a retried login records it once.
    /// </summary>
    private async Task ReassignAsync(string fromProfileId, string toProfileId, string cause)
    {
        var now = clock.GetUtcNow();
        await Visitor(toProfileId).RecordIdentityChange(new Immutable<VisitorEvent>(new DeviceLinked(Self, fromProfileId)
        {
            MessageId = $"device-linked:{Self}:{cause}", EventTime = now, ReceivedTime = now,
        }));
        await Visitor(fromProfileId).RecordIdentityChange(new Immutable<VisitorEvent>(new DeviceUnlinked(Self, toProfileId)
        {
            MessageId = $"device-unlinked:{Self}:{cause}", EventTime = now, ReceivedTime = now,
        }));
        if (Self != fromProfileId)
            await Visitor(Self).RecordIdentityChange(new Immutable<VisitorEvent>(new ForwardingChanged(toProfileId)
            {
                MessageId = $"forward:{Self}:{cause}", EventTime = now, ReceivedTime = now,
            }));
        LogReassigned(Self, fromProfileId, toProfileId);
    }

    private IVisitorGrain Visitor(string profileId) => GrainFactory.Visitor(profileId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Device {Alias} merged: profile {SourceProfileId} into {ProfileId}")]
    private partial void LogMerged(string alias, string sourceProfileId, string profileId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Device {Alias} reassigned from {FromProfileId} to {ToProfileId}: another customer logged in on it")]
    private partial void LogReassigned(string alias, string fromProfileId, string toProfileId);
}

public static class ActorsStorageNames
{
    /// <summary>Orleans ADO.NET grain storage holding alias → profile links.</summary>
    public const string Identity = "identity";
}

/// <summary>Follows ended profiles to the live one at the end of the chain.</summary>
public static class ProfileChain
{
    private const int MaxHops = 16;

    public static async Task<ProfileIdentity> EndAsync(IGrainFactory grains, string profileId)
    {
        var identity = await grains.Visitor(profileId).Identity();
        for (var hop = 0; identity.ForwardTo is { } next && hop < MaxHops; hop++)
            identity = await grains.Visitor(next).Identity();
        return identity;
    }
}
