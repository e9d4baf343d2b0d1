namespace Actors.Domain.Identity;

/// <summary>What becomes of a device (an anonymous alias) when it identifies as a customer.</summary>
public enum DeviceClaim
{
    /// <summary>The device already belongs to that customer.</summary>
    Same,

    /// <summary>The device is anonymous: its history is carried into the customer's profile.</summary>
    Merge,

    /// <summary>
    /// The device belongs to another customer (a shared browser, a shop's till): its later events go to the new
    /// customer, its earlier history stays with the first, and neither profile absorbs the other.
    /// </summary>
    Reassign,
}

/// <summary>Whether a request may join two ids, and how.</summary>
public enum AliasDecision
{
    /// <summary>An anonymous id joins a customer (as a login does).</summary>
    ClaimDevice,

    /// <summary>Two known customers become one: an explicit, audited merge.</summary>
    MergeKnown,

    /// <summary>Refused: two known customers, and the caller may not merge customers.</summary>
    Refuse,
}

/// <summary>
/// The identity rules in one place. Two known people are never fused by a visitor's own messages: a profile that has
/// a user id is merged into another only by an explicit merge with the marketing scope, which can be undone.
/// </summary>
public static class IdentityRules
{
    /// <summary>
    /// The customer a profile belongs to: the user id it was identified with, or, for a profile created for a user id
    /// ("user:&lt;id&gt;", which may have received tracks with a user id but never an identify), that user id.
    /// </summary>
    public static string? OwnerOf(string profileId, string? identifiedUserId) =>
        identifiedUserId ?? (profileId.StartsWith(KnownPrefix, StringComparison.Ordinal) ? profileId[KnownPrefix.Length..] : null);

    /// <summary>How a known customer's own profile id begins.</summary>
    public const string KnownPrefix = "user:";

    /// <param name="deviceOwnerUserId">The user id of the profile the device belongs to now (null: anonymous).</param>
    /// <param name="claimingUserId">The user id the device identifies as.</param>
    public static DeviceClaim ForDevice(string? deviceOwnerUserId, string claimingUserId) => deviceOwnerUserId switch
    {
        null => DeviceClaim.Merge,
        var owner when string.Equals(owner, claimingUserId, StringComparison.Ordinal) => DeviceClaim.Same,
        _ => DeviceClaim.Reassign,
    };

    /// <summary>A Segment alias message, or a merge request.</summary>
    /// <param name="previousIsKnownUser">The previous id names a known customer ("user:…"), not a device.</param>
    /// <param name="callerMayMergeCustomers">The caller's key has the marketing scope or more.</param>
    public static AliasDecision ForAlias(bool previousIsKnownUser, bool callerMayMergeCustomers) =>
        !previousIsKnownUser ? AliasDecision.ClaimDevice
        : callerMayMergeCustomers ? AliasDecision.MergeKnown
        : AliasDecision.Refuse;

    /// <summary>Why an explicit merge of two profiles cannot go ahead, or null when it can.</summary>
    public static string? CannotMerge(string sourceProfileId, string? sourceMergedInto, string targetProfileId, string? targetMergedInto)
    {
        if (sourceProfileId == targetProfileId) return "The two ids name the same profile.";
        if (sourceMergedInto is not null) return $"'{sourceProfileId}' is already merged into '{sourceMergedInto}'.";
        if (targetMergedInto is not null) return $"'{targetProfileId}' is merged into '{targetMergedInto}'; merge into that profile instead.";
        return null;
    }

    /// <summary>Why a merge cannot be undone, or null when it can.</summary>
    public static string? CannotUnmerge(string sourceProfileId, string? mergedInto, string? targetMergedInto)
    {
        if (mergedInto is null) return $"'{sourceProfileId}' is not merged into another profile.";
        // The carried events now also sit inside the next merge's block: undo that one first.
        if (targetMergedInto is not null) return $"'{mergedInto}' has since been merged into '{targetMergedInto}'; unmerge '{mergedInto}' first.";
        return null;
    }
}
