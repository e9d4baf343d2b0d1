namespace Actors.Channels.Sms;

/// <summary>The SMS gateway (section "Actors:Sms"). Without a gateway URL no SMS provider exists and SMS steps fail as undeliverable.</summary>
public sealed record SmsSettings
{
    /// <summary>Where messages are POSTed (see README "Channels: web push and SMS" for the request shape).</summary>
    public string? GatewayUrl { get; init; }

    /// <summary>Sent as "Authorization: Bearer {ApiKey}" when set.</summary>
    public string? ApiKey { get; init; }

    /// <summary>How long one request may take before it counts as a transient failure.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    public bool IsConfigured => !string.IsNullOrWhiteSpace(GatewayUrl);

    public void Validate()
    {
        if (!IsConfigured) return;
        if (!Uri.TryCreate(GatewayUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http"))
            throw new InvalidOperationException("Actors:Sms:GatewayUrl must be an absolute http(s) URL.");
        if (Timeout <= TimeSpan.Zero) throw new InvalidOperationException("Actors:Sms:Timeout must be positive.");
    }
}
