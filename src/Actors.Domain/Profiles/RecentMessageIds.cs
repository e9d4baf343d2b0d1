using System.Text.Json.Serialization;

namespace Actors.Domain.Profiles;

/// <summary>
/// The dedupe horizon: hashes of the last <see cref="Capacity"/> message ids a profile accepted.
/// A retry is recognised while its original is among them; 64-bit hashes keep this at 2 KB a profile.
/// </summary>
public sealed class RecentMessageIds
{
    public const int Capacity = 256;

    [JsonInclude]
    public ulong[] Hashes { get; private set; } = [];

    [JsonInclude]
    public int Next { get; private set; }

    public bool Contains(string messageId)
    {
        var hash = Hash(messageId);
        return Array.IndexOf(Hashes, hash) >= 0;
    }

    public void Remember(string messageId)
    {
        if (Hashes.Length < Capacity)
        {
            // Grow in steps so that a visitor with a handful of events stays small.
            if (Next == Hashes.Length)
            {
                var grown = new ulong[Math.Min(Capacity, Math.Max(8, Hashes.Length * 2))];
                Hashes.CopyTo(grown, 0);
                Hashes = grown;
            }
        }

        Hashes[Next] = Hash(messageId);
        Next = (Next + 1) % Capacity;
    }

    // FNV-1a over the UTF-16 code units; zero is reserved for "empty slot".
    private static ulong Hash(string value)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in value)
        {
            hash ^= c;
            hash *= 1099511628211UL;
        }
        return hash == 0 ? 1 : hash;
    }
}
