namespace Actors.Domain.Lifecycle;

/// <summary>The shop's definitions of "repeat" and "inactive".</summary>
public sealed record LifecycleSettings
{
    /// <summary>Orders from which a customer is a repeat customer.</summary>
    public int RepeatCustomerOrders { get; init; } = 2;

    /// <summary>Inactivity after which a known visitor is at risk.</summary>
    public TimeSpan AtRiskAfter { get; init; } = TimeSpan.FromDays(60);

    /// <summary>Inactivity after which a known visitor has lapsed.</summary>
    public TimeSpan LapsedAfter { get; init; } = TimeSpan.FromDays(120);

    /// <summary>A new instance each time: configuration binding writes into the instance it is given.</summary>
    public static LifecycleSettings Default => new();

    public void Validate()
    {
        if (RepeatCustomerOrders < 2) throw new ArgumentException("RepeatCustomerOrders must be at least 2.");
        if (AtRiskAfter <= TimeSpan.Zero) throw new ArgumentException("AtRiskAfter must be positive.");
        if (LapsedAfter <= AtRiskAfter) throw new ArgumentException("LapsedAfter must be longer than AtRiskAfter.");
    }
}
