namespace Actors.Domain.Journeys;

/// <summary>A message a journey step wants to send, before the policy has its say.</summary>
public sealed record MessageRequest(string Channel, string? Topic, string? ContentType, MessageKind Kind);

/// <summary>The shop's rules for every marketing message: a cap across channels, quiet hours, the default time zone.</summary>
public sealed record PolicySettings
{
    /// <summary>At most this many marketing messages in <see cref="CapWindow"/>, all channels together (0: no cap).</summary>
    public int MarketingCap { get; init; } = 3;
    public TimeSpan CapWindow { get; init; } = TimeSpan.FromDays(7);

    /// <summary>Quiet hours in the visitor's time zone, e.g. 21:00 to 08:00 (may wrap midnight); equal: none.</summary>
    public TimeOnly QuietFrom { get; init; } = new(21, 0);
    public TimeOnly QuietUntil { get; init; } = new(8, 0);

    /// <summary>IANA id used when the visitor's time zone is unknown or not a valid id.</summary>
    public string DefaultTimeZone { get; init; } = "UTC";

    /// <summary>A new instance each time: configuration binding writes into the instance it is given.</summary>
    public static PolicySettings Default => new();
}

public enum PolicyOutcome
{
    /// <summary>Send now.</summary>
    Send,

    /// <summary>Not to be sent; the reason says why (no consent, topic not wanted, cap reached, paused…).</summary>
    Suppress,

    /// <summary>Not now (quiet hours): send at <see cref="PolicyDecision.NotBefore"/>, when the policy is asked again.</summary>
    Defer,
}

/// <summary>The policy's answer, with a reason that is recorded in the visitor's stream (e.g. "no_consent:email:marketing").</summary>
public sealed record PolicyDecision(PolicyOutcome Outcome, string Reason, DateTimeOffset? NotBefore = null)
{
    public static PolicyDecision Send(string reason = "allowed") => new(PolicyOutcome.Send, reason);
    public static PolicyDecision Suppress(string reason) => new(PolicyOutcome.Suppress, reason);
    public static PolicyDecision Defer(DateTimeOffset notBefore, string reason) => new(PolicyOutcome.Defer, reason, notBefore);
}
