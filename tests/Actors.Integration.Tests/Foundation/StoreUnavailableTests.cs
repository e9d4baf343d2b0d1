using System.Net.Sockets;
using Actors.Api;
using Actors.Grains.Hosting;
using Actors.Storage.Streams;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.Serialization;

namespace Actors.Integration.Tests.Foundation;

/// <summary>
/// What the API's 503 mapping sees of a failure once it crossed a grain call between silos: the exception as Orleans
/// serializes and recreates it (possibly only a fallback that keeps the type's name).
/// </summary>
public class StoreUnavailableTests
{
    // The serializer as silos and clients configure it.
    private static readonly Serializer Serializer = new ServiceCollection().AddDomainSerialization().BuildServiceProvider().GetRequiredService<Serializer>();

    private static Exception AcrossSilos(Exception e)
    {
        try { throw e; } // a thrown exception, with its stack trace, as a grain's would be
        catch (Exception thrown) { return Serializer.Deserialize<Exception>(Serializer.SerializeToArray(thrown))!; }
    }

    public static TheoryData<string, Exception, string?> Failures() => new()
    {
        { "connection refused", new NpgsqlException("Failed to connect", new SocketException((int)SocketError.ConnectionRefused)), "database" },
        { "wrapped by Marten or Orleans", new InvalidOperationException("outer", new NpgsqlException("Exception while reading from stream", new EndOfStreamException())), "database" },
        { "timeout", new TimeoutException("no answer"), "database" },
        { "queue full", new AppendQueueFullException(10), "overloaded" },
        { "a bug of ours", new InvalidOperationException("oops"), null },
        { "bad data", new OverflowException(), null },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void A_failure_maps_to_503_in_the_silo_and_after_crossing_to_another(string what, Exception failure, string? reason)
    {
        Assert.True(reason == StoreUnavailableHandler.Classify(failure), $"{what} in the silo");
        var crossed = AcrossSilos(failure);
        Assert.True(reason == StoreUnavailableHandler.Classify(crossed), $"{what} after crossing: {crossed.GetType().FullName}: {crossed}");
    }
}
