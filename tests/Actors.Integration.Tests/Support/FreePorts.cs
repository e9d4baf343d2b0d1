using System.Net;
using System.Net.Sockets;

namespace Actors.Integration.Tests.Support;

/// <summary>
/// Ports for silos, gateways and sinks that a test must name before it binds them. They come from below the kernel's
/// ephemeral range (32768–60999 here): a port 0 listener would hand out one from that range, and after it is released
/// any outgoing connection (a pooled Npgsql connection, an HTTP client) can take it as its source port before the
/// silo binds it — "Address already in use" in a CI run. Below that range only explicit binds compete, and each
/// port is handed out once per process and checked free on every IPv4 address.
/// </summary>
public static class FreePorts
{
    private const int First = 20_000;
    private const int Last = 32_000;

    // A different start per process, so two test processes on one machine rarely probe the same ports.
    private static int _next = First + Random.Shared.Next(Last - First);

    public static int Next()
    {
        for (var tries = 0; tries < Last - First; tries++)
        {
            var port = First + (Interlocked.Increment(ref _next) - First) % (Last - First);
            if (IsFree(port)) return port;
        }
        throw new InvalidOperationException($"No free TCP port between {First} and {Last}.");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Any, port)); // fails if anything holds the port on any IPv4 address
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
