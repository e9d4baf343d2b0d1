namespace Actors.Domain.Journeys;

/// <summary>
/// Deterministic draws per visitor: the same visitor always falls on the same side of a holdout or the same arm of a
/// split (a replay, a retry or another node decides the same), while different journeys draw independently.
/// </summary>
public static class Holdout
{
    /// <summary>A number in [0, 100) for this visitor and salt, evenly spread.</summary>
    public static int Bucket(string profileId, string salt)
    {
        // FNV-1a over the UTF-16 code units: stable across processes and versions (string.GetHashCode is not).
        var hash = 2166136261u;
        foreach (var c in salt) hash = (hash ^ c) * 16777619u;
        hash = (hash ^ '\n') * 16777619u;
        foreach (var c in profileId) hash = (hash ^ c) * 16777619u;
        // Mix the high bits in: FNV's low bits alone spread poorly over % 100.
        hash ^= hash >> 15;
        hash *= 0x2c1b3c6du;
        hash ^= hash >> 12;
        return (int)(hash % 100);
    }

    public static bool IsHeldOut(string profileId, string journeyId, int percent) =>
        percent > 0 && Bucket(profileId, "holdout:" + journeyId) < percent;

    /// <summary>The split arm for this visitor (arms' percentages add up to 100; a short sum falls to the last arm).</summary>
    public static SplitArm Pick(string profileId, string salt, IReadOnlyList<SplitArm> arms)
    {
        var bucket = Bucket(profileId, "split:" + salt);
        var upTo = 0;
        foreach (var arm in arms)
        {
            upTo += arm.Percent;
            if (bucket < upTo) return arm;
        }
        return arms[^1];
    }
}
