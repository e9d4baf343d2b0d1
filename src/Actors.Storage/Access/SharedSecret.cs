using System.Text;

namespace Actors.Storage.Access;

/// <summary>
/// A secret every node of the installation uses alike (to sign links, tokens, webhooks): the configured value when one
/// is set, else one made once and kept in PostgreSQL (<see cref="InstallationSecrets"/>). Read once per node; a failed
/// read (the database away) is not remembered, so the next use tries again.
/// </summary>
public sealed class SharedSecret(InstallationSecrets secrets, string secretId, string? configured, string configurationKey, int minimumLength = 32)
{
    private Task<string>? _text;

    public async Task<byte[]> BytesAsync(CancellationToken ct = default) => Encoding.UTF8.GetBytes(await TextAsync(ct));

    public Task<string> TextAsync(CancellationToken ct = default) => _text ??= LoadAsync(ct);

    private async Task<string> LoadAsync(CancellationToken ct)
    {
        if (configured is { Length: > 0 })
        {
            if (configured.Length < minimumLength) throw new InvalidOperationException($"{configurationKey} must be at least {minimumLength} characters.");
            return configured;
        }
        try
        {
            return await secrets.GetOrCreateAsync(secretId, ct);
        }
        catch
        {
            _text = null; // a database hiccup must not stick
            throw;
        }
    }
}
