using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Actors.Grains.Hosting;

/// <summary>The product's own counters, on the "Actors" meter.</summary>
public sealed class ActorsMetrics
{
    public const string MeterName = "Actors";
    private readonly Counter<long> _eventsStored;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _stageChanges;
    private readonly Counter<long> _merges;
    private readonly Counter<long> _unavailable;
    private readonly Counter<long> _postgresRestarts;
    private readonly Histogram<double> _providerTime;
    private readonly Histogram<double> _decisionToProvider;

    public ActorsMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _eventsStored = meter.CreateCounter<long>("actors.events.stored", "{event}", "Events appended to visitor streams, derived ones included");
        _duplicates = meter.CreateCounter<long>("actors.events.duplicates", "{event}", "Incoming events recognised as retries and not stored again");
        _stageChanges = meter.CreateCounter<long>("actors.stage.changes", "{change}", "Lifecycle stage changes");
        _merges = meter.CreateCounter<long>("actors.profiles.merged", "{merge}", "Profiles merged into another by identity stitching");
        _unavailable = meter.CreateCounter<long>("actors.requests.unavailable", "{request}", "Requests answered 503 because the database was away or the append queue full");
        _postgresRestarts = meter.CreateCounter<long>("actors.postgres.restarts", "{restart}", "Times the host found its embedded PostgreSQL dead and started it again");
        _providerTime = meter.CreateHistogram<double>("actors.messages.provider.duration", "ms", "Time a channel provider took to answer one message");
        _decisionToProvider = meter.CreateHistogram<double>("actors.messages.decision_to_provider", "ms", "From a message's decision to its provider's answer");
    }

    public void EventsStored(int count) => _eventsStored.Add(count);
    public void Duplicates(int count) { if (count > 0) _duplicates.Add(count); }
    public void StageChanged(string to) => _stageChanges.Add(1, new KeyValuePair<string, object?>("stage", to));
    public void Merged() => _merges.Add(1);
    public void MessageDelivery(string channel, string status, double providerMs, double sinceDecisionMs)
    {
        var tags = new TagList { { "channel", channel }, { "status", status } };
        _providerTime.Record(providerMs, tags);
        _decisionToProvider.Record(sinceDecisionMs, tags);
    }

    public void EmbeddedPostgresRestarted() => _postgresRestarts.Add(1);

    public void Unavailable(string reason) => _unavailable.Add(1, new KeyValuePair<string, object?>("reason", reason));
}
