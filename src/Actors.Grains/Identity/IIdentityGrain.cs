namespace Actors.Grains.Identity;

/// <summary>
/// One alias ("anon:&lt;anonymousId&gt;", "user:&lt;userId&gt;", "email:&lt;hash&gt;", "card:&lt;number&gt;") and the canonical
/// profile it belongs to. An alias never linked elsewhere is its own profile, and costs no storage.
/// </summary>
public interface IIdentityGrain : IGrainWithStringKey
{
    Task<string> Resolve();

    /// <summary>Points this alias at a profile from now on.</summary>
    Task Link(string profileId);
}
