using System.Diagnostics;
using System.Text;

namespace Actors.Integration.Tests.Support;

/// <summary>
/// The real host as a separate process (the built <c>src/Actors.Silo</c>), for tests that kill it the way a crash or
/// an OOM killer would: SIGKILL, no shutdown hooks, no graceful deactivation.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    public Uri BaseAddress { get; }

    /// <summary>What the process wrote (stdout and stderr), for failure messages.</summary>
    public string Output { get { lock (_output) return _output.ToString(); } }

    private SiloProcess(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
    }

    /// <summary>The host's entry assembly, built next to this test assembly's configuration (Debug or Release).</summary>
    public static string SiloAssembly()
    {
        var here = AppContext.BaseDirectory; // …/tests/Actors.Integration.Tests/bin/{Configuration}/net10.0/
        var dir = new DirectoryInfo(here);
        var framework = dir.Name;
        var configuration = dir.Parent!.Name;
        var root = dir;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Actors.sln"))) root = root.Parent;
        if (root is null) throw new InvalidOperationException("Actors.sln not found above " + here);
        var path = Path.Combine(root.FullName, "src", "Actors.Silo", "bin", configuration, framework, "Actors.Silo.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException("Build the solution first (dotnet build Actors.sln): the host is run from its own output.", path);
    }

    public static async Task<SiloProcess> StartAsync(IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        var port = FreePorts.Next();
        var address = new Uri($"http://127.0.0.1:{port}");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(SiloAssembly())!,
        };
        start.ArgumentList.Add(SiloAssembly());
        start.ArgumentList.Add($"--urls={address}");
        start.ArgumentList.Add($"--Actors:Silo:SiloPort={FreePorts.Next()}");
        start.ArgumentList.Add($"--Actors:Silo:GatewayPort={FreePorts.Next()}");
        // Several of these share one database: none runs the reporting daemon (Solo: one node only) unless told to.
        start.ArgumentList.Add("--Actors:EventStore:RunProjections=false");
        foreach (var a in arguments) start.ArgumentList.Add(a);
        start.Environment.Remove("ASPNETCORE_ENVIRONMENT");
        start.Environment.Remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        var process = Process.Start(start) ?? throw new InvalidOperationException("the host did not start");
        var silo = new SiloProcess(process, address);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (silo._output) silo._output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (silo._output) silo._output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var probe = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(90));
        while (true)
        {
            if (process.HasExited) throw new InvalidOperationException($"the host exited with {process.ExitCode}:\n{silo.Output}");
            try
            {
                if ((await probe.GetAsync("/health")).IsSuccessStatusCode) return silo;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            if (DateTime.UtcNow > deadline)
            {
                await silo.DisposeAsync();
                throw new TimeoutException($"the host did not become healthy:\n{silo.Output}");
            }
            await Task.Delay(250);
        }
    }

    /// <summary>A host command (backup, restore, keys…) run to its end: exit code and what it wrote.</summary>
    public static async Task<(int ExitCode, string Output)> RunCommandAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(SiloAssembly())!,
        };
        start.ArgumentList.Add(SiloAssembly());
        foreach (var a in arguments) start.ArgumentList.Add(a);
        start.Environment.Remove("ASPNETCORE_ENVIRONMENT");
        using var process = Process.Start(start) ?? throw new InvalidOperationException("the command did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>Arguments that give a child host the same bootstrap keys as HostFixture, and no rate limit in the way.</summary>
    public static string[] KeyArguments() =>
    [
        $"--ACTORS_BOOTSTRAP_ADMIN_KEY={HostFixture.AdminKey}", $"--ACTORS_BOOTSTRAP_MARKETING_KEY={HostFixture.MarketingKey}",
        $"--ACTORS_BOOTSTRAP_INGEST_KEY={HostFixture.IngestKey}", "--Actors:Api:RequestsPerSecondPerKey=100000",
    ];

    /// <summary>A client of this host with one of the keys.</summary>
    public HttpClient Client(string key)
    {
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <summary>SIGKILL: the process ends at once, mid-whatever it was doing.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        await Task.CompletedTask;
        _process.Dispose();
    }
}
