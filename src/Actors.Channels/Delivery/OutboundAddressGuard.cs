using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;

namespace Actors.Channels.Delivery;

/// <summary>
/// Where the host may send HTTP requests that a customer's configuration points at (segment webhooks, the webhook
/// channel, the SMS gateway): public addresses only, unless Actors:Outbound:AllowPrivateNetworks is on. Loopback,
/// private (RFC 1918, ULA), link-local (with the cloud metadata service at 169.254.169.254 and fd00:ec2::254),
/// carrier-grade NAT, "this network", multicast and IPv4-mapped IPv6 forms of all of these are refused. Checked when a
/// URL is saved (an address written in the URL) and again at connect time, on the addresses the name resolves to then,
/// so a name that resolves elsewhere later (DNS rebinding) is refused too. Redirects are never followed. Web push uses
/// the same classification and connect step under its own allowance (<paramref name="allowSetting"/>).
/// </summary>
public sealed class OutboundAddressGuard(bool allowPrivateNetworks, string allowSetting = OutboundAddressGuard.AllowSetting)
{
    public const string AllowSetting = "Actors:Outbound:AllowPrivateNetworks";

    public bool AllowPrivateNetworks { get; } = allowPrivateNetworks;

    public static OutboundAddressGuard From(IConfiguration configuration) => new(configuration.GetValue(AllowSetting, false));

    /// <summary>What is wrong with a URL the host is asked to send to, or null: absolute http(s), and no private address in it.</summary>
    public string? Problem(string? url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            return "must be an absolute http or https URL";
        if (AllowPrivateNetworks) return null;
        if (uri.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6 && IPAddress.TryParse(uri.IdnHost.Trim('[', ']'), out var address) && IsPrivate(address))
            return $"points at a private, loopback or link-local address ({address}); set {allowSetting} to allow it";
        if (IsLocalName(uri.IdnHost))
            return $"points at this machine (localhost); set {allowSetting} to allow it";
        return null;
    }

    /// <summary>True for "localhost" and names under .localhost, which always mean this machine (RFC 6761).</summary>
    public static bool IsLocalName(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase);

    /// <summary>True for every address a request from this host must not reach unless private networks are allowed.</summary>
    public static bool IsPrivate(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return b[0] switch
            {
                0 or 10 or 127 => true,                                  // this network, private, loopback
                100 => b[1] is >= 64 and <= 127,                         // carrier-grade NAT
                169 => b[1] == 254,                                      // link-local, metadata services
                172 => b[1] is >= 16 and <= 31,                          // private
                192 => (b[1] == 168) || (b[1] == 0 && b[2] is 0 or 2),   // private, IETF protocol assignments, TEST-NET-1
                198 => b[1] is 18 or 19,                                 // benchmarking
                >= 224 => true,                                          // multicast, reserved, broadcast
                _ => false,
            };
        }
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.IPv6None) || address.IsIPv6LinkLocal || address.IsIPv6SiteLocal
                || address.IsIPv6Multicast || address.IsIPv6UniqueLocal) return true; // ULA fc00::/7 holds fd00:ec2::254
            var b = address.GetAddressBytes();
            // IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) forms carry an IPv4 address inside.
            if (b.AsSpan(0, 12).IndexOfAnyExcept((byte)0) < 0) return IsPrivate(new IPAddress(b.AsSpan(12, 4)));
            if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b.AsSpan(4, 8).IndexOfAnyExcept((byte)0) < 0)
                return IsPrivate(new IPAddress(b.AsSpan(12, 4)));
            if (b[0] == 0x20 && b[1] == 0x02) return IsPrivate(new IPAddress(b.AsSpan(2, 4)));
            return false;
        }
        return true; // no other family is reachable over HTTP
    }

    /// <summary>The handler every outbound client of customer-configured URLs uses: connect-time check, no redirects.</summary>
    public SocketsHttpHandler Handler() => new()
    {
        AllowAutoRedirect = false,
        ConnectCallback = ConnectAsync,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2), // names are resolved again for new connections
    };

    /// <summary>
    /// The connect step: resolves the name itself and connects only to the addresses it allows, so the check and the
    /// connection see the same address. For a handler that needs other settings than <see cref="Handler"/> (web push).
    /// </summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        var host = context.DnsEndPoint.Host;
        IPAddress[] addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, ct);
        var allowed = AllowPrivateNetworks ? addresses : addresses.Where(a => !IsPrivate(a)).ToArray();
        if (allowed.Length == 0)
            throw new OutboundAddressRefusedException(
                $"outbound_address_refused: {host} resolves to {(addresses.Length == 0 ? "no address" : string.Join(", ", addresses.Select(a => a.ToString())))}, not a public address ({allowSetting} is off)");
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            // Connects to the addresses checked above, never to a second resolution of the name.
            await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>True when a send failed because the guard refused its address (a permanent failure, not one to retry).</summary>
    public static bool Refused(Exception e, out string reason)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is OutboundAddressRefusedException refused)
            {
                reason = refused.Message;
                return true;
            }
        }
        reason = "";
        return false;
    }
}

/// <summary>The guard refused every address of a host a request was to go to.</summary>
public sealed class OutboundAddressRefusedException(string message) : IOException(message);
