using Actors.Api.Replay;
using Actors.Grains.Hosting;
using Actors.Silo.Hosting;
using Actors.Storage.Access;
using Actors.Storage.Reporting;
using Marten;
using Actors.Storage.Streams;

namespace Actors.Silo.Commands;

/// <summary>
/// Command-line entries on the host's configuration and database, without starting a silo:
///   replay &lt;profileId&gt; [--version N]     the events and the profile as the replay API shows them
///   keys create --scope ingest|marketing|admin [--name NAME] [--origin ORIGIN]... [--expires 30d|12h|2027-01-31]
///   keys origins &lt;id&gt; [ORIGIN]...           the web origins whose pages may use the key (none: browsers refused)
///   keys revoke &lt;id&gt;
///   keys list
///   reports rebuild                     every reporting projection from the event log, with progress (host stopped,
///                                       or use POST /v1/reports/rebuild on the node that runs them)
/// When the host is running, they use its embedded server; otherwise they start it for the command.
/// </summary>
public static class AdminCommands
{
    public static bool IsCommand(string[] args) => args.Length > 0 && args[0] is "replay" or "keys" or "reports";

    public static async Task<int> RunAsync(string[] args)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            // Configuration overrides come as --Key=Value; the command's own options (--scope ingest) are not configuration.
            Args = [.. args.Where(a => a.StartsWith("--", StringComparison.Ordinal) && a.Contains('='))],
            ContentRootPath = AppContext.BaseDirectory,
        });
        // A command prints its answer; the host's chatter would bury it.
        builder.Configuration["Logging:LogLevel:Default"] = "Warning";
        builder.Configuration["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Warning";
        await using var postgres = await builder.AddActorsDatabaseAsync(ownAdoptedServer: false);
        var settings = builder.Configuration.GetSection("Actors").Get<ActorsSettings>() ?? new ActorsSettings();
        builder.Services.AddSingleton(TimeProvider.System);
        // A command never runs the reporting daemon in the background: "reports rebuild" drives its own.
        builder.Services.AddActorsEventStore(builder.Configuration.GetConnectionString(DatabaseSetup.ConnectionStringName)!,
            settings.EventStoreForHost with { RunProjections = false });
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            return args[0] switch
            {
                "replay" => await ReplayAsync(args, host.Services),
                "reports" => await ReportsAsync(args, host.Services),
                _ => await KeysAsync(args, host.Services),
            };
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync(e.Message);
            return 2;
        }
        finally
        {
            await host.StopAsync();
        }
    }

    private static async Task<int> ReplayAsync(string[] args, IServiceProvider services)
    {
        var profileId = args.Length > 1 && !args[1].StartsWith("--", StringComparison.Ordinal)
            ? args[1] : throw new ArgumentException("usage: replay <profileId> [--version N]");
        long? version = Option(args, "--version") is { } v ? long.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : null;
        Console.WriteLine(await ReplayApi.DescribeAsync(profileId, version, services.GetRequiredService<ProfileHistory>(), services.GetRequiredService<IVisitorStreams>()));
        return 0;
    }

    private static async Task<int> ReportsAsync(string[] args, IServiceProvider services)
    {
        if (args.Length < 2 || args[1] != "rebuild") throw new ArgumentException("usage: reports rebuild");
        var store = services.GetRequiredService<IDocumentStore>();
        using var daemon = await store.BuildProjectionDaemonAsync();
        var started = DateTime.UtcNow;
        await ReportProjections.RebuildAsync(store, daemon,
            (name, position, high) => Console.WriteLine($"{name}: {position} of {high} events ({(high <= 0 ? 100 : 100.0 * position / high):0}%)"),
            TimeSpan.FromHours(2), name => Console.WriteLine($"{name}: rebuilding"), CancellationToken.None);
        Console.WriteLine($"rebuilt {ReportProjections.Names.Count} projections in {(DateTime.UtcNow - started).TotalSeconds:0.0} s");
        return 0;
    }

    private static async Task<int> KeysAsync(string[] args, IServiceProvider services)
    {
        var keys = services.GetRequiredService<ApiKeyStore>();
        switch (args.ElementAtOrDefault(1))
        {
            case "create":
                var scope = Enum.TryParse<ApiScope>(Option(args, "--scope"), ignoreCase: true, out var s)
                    ? s : throw new ArgumentException("usage: keys create --scope ingest|marketing|admin [--name NAME] [--origin ORIGIN]...");
                var origins = Options(args, "--origin");
                if (origins.Count > 0 && scope != ApiScope.Ingest)
                    throw new ArgumentException("Only ingest keys may be used from a browser: --origin needs --scope ingest.");
                var expiresAt = ExpiryFrom(Option(args, "--expires"), DateTimeOffset.UtcNow);
                var created = await keys.CreateAsync(Option(args, "--name") ?? scope.ToString().ToLowerInvariant(), scope, origins, expiresAt: expiresAt);
                Console.WriteLine($"id:    {created.Id}\nscope: {created.Scope.ToString().ToLowerInvariant()}\nkey:   {created.Key}\n(the key is shown only now; only its hash is stored)");
                if (created.ExpiresAt is { } until) Console.WriteLine($"expires: {until:u}");
                if (origins.Count > 0) Console.WriteLine($"browser origins: {string.Join(' ', BrowserOrigins.NormalizeAll(origins))}");
                return 0;
            case "origins":
                var keyId = args.ElementAtOrDefault(2) is { } a && !a.StartsWith("--", StringComparison.Ordinal)
                    ? a : throw new ArgumentException("usage: keys origins <id> [ORIGIN]... (no origin: browsers refused)");
                var wanted = args.Skip(3).Where(o => !o.StartsWith("--", StringComparison.Ordinal)).ToList();
                var target = (await keys.ListAsync()).FirstOrDefault(k => k.Id == keyId);
                if (target is null) { await Console.Error.WriteLineAsync($"no key with id {keyId}"); return 1; }
                if (wanted.Count > 0 && target.Scope != ApiScope.Ingest)
                    throw new ArgumentException("Only ingest keys may be used from a browser.");
                await keys.SetAllowedOriginsAsync(keyId, wanted);
                Console.WriteLine(wanted.Count == 0 ? $"{keyId}: no browser origins" : $"{keyId}: {string.Join(' ', BrowserOrigins.NormalizeAll(wanted))}");
                return 0;
            case "revoke":
                var id = args.ElementAtOrDefault(2) ?? throw new ArgumentException("usage: keys revoke <id>");
                if (await keys.RevokeAsync(id)) { Console.WriteLine($"revoked {id}"); return 0; }
                await Console.Error.WriteLineAsync($"no key with id {id}");
                return 1;
            case "list":
                foreach (var k in await keys.ListAsync())
                    Console.WriteLine($"{k.Id}  {k.Scope.ToString().ToLowerInvariant(),-9}  {k.Name,-24}  created {k.CreatedAt:u}{(k.RevokedAt is { } r ? $"  revoked {r:u}" : "")}{(k.ExpiresAt is { } e ? $"  {(e <= DateTimeOffset.UtcNow ? "expired" : "expires")} {e:u}" : "")}{(k.AllowedOrigins is { Count: > 0 } o ? $"  origins {string.Join(' ', o)}" : "")}");
                return 0;
            default:
                throw new ArgumentException("usage: keys create|origins|revoke|list");
        }
    }

    /// <summary>
    /// When a key made now with "--expires" stops working: a span ("30d", "12h", "90m") from <paramref name="now"/>, or
    /// a date or time ("2027-01-31", "2027-01-31T12:00:00Z", UTC unless it says otherwise); null without the option.
    /// </summary>
    public static DateTimeOffset? ExpiryFrom(string? value, DateTimeOffset now)
    {
        if (value is null) return null;
        const string usage = "--expires takes a span such as 30d, 12h or 90m, or a date such as 2027-01-31";
        if (value.Length > 1 && char.ToLowerInvariant(value[^1]) is 'd' or 'h' or 'm'
            && int.TryParse(value.AsSpan(0, value.Length - 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var amount)
            && amount is > 0 and <= 36_500 * 24 * 60)
        {
            var span = char.ToLowerInvariant(value[^1]) switch { 'd' => TimeSpan.FromDays(amount), 'h' => TimeSpan.FromHours(amount), _ => TimeSpan.FromMinutes(amount) };
            return span <= TimeSpan.FromDays(36_500) ? now + span : throw new ArgumentException(usage);
        }
        if (DateTimeOffset.TryParse(value, System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AssumeUniversal | System.Globalization.DateTimeStyles.AdjustToUniversal, out var at))
            return at > now ? at : throw new ArgumentException("--expires must be in the future.");
        throw new ArgumentException(usage);
    }

    /// <summary>Every value of a repeatable option (--origin a --origin b).</summary>
    private static List<string> Options(string[] args, string name) =>
        [.. args.Select((a, i) => (a, i)).Where(p => p.a == name && p.i + 1 < args.Length).Select(p => args[p.i + 1])];

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
