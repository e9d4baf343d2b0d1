using Actors.Domain.Privacy;
using Microsoft.Extensions.Logging;

namespace Actors.Grains.Visitors;

public sealed partial class VisitorGrain
{
    public async Task<long> Erase(string actor)
    {
        await EnsureLoadedAsync();
        if (_profile.Version == 0) return 0; // no stream: nothing held
        await AppendWithRetryAsync(() => Erasure.Decide(_profile, clock.GetUtcNow(), actor));
        // The snapshot on disk holds the person's data: overwrite it with the empty profile now, not at the next interval.
        await streams.SaveSnapshotAsync(_profile);
        _snapshotVersion = _profile.Version;
        _view = null;
        await AfterChangeAsync();
        LogErased(ProfileId, _profile.Version, actor);
        DeactivateOnIdle(); // the next call loads from the (masked) stream
        return _profile.Version;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Profile {ProfileId} erased at version {Version} (by {Actor})")]
    private partial void LogErased(string profileId, long version, string actor);
}
