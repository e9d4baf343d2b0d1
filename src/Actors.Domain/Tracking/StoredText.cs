namespace Actors.Domain.Tracking;

/// <summary>
/// Text we can store: PostgreSQL's jsonb refuses the NUL character, and a lone surrogate is not Unicode text (System.Text.Json
/// will not even read it as a string). One place for the check, used by the edge, the parsers and the grains.
/// </summary>
public static class StoredText
{
    public const string NulMessage = "Must not contain the NUL character (\\u0000).";
    public const string SurrogateMessage = "Must be valid Unicode text: a lone surrogate (such as \\ud800) is not.";

    /// <summary>What is wrong with a string for storage, or null when it can be stored.</summary>
    public static string? Problem(ReadOnlySpan<char> text)
    {
        if (text.Contains('\0')) return NulMessage;
        return HasLoneSurrogate(text) ? SurrogateMessage : null;
    }

    /// <summary>Storable and free of control characters: for ids, names and reasons (free text in events may hold newlines).</summary>
    public static bool IsClean(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
            if (char.IsControl(c)) return false;
        return !HasLoneSurrogate(text);
    }

    private static bool HasLoneSurrogate(ReadOnlySpan<char> text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (!char.IsSurrogate(c)) continue;
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            return true;
        }
        return false;
    }
}
