using System.Diagnostics;

namespace Actors.Storage.Postgres;

/// <summary>Runs the PostgreSQL programs, as the 'postgres' user when we are root (initdb and postgres refuse root).</summary>
internal sealed class ProcessRunner(string? runAsUser)
{
    public string? RunAsUser { get; } = runAsUser;

    public static ProcessRunner ForCurrentUser()
    {
        if (Environment.UserName != "root") return new ProcessRunner(null);
        if (!File.ReadLines("/etc/passwd").Any(l => l.StartsWith("postgres:", StringComparison.Ordinal)))
            throw new InvalidOperationException(
                "Running as root, the embedded PostgreSQL server must run as the 'postgres' user, which does not exist. " +
                "Install the postgresql package (it creates the user), or run as a normal user.");
        return new ProcessRunner("postgres");
    }

    public async Task<string> RunAsync(string program, IEnumerable<string> arguments, CancellationToken ct, bool throwOnError = true)
    {
        var info = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (RunAsUser is null)
        {
            info.FileName = program;
        }
        else
        {
            info.FileName = "runuser";
            info.ArgumentList.Add("-u");
            info.ArgumentList.Add(RunAsUser);
            info.ArgumentList.Add("--");
            info.ArgumentList.Add(program);
        }
        foreach (var a in arguments) info.ArgumentList.Add(a);

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {program}.");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        var output = (await stdout) + (await stderr);
        if (throwOnError && process.ExitCode != 0)
            throw new InvalidOperationException($"{Path.GetFileName(program)} exited with code {process.ExitCode}: {output.Trim()}");
        return output;
    }

    /// <summary>Gives a file or folder to the user the server runs as.</summary>
    public void GiveOwnership(string path, bool recursive = false)
    {
        if (RunAsUser is null) return;
        var info = new ProcessStartInfo("chown") { UseShellExecute = false, RedirectStandardError = true };
        if (recursive) info.ArgumentList.Add("-R");
        info.ArgumentList.Add(RunAsUser);
        info.ArgumentList.Add(path);
        using var p = Process.Start(info)!;
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"chown {path} failed: {p.StandardError.ReadToEnd()}");
    }
}
