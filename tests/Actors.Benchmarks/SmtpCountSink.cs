using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Actors.Benchmarks;

/// <summary>
/// The loopback SMTP server of the delivery and journeys groups: Node running smtp_count_sink.mjs (no packages), which
/// accepts every message, stores nothing and prints "key\ttime" per message (the X-Actors-Message-Key header, "-" without
/// one). Arrivals are kept here by key with the server's receive time. Started before the host, whose email transport
/// then points here; the MailKit reference sends to the same server, so both sides pay for the same server.
/// </summary>
public sealed class SmtpCountSink : IDisposable
{
    /// <summary>Node from the PATH (the SDK tests need it too; .ci/run installs it).</summary>
    public const string Node = "node";

    private readonly Process _process;
    private readonly ConcurrentQueue<(string Key, DateTimeOffset At)> _arrivals = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _lines;

    public string Host => "127.0.0.1";
    public int Port { get; }

    private SmtpCountSink(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public static SmtpCountSink Start()
    {
        var port = FreePort();
        var start = new ProcessStartInfo(Node)
        {
            RedirectStandardInput = true, // closed when this process dies: the server then exits too
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "smtp_count_sink.mjs"), "--port", port.ToString(CultureInfo.InvariantCulture) })
            start.ArgumentList.Add(arg);
        var process = Process.Start(start) ?? throw new InvalidOperationException($"{Node} did not start.");
        var sink = new SmtpCountSink(process, port);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null) Progress.Line($"smtp sink: {e.Data}");
        };
        process.BeginErrorReadLine();
        // One asynchronous reader for everything (a Process stream cannot be read both ways): "ready" first, then arrivals.
        process.OutputDataReceived += (_, e) => sink.OnLine(e.Data);
        process.BeginOutputReadLine();
        if (!sink._ready.Task.Wait(TimeSpan.FromSeconds(20)))
        {
            sink.Dispose();
            throw new InvalidOperationException("The SMTP sink did not start (is Node installed? apt-get install nodejs).");
        }
        return sink;
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        if (!_ready.Task.IsCompleted)
        {
            if (line == "ready") _ready.TrySetResult();
            return;
        }
        Interlocked.Increment(ref _lines);
        var tab = line.LastIndexOf('\t');
        if (tab < 0 || !double.TryParse(line.AsSpan(tab + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
        {
            Progress.Line($"smtp sink: unexpected line '{line}'");
            return;
        }
        _arrivals.Enqueue((line[..tab], DateTimeOffset.FromUnixTimeMilliseconds(0).AddTicks((long)(seconds * TimeSpan.TicksPerSecond))));
    }

    /// <summary>Messages the server reported so far, of any key.</summary>
    public long Received => Interlocked.Read(ref _lines);

    /// <summary>The server's CPU time so far: shows whether the server itself is the limit of a phase.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>Takes the arrivals reported since the last call (each once).</summary>
    public List<(string Key, DateTimeOffset At)> Drain()
    {
        var taken = new List<(string, DateTimeOffset)>();
        while (_arrivals.TryDequeue(out var a)) taken.Add(a);
        return taken;
    }

    /// <summary>The host's configuration for sending here (plain SMTP: the sink offers no TLS).</summary>
    public IEnumerable<string> Arguments() =>
        [$"--Actors:Email:Smtp:Host={Host}", $"--Actors:Email:Smtp:Port={Port}", "--Actors:Email:Smtp:UseTls=false"];

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // it has exited already
        }
        _process.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
