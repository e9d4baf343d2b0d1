using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Actors.Api;

/// <summary>Optimistic concurrency on the marketer's resources (segments, journeys, templates): one reading of If-Match, one 409.</summary>
public static class Revisions
{
    /// <summary>The revision a change is based on: If-Match ("12", W/"12" or 12) or "revision" in the body; none is fine. False for an unreadable If-Match.</summary>
    public static bool TryExpected(HttpRequest http, long? fromBody, out long? expected)
    {
        expected = fromBody;
        var ifMatch = http.Headers.IfMatch.ToString();
        if (ifMatch.Length == 0) return true;
        var raw = ifMatch.StartsWith("W/", StringComparison.Ordinal) ? ifMatch[2..] : ifMatch;
        if (!long.TryParse(raw.Trim('"'), NumberStyles.None, CultureInfo.InvariantCulture, out var revision)) return false;
        expected = revision;
        return true;
    }

    /// <summary>The 409 for a change based on a revision that is no longer current.</summary>
    public static ProblemHttpResult Stale(string kind, string id, long currentRevision) => Problems.Conflict(
        $"{kind} '{id}' was changed meanwhile (it is at revision {currentRevision}); read it again and re-apply your change.");
}
