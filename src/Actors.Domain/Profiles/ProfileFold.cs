using Actors.Domain.Tracking;

namespace Actors.Domain.Profiles;

/// <summary>
/// A whole stream folded into a profile, including unmerges. A merge stores the carried events just before its
/// <see cref="ProfilesMerged"/>; an unmerge takes them back, so the profile from that point on is the fold of the
/// stream without them. Replay and the grain use this same fold, so both agree at every version.
/// </summary>
public static class ProfileFold
{
    public static VisitorProfile Fold(string profileId, IReadOnlyList<VisitorEvent> stream)
    {
        var profile = new VisitorProfile(profileId);
        var excluded = new bool[stream.Count];
        for (var i = 0; i < stream.Count; i++)
        {
            if (stream[i] is ProfilesUnmerged unmerged)
            {
                // Everything the source carried in before now stops counting: fold again without it.
                for (var m = 0; m < i; m++)
                {
                    if (stream[m] is not ProfilesMerged merged || merged.SourceProfileId != unmerged.SourceProfileId || excluded[m]) continue;
                    for (var c = Math.Max(0, m - merged.EventCount); c < m; c++) excluded[c] = true;
                }
                profile = new VisitorProfile(profileId);
                for (var k = 0; k < i; k++)
                {
                    if (excluded[k]) profile.Skip();
                    else profile.Apply(stream[k]);
                }
            }
            if (excluded[i]) profile.Skip();
            else profile.Apply(stream[i]);
        }
        return profile;
    }

    /// <summary>Whether a stream needs the full fold (it holds an unmerge) rather than applying from a snapshot.</summary>
    public static bool NeedsFullFold(IEnumerable<VisitorEvent> tail) => tail.Any(e => e is ProfilesUnmerged);

    /// <summary>The events of <paramref name="stream"/> that a merge of <paramref name="sourceProfileId"/> carried in.</summary>
    public static IEnumerable<VisitorEvent> CarriedFrom(IReadOnlyList<VisitorEvent> stream, string sourceProfileId)
    {
        for (var m = 0; m < stream.Count; m++)
        {
            if (stream[m] is not ProfilesMerged merged || merged.SourceProfileId != sourceProfileId) continue;
            for (var c = Math.Max(0, m - merged.EventCount); c < m; c++) yield return stream[c];
        }
    }
}
