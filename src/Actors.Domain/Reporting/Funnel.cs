using Actors.Domain.Lifecycle;

namespace Actors.Domain.Reporting;

/// <summary>A visitor's stage from <see cref="At"/> on.</summary>
public sealed record StageMark(DateTimeOffset At, Stage Stage);

/// <summary>Funnel arithmetic over visitors' stage timelines.</summary>
public static class Funnel
{
    /// <summary>The stage at <paramref name="at"/> (exclusive): the last mark before it; null when the visitor was not seen yet.</summary>
    public static Stage? StageBefore(IReadOnlyList<StageMark> timeline, DateTimeOffset at)
    {
        Stage? stage = null;
        var latest = DateTimeOffset.MinValue;
        foreach (var mark in timeline)
            if (mark.At < at && mark.At >= latest) (stage, latest) = (mark.Stage, mark.At);
        return stage;
    }

    /// <summary>Visitors per stage at the end of each day of the range.</summary>
    public static IReadOnlyList<(DateOnly Day, int[] PerStage)> Days(IEnumerable<IReadOnlyList<StageMark>> timelines, DayRange range)
    {
        var days = range.Days().Select(d => (Day: d, PerStage: new int[Enum.GetValues<Stage>().Length])).ToList();
        foreach (var timeline in timelines)
            foreach (var (day, perStage) in days)
                if (StageBefore(timeline, UtcDays.EndOf(day)) is { } stage) perStage[(int)stage]++;
        return days;
    }

    /// <summary>The share of <paramref name="of"/> that <paramref name="reached"/>; 0 when nobody was there to convert.</summary>
    public static double Ratio(int reached, int of) => of == 0 ? 0 : (double)reached / of;

    /// <summary>The median, the mean of the two middle values for an even count; null for none.</summary>
    public static double? Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return null;
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}

/// <summary>Conversion along anonymous → lead → customer → repeat customer, over a cohort of visitors.</summary>
public sealed record Conversion(double AnonymousToLead, double LeadToCustomer, double CustomerToRepeat,
    double? AnonymousToLeadMedianHours, double? LeadToCustomerMedianHours);

public static class FunnelConversion
{
    /// <summary>
    /// A visitor reached lead when they ever moved to lead, customer or repeat customer (a first order may skip lead);
    /// customer when they moved to customer or repeat customer; repeat when to repeat customer. Ratios are of those who
    /// reached the step before; times are from first seen to the first lead, and from the first lead to the first order.
    /// </summary>
    public static Conversion Of(IEnumerable<(DateTimeOffset FirstSeen, IReadOnlyList<StageMark> Changes)> cohort)
    {
        int all = 0, leads = 0, customers = 0, repeats = 0;
        var toLead = new List<double>();
        var toCustomer = new List<double>();
        foreach (var (firstSeen, changes) in cohort)
        {
            all++;
            var lead = First(changes, Stage.Lead, Stage.Customer, Stage.RepeatCustomer);
            var customer = First(changes, Stage.Customer, Stage.RepeatCustomer);
            var repeat = First(changes, Stage.RepeatCustomer);
            if (lead is { } l) { leads++; toLead.Add((l - firstSeen).TotalHours); }
            if (customer is { } c)
            {
                customers++;
                if (lead is { } l2 && c > l2) toCustomer.Add((c - l2).TotalHours);
            }
            if (repeat is not null) repeats++;
        }
        return new Conversion(Funnel.Ratio(leads, all), Funnel.Ratio(customers, leads), Funnel.Ratio(repeats, customers),
            Funnel.Median(toLead), Funnel.Median(toCustomer));
    }

    private static DateTimeOffset? First(IReadOnlyList<StageMark> changes, params Stage[] stages) =>
        changes.Where(m => stages.Contains(m.Stage)).Select(m => (DateTimeOffset?)m.At).Min();
}
