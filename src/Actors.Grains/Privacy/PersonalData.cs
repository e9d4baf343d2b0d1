using Actors.Channels.Email;
using Actors.Domain.Tracking;
using Actors.Grains.Identity;
using Actors.Grains.Visitors;
using Actors.Storage.Privacy;
using Actors.Storage.Streams;
using Microsoft.Extensions.Logging;

namespace Actors.Grains.Privacy;

/// <summary>What an erasure did: the profiles (streams) it covered and what it changed in each place.</summary>
public sealed record ErasureReport(string ProfileId, IReadOnlyList<string> Profiles, int EventsMasked, int OutboxRowsMasked, int EmailFilesDeleted);

/// <summary>
/// Right to erasure across every place a person's data lives. The order makes a crash midway harmless and a retry
/// complete: first the person's messages still waiting in the outbox are closed, then each stream's grain records the erasure (leaves segments and journeys, so member rows, counts and
/// exit webhooks follow in the same transaction; overwrites the snapshot; drops its memory), then the events before it
/// are masked in place, then the outbox rows and .eml files. Each step is idempotent and the next DELETE repeats all.
/// </summary>
public sealed partial class PersonalData(
    IGrainFactory grains,
    VisitorDirectory directory,
    IVisitorStreams streams,
    PersonalDataStore store,
    EmailSettings email,
    ILogger<PersonalData> logger)
{
    /// <summary>The canonical profile of a visitor id (user:… or a device's id).</summary>
    public Task<string> ResolveAsync(string visitorId) => directory.ResolveFreshAsync(Aliases.FromVisitorId(visitorId));

    /// <summary>
    /// The profile and every profile merged into it and not taken back (devices the person logged in from, a merged
    /// duplicate of the customer), recursively: their streams hold the person's originals of the carried events.
    /// </summary>
    public async Task<IReadOnlyList<string>> FamilyAsync(string profileId, CancellationToken ct = default)
    {
        var found = new List<string> { profileId };
        var seen = new HashSet<string>(StringComparer.Ordinal) { profileId };
        for (var i = 0; i < found.Count; i++)
        {
            var merged = new HashSet<string>(StringComparer.Ordinal);
            for (var from = 1L; ;)
            {
                var page = await streams.ReadAsync(found[i], new EventQuery(from, 1000, [EventNames.ProfilesMerged, EventNames.ProfilesUnmerged]), ct);
                foreach (var e in page)
                {
                    if (e.Event is ProfilesMerged m) merged.Add(m.SourceProfileId);
                    else if (e.Event is ProfilesUnmerged u) merged.Remove(u.SourceProfileId);
                }
                if (page.Count < 1000) break;
                from = page[^1].Version + 1;
            }
            foreach (var source in merged.Order(StringComparer.Ordinal))
                if (seen.Add(source)) found.Add(source);
        }
        return found;
    }

    public async Task<ErasureReport> EraseAsync(string profileId, string actor, CancellationToken ct = default)
    {
        var family = await FamilyAsync(profileId, ct);
        // 0. Nothing more goes out to the person: messages waiting in the outbox are closed first.
        await store.CancelPendingAsync(family, ct);
        // 1. The grains: the stream records the erasure, memory and snapshot are emptied.
        foreach (var id in family) await grains.Visitor(id).Erase(actor);
        // 2. The events before the erasure, in place (kept for counts and replay of what happened, without the person).
        var masked = await store.MaskEventsAsync(family, ct);
        // 3. Messages: the outbox's copies of the recipient, then emails written to files.
        var outbox = await store.MaskOutboxAsync(family, ct);
        var files = DeleteEmailFiles(outbox.EmailKeys);
        // 4. The reports' copy of the address.
        await store.ForgetInReportsAsync(family, ct);
        LogErased(profileId, family.Count, masked, outbox.OutboxRowsMasked, files, actor);
        return new ErasureReport(profileId, family, masked, outbox.OutboxRowsMasked, files);
    }

    /// <summary>The .eml files of the messages (written when no SMTP server is configured), in any day's folder.</summary>
    private int DeleteEmailFiles(IReadOnlyList<string> messageKeys)
    {
        if (messageKeys.Count == 0 || !Directory.Exists(email.Folder)) return 0;
        var deleted = 0;
        var days = Directory.GetDirectories(email.Folder);
        foreach (var key in messageKeys)
        {
            var name = EmlFileTransport.FileNameFor(key);
            foreach (var day in days)
            {
                var path = Path.Combine(day, name);
                if (!File.Exists(path)) continue;
                File.Delete(path);
                deleted++;
            }
        }
        return deleted;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Erased {ProfileId} ({Profiles} profiles): {Events} events masked, {OutboxRows} outbox rows, {Files} email files (by {Actor})")]
    private partial void LogErased(string profileId, int profiles, int events, int outboxRows, int files, string actor);
}
