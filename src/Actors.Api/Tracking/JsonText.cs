using System.Runtime.InteropServices;
using System.Text.Json;

namespace Actors.Api.Tracking;

/// <summary>
/// Strings we can store: PostgreSQL's jsonb refuses the NUL character, and System.Text.Json refuses to read a lone
/// surrogate ("\ud800") as a string. Both can only arrive as JSON escapes, so a message without "\u" in its raw text
/// needs no walk. Such text is refused (400 naming the field), never silently repaired.
/// </summary>
public static class JsonText
{
    public const string NulMessage = "Must not contain the NUL character (\\u0000).";
    public const string SurrogateMessage = "Must be valid Unicode text: a lone surrogate (such as \\ud800) is not.";
    public const string NulNameMessage = "Has a property name with the NUL character (\\u0000).";
    public const string SurrogateNameMessage = "Has a property name that is not valid Unicode text (a lone surrogate such as \\ud800).";

    /// <summary>What is wrong with a string, or null when it can be stored.</summary>
    public static string? Problem(ReadOnlySpan<char> text)
    {
        if (text.Contains('\0')) return NulMessage;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (!char.IsSurrogate(c)) continue;
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            return SurrogateMessage;
        }
        return null;
    }

    /// <summary>The string value, or null (with the problem) when it is not text we can store.</summary>
    public static string? TryGetString(JsonElement value, out string? problem)
    {
        string? text;
        try
        {
            text = value.GetString();
        }
        catch (InvalidOperationException)
        {
            // Thrown for escapes that do not make valid UTF-16 (a lone surrogate).
            problem = SurrogateMessage;
            return null;
        }
        problem = text is null ? null : Problem(text);
        return problem is null ? text : null;
    }

    /// <summary>
    /// Reports every string and property name in <paramref name="element"/> (and below) that cannot be stored, with
    /// its path from <paramref name="path"/> ("" for the root). True when there is none.
    /// </summary>
    public static bool Check(JsonElement element, string path, Action<string, string> report)
    {
        // Fast path: no escape sequence in the raw text, so no NUL and no surrogate (raw UTF-8 cannot encode either).
        if (element.ValueKind is JsonValueKind.Object or JsonValueKind.Array or JsonValueKind.String
            && JsonMarshal.GetRawUtf8Value(element).IndexOf("\\u"u8) < 0) return true;
        return Walk(element, path, report);
    }

    private static bool Walk(JsonElement element, string path, Action<string, string> report)
    {
        var ok = true;
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                if (TryGetString(element, out var problem) is null && problem is not null)
                {
                    report(path.Length == 0 ? "body" : path, problem);
                    ok = false;
                }
                break;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray()) ok &= Walk(item, $"{path}[{i++}]", report);
                break;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    string name;
                    try
                    {
                        name = property.Name;
                    }
                    catch (InvalidOperationException)
                    {
                        // The name cannot be read, so it cannot be echoed either: the object it is in is named.
                        report(path.Length == 0 ? "body" : path, SurrogateNameMessage);
                        ok = false;
                        continue;
                    }
                    if (Problem(name) is { } bad)
                    {
                        report(path.Length == 0 ? "body" : path, bad == NulMessage ? NulNameMessage : SurrogateNameMessage);
                        ok = false;
                        continue;
                    }
                    ok &= Walk(property.Value, path.Length == 0 ? name : string.Concat(path, ".", name), report);
                }
                break;
        }
        return ok;
    }
}
