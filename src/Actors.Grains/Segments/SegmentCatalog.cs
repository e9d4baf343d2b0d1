using System.Text.Json;
using Actors.Domain.Journeys;
using Actors.Domain.Segments;
using Actors.Domain.Tracking;
using Actors.Storage.Journeys;
using Actors.Storage.Segments;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Actors.Grains.Segments;

/// <summary>How often the silo looks for changed segments and journeys and recomputes RFM quantiles.</summary>
public sealed record SegmentSettings
{
    public TimeSpan RefreshEvery { get; init; } = TimeSpan.FromSeconds(2);
    public TimeSpan RfmEvery { get; init; } = TimeSpan.FromMinutes(10);
    public TimeSpan SizeEvery { get; init; } = TimeSpan.FromHours(1);
    public int BackfillParallelism { get; init; } = 16;

    /// <summary>How soon a visitor whose wait ended in a paused journey looks again (resuming moves them on within this).</summary>
    public TimeSpan JourneyRecheckEvery { get; init; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// This silo's copy of the active segment rules, the RFM quantiles and the published journeys (every version of each,
/// since visitors stay on the version they entered) with the shop's message policy, read by every visitor grain on
/// every event (in memory, no call). It is refreshed from PostgreSQL every few seconds, and at once on the node that
/// saved a change; its version (the highest segment revision, a database sequence: never a node's clock) lets a
/// backfill insist that a grain sees at least the rule it is applying.
/// </summary>
/// <param name="journeys">Where journeys are stored; none: the grains run no journeys.</param>
/// <param name="policy">The message policy (configuration "Actors:Messages"); none: the defaults.</param>
public sealed partial class SegmentCatalog(SegmentStore store, SegmentSettings settings, TimeProvider clock, ILogger<SegmentCatalog> logger,
    JourneyStore? journeys = null, PolicySettings? policy = null, Hosting.OutageLog? outage = null)
    : BackgroundService
{
    private readonly PolicySettings _policy = policy ?? PolicySettings.Default;

    private volatile CatalogSnapshot _current = new(0, SegmentContext.None);
    private string _seen = ""; // every segment's id and revision as last read: any change to it is a change
    private readonly SemaphoreSlim _refreshing = new(1, 1);
    private DateTimeOffset _rfmComputedAt = DateTimeOffset.MinValue;
    private DateTimeOffset _sizesRecordedAt = DateTimeOffset.MinValue;

    public sealed record CatalogSnapshot(long Version, SegmentContext Context);

    public CatalogSnapshot Current => _current;

    public SegmentContext Context => _current.Context;

    /// <summary>Makes sure this silo has seen every change up to <paramref name="version"/>.</summary>
    public async ValueTask EnsureAtLeastAsync(long version)
    {
        if (_current.Version >= version) return;
        await RefreshAsync(CancellationToken.None);
    }

    public async Task RefreshAsync(CancellationToken ct)
    {
        await _refreshing.WaitAsync(ct);
        try
        {
            var documents = await store.ListAsync(includeArchived: true, ct);
            var version = documents.Count == 0 ? 0 : documents.Max(d => d.Revision);
            var journeyDocuments = journeys is null ? [] : await journeys.ListAsync(ct);
            var seen = string.Join(',', documents.Select(d => $"{d.Id}:{d.Revision}"))
                + "|" + string.Join(',', journeyDocuments.Select(j => $"{j.Id}:{j.Revision}"));
            var rfm = _current.Context.Rfm;
            var now = clock.GetUtcNow();
            if (now - _rfmComputedAt >= settings.RfmEvery)
            {
                var customers = await store.CustomerValuesAsync(ct);
                rfm = customers.Count == 0 ? null
                    : Rfm.Thresholds(customers.Select(c => ((now - (c.LastOrderAt ?? now)).TotalDays, c.Orders, c.Total)), now);
                // With no customers yet, look again at the next refresh rather than after a whole period.
                if (customers.Count > 0) _rfmComputedAt = now;
            }
            if (seen == _seen && ReferenceEquals(rfm, _current.Context.Rfm)) return;

            var active = new List<SegmentDefinition>();
            foreach (var d in documents.Where(d => !d.Archived))
            {
                using var json = JsonDocument.Parse(d.RuleJson);
                var parsed = SegmentRule.Parse(json.RootElement);
                if (parsed.IsValid) active.Add(new SegmentDefinition(d.Id, d.Name, d.Version, parsed.Rule!));
                else LogUnreadableRule(d.Id, d.Version);
            }
            _current = new CatalogSnapshot(Math.Max(version, _current.Version), new SegmentContext(active, rfm)
            {
                Journeys = new JourneyContext(ReadJourneys(journeyDocuments), _policy) 
                {
                    // Never zero: a paused journey's visitors would be woken again at once, forever.
                    RecheckEvery = settings.JourneyRecheckEvery > TimeSpan.FromSeconds(1) ? settings.JourneyRecheckEvery : TimeSpan.FromSeconds(1),
                },
            });
            _seen = seen;
        }
        finally
        {
            _refreshing.Release();
        }
    }

    /// <summary>
    /// Every journey that was ever published (drafts are the marketer's alone), with all its versions and its status:
    /// paused and archived ones still tell the runner where their visitors are.
    /// </summary>
    private List<ActiveJourney> ReadJourneys(IReadOnlyList<JourneyDocument> documents)
    {
        var result = new List<ActiveJourney>();
        foreach (var d in documents.Where(d => d.Status != JourneyStatus.Draft))
        {
            var versions = new Dictionary<int, JourneyDefinition>();
            foreach (var v in d.Versions)
            {
                using var json = JsonDocument.Parse(v.Json);
                var parsed = JourneyDefinition.Parse(json.RootElement, d.Id, v.Version);
                if (parsed.IsValid) versions[v.Version] = parsed.Journey!;
                else LogUnreadableJourney(d.Id, v.Version);
            }
            if (versions.TryGetValue(d.Version, out var latest)) result.Add(new ActiveJourney(latest, d.Status, versions) { MoveInside = d.MoveInsideToCurrent });
        }
        return result;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RefreshAsync(stoppingToken);
                await RecordSizesAsync(stoppingToken);
                outage?.Succeeded("segment catalogue");
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A database outage is said once for all background loops; anything else with its trace.
                if (outage is not null) outage.Failed("segment catalogue", e);
                else LogRefreshFailed(e);
            }
            try { await Task.Delay(settings.RefreshEvery, clock, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>
    /// Sizes over time: each active segment's member count, once per period. Every node may do it; the period's start
    /// is in the record's id, so they overwrite one another instead of counting twice.
    /// </summary>
    private async Task RecordSizesAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        if (now - _sizesRecordedAt < settings.SizeEvery) return;
        var period = new DateTimeOffset(now.UtcTicks - now.UtcTicks % settings.SizeEvery.Ticks, TimeSpan.Zero);
        foreach (var segment in _current.Context.Active)
            await store.RecordSizeAsync(segment.Id, period, ct);
        _sizesRecordedAt = now;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Segment {SegmentId} version {Version} has a rule this node cannot read; it is left out")]
    private partial void LogUnreadableRule(string segmentId, int version);

    [LoggerMessage(Level = LogLevel.Error, Message = "Journey {JourneyId} version {Version} cannot be read by this node; it is left out")]
    private partial void LogUnreadableJourney(string journeyId, int version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refreshing the segment catalogue failed; keeping the previous one")]
    private partial void LogRefreshFailed(Exception e);
}
