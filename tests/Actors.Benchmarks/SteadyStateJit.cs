using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Actors.Benchmarks;

/// <summary>
/// Runs the benchmark on fully optimised code from the first call. Host and harness share this process: with the
/// runtime's default tiered compilation, every method starts unoptimised and is compiled two or three more times as
/// it gets hot (instrumented, then optimised with the profile). The host's code is large (Orleans, Marten, Npgsql,
/// ASP.NET Core, MimeKit: about 55,000 compilations in a quick run), and on 2 cores tiering was still going on
/// while phases were measured: a third of the host's samples in one delivery phase were the tiering thread, and the
/// same phase used half the CPU per email once that was gone. A node that has run for minutes has long finished
/// this, so that is what the table measures: the process restarts itself with tiering and ReadyToRun code off
/// (<c>DOTNET_TieredCompilation=0</c>, <c>DOTNET_ReadyToRun=0</c>; what a warm node runs, without dynamic PGO), unless
/// <c>--jit=tiered</c> asks for the runtime's defaults or the caller already set <c>DOTNET_TieredCompilation</c>.
/// </summary>
public static class SteadyStateJit
{
    private const string Marker = "ACTORS_BENCH_JIT";

    /// <summary>How this process compiles, for the report's header.</summary>
    public static string Mode => Environment.GetEnvironmentVariable("DOTNET_TieredCompilation") switch
    {
        "0" => Environment.GetEnvironmentVariable("DOTNET_ReadyToRun") == "0"
            ? "JIT: fully optimised from the first call (tiering and ReadyToRun off)"
            : "JIT: tiering off (ReadyToRun code kept)",
        null or "" => "JIT: the runtime's default tiering (--jit=tiered)",
        var other => $"JIT: DOTNET_TieredCompilation={other}",
    };

    /// <summary>The child's exit code when this process restarted itself; null when this process is the one to measure.</summary>
    public static int? RestartIfTiered(string[] args)
    {
        if (args.Contains("--jit=tiered") || Environment.GetEnvironmentVariable(Marker) is not null
            || Environment.GetEnvironmentVariable("DOTNET_TieredCompilation") is not null)
            return null;

        var start = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
        // Under `dotnet Actors.Benchmarks.dll` the process is the dotnet host: the assembly comes first.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
            start.ArgumentList.Add(typeof(SteadyStateJit).Assembly.Location);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["DOTNET_TieredCompilation"] = "0";
        start.Environment["DOTNET_ReadyToRun"] = "0";
        start.Environment[Marker] = "1";
        using var child = Process.Start(start) ?? throw new InvalidOperationException("could not restart the benchmark");
        // Ctrl+C reaches the whole process group; a SIGTERM sent to this process alone is passed on, so the child
        // still stops its PostgreSQL and deletes its data.
        void Forward(PosixSignalContext context)
        {
            context.Cancel = true;
            if (!child.HasExited) Process.Start("kill", [context.Signal == PosixSignal.SIGINT ? "-INT" : "-TERM", child.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])?.Dispose();
        }
        using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Forward);
        using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Forward);
        child.WaitForExit();
        return child.ExitCode;
    }
}
