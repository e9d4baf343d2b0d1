namespace Actors.Storage.Access;

/// <summary>
/// Web origins ("https://shop.example", "http://localhost:3000") a key may be used from in a browser, in the one form
/// browsers send in their Origin header: lowercase scheme and host, the port only when it is not the scheme's default,
/// no path. "*" stands for any origin and is only ever there because someone configured it.
/// </summary>
public static class BrowserOrigins
{
    public const string Any = "*";

    /// <summary>The origin as a browser sends it, or null (with why) when the text is not an http(s) origin.</summary>
    public static string? Normalize(string text, out string? problem)
    {
        problem = null;
        var trimmed = text.Trim();
        if (trimmed == Any) return Any;
        if (!Uri.TryCreate(trimmed.TrimEnd('/'), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            problem = $"'{text}' is not an origin: expected scheme and host, e.g. https://shop.example, or * for any origin.";
            return null;
        }
        if (uri.AbsolutePath != "/" || uri.Query.Length > 0 || uri.Fragment.Length > 0 || uri.UserInfo.Length > 0)
        {
            problem = $"'{text}' is not an origin: an origin has no path, query or user name (e.g. https://shop.example).";
            return null;
        }
        return uri.IsDefaultPort ? $"{uri.Scheme}://{uri.IdnHost}" : $"{uri.Scheme}://{uri.IdnHost}:{uri.Port}";
    }

    /// <summary>The list normalized, or an error naming the first origin that is not one.</summary>
    public static IReadOnlyList<string> NormalizeAll(IEnumerable<string> origins)
    {
        var result = new List<string>();
        foreach (var origin in origins)
        {
            var normalized = Normalize(origin, out var problem) ?? throw new ArgumentException(problem);
            if (!result.Contains(normalized, StringComparer.Ordinal)) result.Add(normalized);
        }
        return result;
    }

    /// <summary>Whether a request's Origin header is among <paramref name="allowed"/> (or "*" is).</summary>
    public static bool Allows(IEnumerable<string>? allowed, string origin)
    {
        if (allowed is null) return false;
        var normalized = Normalize(origin, out _);
        if (normalized is null || normalized == Any) return false;
        foreach (var entry in allowed)
            if (entry == Any || string.Equals(entry, normalized, StringComparison.Ordinal)) return true;
        return false;
    }
}
