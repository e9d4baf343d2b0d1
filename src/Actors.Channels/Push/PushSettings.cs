namespace Actors.Channels.Push;

/// <summary>Web push (section "Actors:Push").</summary>
public sealed record PushSettings
{
    /// <summary>The contact push services may use about our traffic: "mailto:…" or "https:…" (the VAPID "sub"; Apple requires it).</summary>
    public string? Subject { get; init; }

    /// <summary>The VAPID key pair, base64url as web-push tools print them. Unset: one derived from a secret kept in PostgreSQL.</summary>
    public string? VapidPublicKey { get; init; }

    public string? VapidPrivateKey { get; init; }

    /// <summary>How long a push service keeps a message for a browser that is offline (the TTL header): 4 weeks.</summary>
    public int TtlSeconds { get; init; } = 4 * 7 * 24 * 3600;

    /// <summary>
    /// Allow http endpoints and private or loopback addresses. Only for tests and closed networks: a subscription's
    /// endpoint comes from a browser, so anyone with the ingest key could otherwise make us POST into our own network.
    /// </summary>
    public bool AllowInsecureEndpoints { get; init; }

    /// <summary>How long one request to a push service may take before it counts as a transient failure.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    public void Validate()
    {
        if (Subject is { Length: > 0 } subject
            && !subject.StartsWith("mailto:", StringComparison.Ordinal) && !subject.StartsWith("https:", StringComparison.Ordinal))
            throw new InvalidOperationException("Actors:Push:Subject must be a mailto: or https: URI.");
        if (string.IsNullOrWhiteSpace(VapidPublicKey) != string.IsNullOrWhiteSpace(VapidPrivateKey))
            throw new InvalidOperationException("Actors:Push:VapidPublicKey and VapidPrivateKey go together: set both or neither.");
        if (!string.IsNullOrWhiteSpace(VapidPublicKey)) _ = VapidKeyPair.FromBase64Url(VapidPublicKey, VapidPrivateKey!);
        if (TtlSeconds < 0) throw new InvalidOperationException("Actors:Push:TtlSeconds must not be negative.");
        if (Timeout <= TimeSpan.Zero) throw new InvalidOperationException("Actors:Push:Timeout must be positive.");
    }
}
