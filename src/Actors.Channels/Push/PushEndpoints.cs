using System.Net;
using System.Net.Http;
using System.Net.Sockets;

namespace Actors.Channels.Push;

/// <summary>Raised when a push endpoint's address is in our own network: we never connect there.</summary>
public sealed class EndpointNotAllowedException(string host) : IOException($"Push endpoint host '{host}' is not a public address.")
{
    public string Host { get; } = host;
}

/// <summary>
/// Which push endpoints we POST to. An endpoint comes from a browser through the public ingest key, so it is hostile
/// input: only https to public addresses, checked when it is stored (scheme, literal addresses) and again when we connect
/// (the addresses a name resolves to at that moment, so a name that points inside later is refused too).
/// </summary>
public static class PushEndpoints
{
    public const int MaxLength = 2_048;

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
        if (IPAddress.TryParse(uri.IdnHost, out var address) && !IsPublic(address)) return "must not be a private, loopback or link-local address";
        if (uri.IdnHost.Equals("localhost", StringComparison.OrdinalIgnoreCase) || uri.IdnHost.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
            return "must not be a private, loopback or link-local address";
        return null;
    }

    /// <summary>Whether an address is on the public internet (not loopback, private, link-local, shared, multicast or reserved).</summary>
    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            Span<byte> b = stackalloc byte[4];
            address.TryWriteBytes(b, out _);
            return !(b[0] is 0 or 10 or 127 or >= 224 // this network, private, loopback, multicast and reserved
                || (b[0] == 100 && b[1] is >= 64 and < 128) // shared address space (carrier NAT)
                || (b[0] == 169 && b[1] == 254) // link-local, cloud metadata services
                || (b[0] == 172 && b[1] is >= 16 and < 32)
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 192 && b[1] == 0 && b[2] is 0 or 2) // IETF protocol assignments, documentation
                || (b[0] == 198 && b[1] is 18 or 19)); // benchmarking
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return false;
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.IPv6None) || address.IsIPv6LinkLocal || address.IsIPv6SiteLocal
            || address.IsIPv6Multicast || address.IsIPv6UniqueLocal) return false;
        Span<byte> v6 = stackalloc byte[16];
        address.TryWriteBytes(v6, out _);
        // 64:ff9b::/96 (NAT64) and 2002::/16 (6to4) carry an IPv4 address: judge that one.
        if (v6[..12].SequenceEqual((ReadOnlySpan<byte>)[0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0])) return IsPublic(new IPAddress(v6[12..]));
        if (v6[0] == 0x20 && v6[1] == 0x02) return IsPublic(new IPAddress(v6[2..6]));
        return true;
    }

    /// <summary>
    /// The connect step of the push HTTP client: resolves the host itself and connects only to public addresses, so
    /// the check and the connection see the same address (no DNS rebinding between them).
    /// </summary>
    public static async ValueTask<Stream> ConnectPubliclyAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, ct);
        var allowed = addresses.Where(IsPublic).ToArray();
        if (allowed.Length == 0) throw new EndpointNotAllowedException(host);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
