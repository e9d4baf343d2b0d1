using Actors.Domain.Channels;
using Actors.Domain.Tracking;

namespace Actors.Grains.Visitors;

/// <summary>The on-site channel: answered from the profile in memory and this silo's popularity snapshot.</summary>
public sealed partial class VisitorGrain
{
    public async Task<Immutable<OnSiteAnswer>> Decide(string placement, int limit)
    {
        await EnsureLoadedAsync();
        if (_profile.ForwardTo is { } target)
            return await GrainFactory.Visitor(target).Decide(placement, limit);
        return OnSiteDecisions.Decide(_profile, placement, limit, clock.GetUtcNow(), popularity.Current, settings.OnSite).AsImmutable();
    }

    public async Task<string> RecordOnSite(string messageKey, bool dismissed)
    {
        await EnsureLoadedAsync();
        if (_profile.ForwardTo is { } target)
            return await GrainFactory.Visitor(target).RecordOnSite(messageKey, dismissed);

        // The message id makes a repeat a duplicate; the profile's own state answers beyond the remembered ids.
        var messageId = $"{messageKey}:{(dismissed ? "dismissed" : "opened")}";
        if (_profile.HasSeen(messageId)) return "already";
        var message = _profile.OnSiteMessages.FirstOrDefault(m => m.MessageKey == messageKey);
        if (message is null) return "unknown";
        if (!dismissed && message.Shown) return "already";

        var now = clock.GetUtcNow();
        VisitorEvent e = dismissed
            ? new MessageDismissed(messageKey, OnSiteDecisions.Channel) { MessageId = messageId, EventTime = now, ReceivedTime = now, JourneyId = message.JourneyId }
            : new MessageOpened(messageKey, OnSiteDecisions.Channel) { MessageId = messageId, EventTime = now, ReceivedTime = now, JourneyId = message.JourneyId };
        // Through the intake like any behaviour: journeys and segments may react to an opened or dismissed message.
        await AppendWithRetryAsync(() => Intake.Handle(_profile, [e], now, settings.Lifecycle, segments.Context).ToAppend);
        await AfterChangeAsync();
        return "recorded";
    }
}
