using System.Globalization;
using MailKit.Security;
using Microsoft.Extensions.Configuration;

namespace Actors.Channels.Email;

/// <summary>
/// The email channel's configuration (section Actors:Email). Read by hand rather than bound, so a typo in a number
/// fails at startup with the key's name.
/// </summary>
public sealed record EmailSettings
{
    public const string Section = "Actors:Email";
    public const string DefaultFrom = "Shop <shop@localhost>";

    /// <summary>The sender: "Name &lt;address&gt;" or a bare address.</summary>
    public string From { get; init; } = DefaultFrom;

    /// <summary>The SMTP server; null means no server: each email is written as an .eml file under <see cref="Folder"/>.</summary>
    public string? SmtpHost { get; init; }

    /// <summary>25 (or 587 for submission); 465 means TLS from the first byte.</summary>
    public int SmtpPort { get; init; } = 25;

    public string? SmtpUser { get; init; }
    public string? SmtpPassword { get; init; }

    /// <summary>null: TLS when the server offers it; true: TLS required; false: never (a loopback relay).</summary>
    public bool? UseTls { get; init; }

    /// <summary>Connections kept open to the server: MailKit's client is one connection and serves one send at a time.</summary>
    public int Connections { get; init; } = 4;

    /// <summary>How long one SMTP operation (connect, a command, the data) may take before it counts as a transient failure.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Where .eml files go when no SMTP server is configured (the host sets {data folder}/mail).</summary>
    public string Folder { get; init; } = Path.Combine(AppContext.BaseDirectory, ".data", "mail");

    /// <summary>
    /// How <see cref="UseTls"/> maps onto MailKit: required TLS is SslOnConnect on port 465 (implicit TLS, RFC 8314) and
    /// STARTTLS elsewhere; unset is MailKit's Auto (465: SslOnConnect, else STARTTLS when the server offers it); false is None.
    /// </summary>
    public SecureSocketOptions SocketOptions => UseTls switch
    {
        true => SmtpPort == 465 ? SecureSocketOptions.SslOnConnect : SecureSocketOptions.StartTls,
        false => SecureSocketOptions.None,
        null => SecureSocketOptions.Auto,
    };

    public static EmailSettings Read(IConfiguration configuration)
    {
        var section = configuration.GetSection(Section);
        var smtp = section.GetSection("Smtp");
        var defaults = new EmailSettings();
        return new EmailSettings
        {
            From = section["From"] is { Length: > 0 } from ? from : DefaultFrom,
            SmtpHost = smtp["Host"] is { Length: > 0 } host ? host : null,
            SmtpPort = Int(smtp, "Port", defaults.SmtpPort, 1, 65_535),
            SmtpUser = smtp["User"] is { Length: > 0 } user ? user : null,
            SmtpPassword = smtp["Password"],
            UseTls = smtp["UseTls"] is { Length: > 0 } tls
                ? bool.TryParse(tls, out var b) ? b : throw Invalid(smtp, "UseTls", tls, "true or false")
                : null,
            Connections = Int(smtp, "Connections", defaults.Connections, 1, 256),
            Timeout = TimeSpan.FromSeconds(Int(smtp, "TimeoutSeconds", (int)defaults.Timeout.TotalSeconds, 1, 3_600)),
            Folder = section["Folder"] is { Length: > 0 } folder ? Path.GetFullPath(folder) : defaults.Folder,
        };
    }

    private static int Int(IConfigurationSection section, string key, int fallback, int min, int max)
    {
        if (section[key] is not { Length: > 0 } text) return fallback;
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw Invalid(section, key, text, $"a whole number from {min} to {max}");
    }

    private static InvalidOperationException Invalid(IConfigurationSection section, string key, string value, string expected) =>
        new($"{section.Path}:{key} is '{value}'; it must be {expected}.");
}
