using Actors.Domain.Channels;
using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Storage.Streams;

/// <summary>One stream of events per visitor profile, keyed by the profile id.</summary>
public interface IVisitorStreams
{
    /// <summary>The profile as of the end of its stream: the latest snapshot plus the events after it.</summary>
    Task<VisitorProfile> LoadAsync(string profileId, CancellationToken ct = default);

    /// <summary>
    /// Appends after <paramref name="expectedVersion"/>, durably (the task completes after commit), together with the
    /// outbox rows of the messages these events decided to send (same transaction).
    /// Throws <see cref="StreamConflictException"/> when the stream has moved on.
    /// </summary>
    Task AppendAsync(string profileId, long expectedVersion, IReadOnlyList<VisitorEvent> events, IReadOnlyList<OutboundMessage>? outbound = null, CancellationToken ct = default);

    /// <summary>
    /// <see cref="AppendAsync"/> for work no visitor's request waits on (a marketer's trigger): stored the same way,
    /// but where appends queue, after those a request is waiting for.
    /// </summary>
    Task AppendInBackgroundAsync(string profileId, long expectedVersion, IReadOnlyList<VisitorEvent> events, IReadOnlyList<OutboundMessage>? outbound = null, CancellationToken ct = default) =>
        AppendAsync(profileId, expectedVersion, events, outbound, ct);

    Task SaveSnapshotAsync(VisitorProfile profile, CancellationToken ct = default);

    /// <summary>Stored events matching the query, oldest first.</summary>
    Task<IReadOnlyList<StoredEvent>> ReadAsync(string profileId, EventQuery query, CancellationToken ct = default);
}
