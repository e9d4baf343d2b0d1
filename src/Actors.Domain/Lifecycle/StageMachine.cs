using Actors.Domain.Profiles;
using Actors.Domain.Tracking;

namespace Actors.Domain.Lifecycle;

/// <summary>
/// Decides the lifecycle stage from what the profile knows. It only proposes a <see cref="StageChanged"/> event;
/// the profile changes when that event is applied, so the stream explains every stage a visitor ever had.
/// </summary>
public static class StageMachine
{
    /// <summary>The stage the profile should be in at <paramref name="now"/>, and why; null when it already is.</summary>
    public static StageChanged? Decide(VisitorProfile profile, DateTimeOffset now, LifecycleSettings settings, string causeMessageId)
    {
        var (engaged, leadKind, reason) = EngagedStage(profile, settings);
        var target = engaged;
        if (engaged != Stage.Anonymous && profile.LastActivity is { } last)
        {
            var idle = now - last;
            if (idle >= settings.LapsedAfter) (target, reason) = (Stage.Lapsed, $"inactive_for_{Describe(settings.LapsedAfter)}");
            else if (idle >= settings.AtRiskAfter) (target, reason) = (Stage.AtRisk, $"inactive_for_{Describe(settings.AtRiskAfter)}");
        }

        if (target == profile.Stage && leadKind == profile.LeadKind) return null;

        // Time only ever moves a visitor towards lapsed; coming back takes something the visitor did since.
        if (Inactivity(target) < Inactivity(profile.Stage) && !profile.ActiveSinceStageChange) return null;

        // Coming back from at-risk or lapsed is worth naming: win-back journeys and reports count it.
        if (profile.Stage is Stage.AtRisk or Stage.Lapsed && target == engaged)
            reason = $"returned_from_{profile.Stage.ToWire()}";

        return new StageChanged(profile.Stage, target, leadKind, reason)
        {
            MessageId = $"{causeMessageId}:stage",
            EventTime = now,
            ReceivedTime = now,
        };
    }

    /// <summary>When the inactivity rules could next move this profile, or null if they never can.</summary>
    public static DateTimeOffset? NextInactivityCheck(VisitorProfile profile, LifecycleSettings settings)
    {
        if (profile.MergedIntoProfileId is not null || profile.LastActivity is not { } last) return null;
        return profile.Stage switch
        {
            Stage.Anonymous or Stage.Lapsed => null,
            // Saturating: a stream may hold an event dated 9999-12-31 (stored before the edge bounded times).
            Stage.AtRisk => SafeTime.Add(last, settings.LapsedAfter),
            _ => SafeTime.Add(last, settings.AtRiskAfter),
        };
    }

    private static (Stage Stage, LeadKind? LeadKind, string Reason) EngagedStage(VisitorProfile profile, LifecycleSettings settings)
    {
        LeadKind? kind = profile.HasAccount ? LeadKind.Account : profile.IsNewsletterSubscriber ? LeadKind.Newsletter : null;
        if (profile.Orders.Count >= settings.RepeatCustomerOrders) return (Stage.RepeatCustomer, kind, $"orders_reached_{settings.RepeatCustomerOrders}");
        if (profile.Orders.Count >= 1) return (Stage.Customer, kind, "first_order");
        if (kind == LeadKind.Account) return (Stage.Lead, kind, "account_registered");
        if (kind == LeadKind.Newsletter) return (Stage.Lead, kind, "newsletter_signup");
        // An unsubscribed newsletter lead stays a lead: we still know who they are.
        if (profile.Stage != Stage.Anonymous && profile.NewsletterChangedAt is not null) return (Stage.Lead, profile.LeadKind, "newsletter_unsubscribed");
        return (Stage.Anonymous, null, "anonymous");
    }

    private static int Inactivity(Stage stage) => stage switch { Stage.Lapsed => 2, Stage.AtRisk => 1, _ => 0 };

    private static string Describe(TimeSpan span) =>
        span.TotalDays >= 1 && span.TotalDays == Math.Floor(span.TotalDays) ? $"{span.TotalDays:0}d" : $"{span.TotalSeconds:0}s";
}
