namespace Actors.Grains.Identity;

/// <summary>How the outside world's ids become aliases.</summary>
public static class Aliases
{
    public static string Anonymous(string anonymousId) => "anon:" + anonymousId;
    public static string User(string userId) => "user:" + userId;

    /// <summary>A visitor id from a route: "user:42" names a known customer, anything else is a frontend's anonymous id.</summary>
    public static string FromVisitorId(string visitorId) =>
        visitorId.StartsWith("user:", StringComparison.Ordinal) || visitorId.StartsWith("anon:", StringComparison.Ordinal) ? visitorId : Anonymous(visitorId);

    /// <summary>"user:&lt;id&gt;" with a sane id (1 to 200 characters, no control characters), else null.</summary>
    public static string? KnownOrNull(string? id) =>
        id is { Length: > 5 and <= 205 } && id.StartsWith("user:", StringComparison.Ordinal) && Actors.Domain.Tracking.StoredText.IsClean(id) ? id : null;

    /// <summary>
    /// Why an id cannot name a visitor, or null. Orleans' ADO.NET storage formats an identity grain's key with
    /// string.Format when it writes its state (AdoGrainKey.ToString), so "{" or "}" in an id fails every write of that
    /// visitor's identity: refused at the edge instead.
    /// </summary>
    public static string? IdProblem(string? id) =>
        id is not null && id.AsSpan().IndexOfAny('{', '}') >= 0 ? BracesMessage : null;

    public const string BracesMessage = "Must not contain '{' or '}'.";
}
