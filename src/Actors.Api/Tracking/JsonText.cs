using Actors.Domain.Tracking;
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
    public const string NulMessage = StoredText.NulMessage;
    public const string SurrogateMessage = StoredText.SurrogateMessage;
    public const string NulNameMessage = "Has a property name with the NUL character (\\u0000).";
    public const string SurrogateNameMessage = "Has a property name that is not valid Unicode text (a lone surrogate such as \\ud800).";

    /// <summary>What is wrong with a string, or null when it can be stored.</summary>
    public static string? Problem(ReadOnlySpan<char> text) => StoredText.Problem(text);

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
        if (!MayHoldEscapes(element)) return true;
        var at = new List<object> { path };
        return Walk(element, at, report);
    }

    /// <summary>
    /// The path of the first object with a property name that cannot be decoded at all (an escaped lone surrogate such
    /// as "\udc00"), or null. System.Text.Json throws from TryGetProperty on any object holding one, whatever name is
    /// looked up, so such a body cannot be read field by field: it is refused whole, before anyone looks into it.
    /// </summary>
    public static string? UnreadableName(JsonElement element)
    {
        if (!MayHoldEscapes(element)) return null;
        var at = new List<object> { "" };
        return FindUnreadableName(element, at);
    }

    private static string? FindUnreadableName(JsonElement element, List<object> at)
    {
        if (!MayHoldEscapes(element)) return null;
        switch (element.ValueKind)
        {
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    at.Add(i++);
                    if (FindUnreadableName(item, at) is { } found) return found;
                    at.RemoveAt(at.Count - 1);
                }
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
                        return Path(at);
                    }
                    at.Add(name);
                    if (FindUnreadableName(property.Value, at) is { } found) return found;
                    at.RemoveAt(at.Count - 1);
                }
                break;
        }
        return null;
    }

    private static bool MayHoldEscapes(JsonElement element) =>
        element.ValueKind is not (JsonValueKind.Object or JsonValueKind.Array or JsonValueKind.String)
        || JsonMarshal.GetRawUtf8Value(element).IndexOf("\\u"u8) >= 0;

    /// <summary>
    /// Walks only into values whose raw text holds an escape, and reads only those strings; the path (names and
    /// indexes on <paramref name="at"/>) becomes a string only when there is something to report.
    /// </summary>
    private static bool Walk(JsonElement element, List<object> at, Action<string, string> report)
    {
        if (!MayHoldEscapes(element)) return true;
        var ok = true;
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                if (TryGetString(element, out var problem) is null && problem is not null)
                {
                    report(Path(at), problem);
                    ok = false;
                }
                break;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    at.Add(i++);
                    ok &= Walk(item, at, report);
                    at.RemoveAt(at.Count - 1);
                }
                break;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (JsonMarshal.GetRawUtf8PropertyName(property).IndexOf("\\u"u8) >= 0 && NameProblem(property) is { } bad)
                    {
                        // A bad name is not echoed (it may not even be readable): the object holding it is named.
                        report(Path(at), bad);
                        ok = false;
                        continue;
                    }
                    at.Add(property.Name);
                    ok &= Walk(property.Value, at, report);
                    at.RemoveAt(at.Count - 1);
                }
                break;
        }
        return ok;
    }

    private static string? NameProblem(JsonProperty property)
    {
        try
        {
            return Problem(property.Name) is { } problem ? (problem == NulMessage ? NulNameMessage : SurrogateNameMessage) : null;
        }
        catch (InvalidOperationException)
        {
            return SurrogateNameMessage; // escapes that do not make valid UTF-16
        }
    }

    /// <summary>"properties.products[0].name" from the root path and the names and indexes below it; "body" for the root itself.</summary>
    private static string Path(List<object> at)
    {
        var sb = new System.Text.StringBuilder((string)at[0]);
        for (var i = 1; i < at.Count; i++)
        {
            if (at[i] is int index) sb.Append('[').Append(index).Append(']');
            else
            {
                if (sb.Length > 0) sb.Append('.');
                sb.Append((string)at[i]);
            }
        }
        return sb.Length == 0 ? "body" : sb.ToString();
    }
}
