using Actors.Domain.Profiles;

namespace Actors.Storage.Streams;

/// <summary>A visitor's profile as it was at <see cref="Version"/>, so activation replays only what came after.</summary>
public sealed record ProfileSnapshot(string Id, long Version, VisitorProfile Profile);
