namespace Actors.Domain.Lifecycle;

/// <summary>Where a visitor stands with the shop. Wire names are snake_case (see <see cref="StageNames"/>).</summary>
public enum Stage { Anonymous, Lead, Customer, RepeatCustomer, AtRisk, Lapsed }

/// <summary>Leads differ: a newsletter-only lead has given an address, an account holder has registered.</summary>
public enum LeadKind { Newsletter, Account }

public static class StageNames
{
    public static string ToWire(this Stage stage) => stage switch
    {
        Stage.Anonymous => "anonymous",
        Stage.Lead => "lead",
        Stage.Customer => "customer",
        Stage.RepeatCustomer => "repeat_customer",
        Stage.AtRisk => "at_risk",
        Stage.Lapsed => "lapsed",
        _ => throw new ArgumentOutOfRangeException(nameof(stage), stage, null),
    };

    public static string? ToWire(this LeadKind? kind) => kind switch
    {
        LeadKind.Newsletter => "newsletter",
        LeadKind.Account => "account",
        _ => null,
    };
}
