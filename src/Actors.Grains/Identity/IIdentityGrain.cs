namespace Actors.Grains.Identity;

/// <summary>
/// One alias ("anon:&lt;anonymousId&gt;", "user:&lt;userId&gt;", "email:&lt;hash&gt;", "card:&lt;number&gt;") and the canonical
/// profile it belongs to. An alias never linked elsewhere is its own profile, and costs no storage. It is also the one
/// place where a device's identity changes, so two logins on one device at once are decided one after the other.
/// </summary>
public interface IIdentityGrain : IGrainWithStringKey
{
    Task<string> Resolve();

    /// <summary>Points this alias at a profile from now on.</summary>
    Task Link(string profileId);

    /// <summary>
    /// This device identifies as <paramref name="userId"/>, whose profile is <paramref name="userProfileId"/>: merge it,
    /// reassign it, or nothing, by the identity rules. Returns the profile the device's events go to from now on.
    /// </summary>
    Task<string> Claim(string userProfileId, string userId, string cause);

    /// <summary>The alias is its own profile again (after an unmerge).</summary>
    Task Reset();
}
