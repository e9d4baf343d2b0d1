using Actors.Storage.Access;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Actors.Api.Access;

/// <summary>
/// ACTORS_BOOTSTRAP_{ADMIN,MARKETING,INGEST}_KEY, when set, are made sure to exist as keys at startup, unless they were
/// revoked (a revocation outlives restarts). A key shorter than 20 characters stops the host with a clear error.
/// </summary>
public sealed partial class BootstrapKeys(ApiKeyStore keys, IConfiguration configuration, ILogger<BootstrapKeys> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken ct)
    {
        foreach (var (variable, scope) in new[]
                 {
                     ("ACTORS_BOOTSTRAP_ADMIN_KEY", ApiScope.Admin),
                     ("ACTORS_BOOTSTRAP_MARKETING_KEY", ApiScope.Marketing),
                     ("ACTORS_BOOTSTRAP_INGEST_KEY", ApiScope.Ingest),
                 })
        {
            if (configuration[variable] is not { Length: > 0 } key) continue;
            var outcome = await keys.EnsureAsync(key, $"bootstrap-{scope.ToString().ToLowerInvariant()}", scope, ct);
            if (outcome == EnsureOutcome.Revoked) LogRevoked(variable);
            else LogEnsured(variable, scope);
        }
    }

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "API key from {Variable} is active with scope {Scope}")]
    private partial void LogEnsured(string variable, ApiScope scope);

    [LoggerMessage(Level = LogLevel.Warning, Message = "API key from {Variable} was revoked and stays revoked; set a new key there or unset it")]
    private partial void LogRevoked(string variable);
}
