using System.Net;
using Actors.Channels.Delivery;

namespace Actors.Channels.Push;

/// <summary>
/// Which push endpoints we POST to. An endpoint comes from a browser through the public ingest key, so it is hostile
/// input: only https to public addresses, checked when it is stored (scheme, literal addresses) and again when we connect
/// (the push client connects through <see cref="OutboundAddressGuard.ConnectAsync"/>, so a name that points inside later
/// is refused too). What counts as private is <see cref="OutboundAddressGuard.IsPrivate"/>; the allowance is push's own,
/// Actors:Push:AllowInsecureEndpoints.
/// </summary>
public static class PushEndpoints
{
    public const int MaxLength = 2_048;

    public const string AllowSetting = "Actors:Push:AllowInsecureEndpoints";

    /// <summary>Why an endpoint is refused, or null when it may be stored and sent to.</summary>
    public static string? Problem(string? endpoint, bool allowInsecure)
    {
        if (string.IsNullOrEmpty(endpoint)) return "is required";
        if (endpoint.Length > MaxLength) return $"must be at most {MaxLength} characters";
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http") || string.IsNullOrEmpty(uri.Host))
            return "must be an absolute https URL";
        if (!string.IsNullOrEmpty(uri.UserInfo)) return "must not carry user information";
        if (allowInsecure) return null;
        if (uri.Scheme != Uri.UriSchemeHttps) return "must be an https URL";
        if ((IPAddress.TryParse(uri.IdnHost, out var address) && OutboundAddressGuard.IsPrivate(address)) || OutboundAddressGuard.IsLocalName(uri.IdnHost))
            return "must not be a private, loopback or link-local address";
        return null;
    }
}
