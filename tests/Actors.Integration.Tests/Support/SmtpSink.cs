using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using MimeKit;

namespace Actors.Integration.Tests.Support;

/// <summary>
/// A real SMTP server on loopback (Debian's python3-aiosmtpd running Support/smtp_sink.py) that keeps every accepted
/// message in a Maildir. Recipients pick the answer by their local part: "reject…" gets 550 (mailbox unavailable),
/// "defer…" gets 451 (try later), anything else is accepted. Each stored message starts with X-Sink-Envelope-From and
/// X-Sink-Envelope-To headers (the SMTP envelope). <see cref="Stop"/> kills the server mid-test; dispose deletes it all.
/// </summary>
public sealed class SmtpSink : IDisposable
{
    public const string Python = "/usr/bin/python3";
    public const string EnvelopeToHeader = "X-Sink-Envelope-To";

    private readonly Process _process;
    private readonly StringBuilder _errors = new();

    public string Host => "127.0.0.1";
    public int Port { get; }
    public string Maildir { get; }

    private SmtpSink(Process process, int port, string maildir)
    {
        _process = process;
        Port = port;
        Maildir = maildir;
    }

    /// <summary>Starts a server and returns once it accepts connections.</summary>
    /// <param name="login">"user:password" to require AUTH with that login (plain text on loopback).</param>
    public static SmtpSink Start(string? login = null)
    {
        Exception? last = null;
        for (var attempt = 0; attempt < 3; attempt++) // a free port can be taken between asking and binding
        {
            var port = FreePorts.Next();
            var maildir = Path.Combine(Path.GetTempPath(), $"actors-smtp-{Guid.NewGuid():N}");
            var start = new ProcessStartInfo(Python)
            {
                RedirectStandardInput = true, // closed when this process dies: the server then exits too
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[] { "-u", Path.Combine(AppContext.BaseDirectory, "Support", "smtp_sink.py"), "--port", port.ToString(), "--maildir", maildir })
                start.ArgumentList.Add(arg);
            if (login is not null)
            {
                start.ArgumentList.Add("--auth");
                start.ArgumentList.Add(login);
            }
            var process = Process.Start(start) ?? throw new InvalidOperationException($"{Python} did not start.");
            var sink = new SmtpSink(process, port, maildir);
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null) lock (sink._errors) sink._errors.AppendLine(e.Data);
            };
            process.BeginErrorReadLine();
            try
            {
                sink.WaitUntilReady(TimeSpan.FromSeconds(20));
                return sink;
            }
            catch (Exception e)
            {
                last = e;
                sink.Dispose();
            }
        }
        throw new InvalidOperationException("The SMTP sink did not start (is python3-aiosmtpd installed?).", last);
    }

    private void WaitUntilReady(TimeSpan within)
    {
        var line = _process.StandardOutput.ReadLineAsync();
        if (!line.Wait(within) || line.Result != "ready")
            throw new InvalidOperationException($"The SMTP sink is not ready: {line.Status} '{(line.IsCompletedSuccessfully ? line.Result : null)}'. {Errors}");
        using var probe = new TcpClient();
        probe.Connect(Host, Port);
    }

    public string Errors
    {
        get
        {
            lock (_errors) return _errors.ToString();
        }
    }

    /// <summary>Every message the server accepted so far, oldest first.</summary>
    public IReadOnlyList<MimeMessage> Messages()
    {
        var files = new[] { "new", "cur" }
            .Select(d => Path.Combine(Maildir, d))
            .Where(Directory.Exists)
            .SelectMany(Directory.EnumerateFiles)
            .Select(f => new FileInfo(f))
            .OrderBy(f => f.LastWriteTimeUtc).ThenBy(f => f.Name, StringComparer.Ordinal);
        var messages = new List<MimeMessage>();
        foreach (var file in files)
        {
            using var stream = file.OpenRead();
            messages.Add(MimeMessage.Load(stream));
        }
        return messages;
    }

    /// <summary>Waits until at least <paramref name="count"/> messages (matching <paramref name="which"/>) have arrived; throws on timeout.</summary>
    public async Task<IReadOnlyList<MimeMessage>> WaitForAsync(int count, TimeSpan timeout, Func<MimeMessage, bool>? which = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var found = Messages().Where(which ?? (_ => true)).ToList();
            if (found.Count >= count) return found;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{found.Count} of {count} messages arrived at the SMTP sink within {timeout}. {Errors}");
            await Task.Delay(50);
        }
    }

    /// <summary>The host's configuration for sending here (plain SMTP: the sink offers no TLS).</summary>
    public IEnumerable<KeyValuePair<string, string?>> Configuration()
    {
        yield return new("Actors:Email:Smtp:Host", Host);
        yield return new("Actors:Email:Smtp:Port", Port.ToString());
        yield return new("Actors:Email:Smtp:UseTls", "false");
    }

    /// <summary>The same as command-line arguments, for <see cref="HostFixture"/>-style hosts.</summary>
    public IEnumerable<string> Arguments() => Configuration().Select(c => $"--{c.Key}={c.Value}");

    /// <summary>Kills the server: connections break and new ones are refused.</summary>
    public void Stop()
    {
        if (_process.HasExited) return;
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
    }

    public void Dispose()
    {
        try
        {
            Stop();
        }
        catch (InvalidOperationException)
        {
            // it has exited already
        }
        _process.Dispose();
        try
        {
            if (Directory.Exists(Maildir)) Directory.Delete(Maildir, recursive: true);
        }
        catch (IOException)
        {
            // a leftover temp folder is harmless
        }
    }
}
