using Actors.Domain.Tracking;

namespace Actors.Storage.Streams;

/// <summary>One event as the store holds it: its place in the stream and when it was stored.</summary>
public sealed record StoredEvent(long Version, string Type, DateTimeOffset StoredAt, VisitorEvent Event);

/// <summary>Another writer appended to the stream first; reload and decide again.</summary>
public sealed class StreamConflictException(string profileId, long expectedVersion, Exception inner)
    : Exception($"The stream of profile '{profileId}' is no longer at version {expectedVersion}.", inner)
{
    public string ProfileId { get; } = profileId;
    public long ExpectedVersion { get; } = expectedVersion;
}
