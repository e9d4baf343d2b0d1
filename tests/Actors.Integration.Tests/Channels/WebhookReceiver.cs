using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Actors.Integration.Tests.Support;

namespace Actors.Integration.Tests.Channels;

/// <summary>A real HTTP endpoint on loopback that records every POST it gets; how it answers is up to the test.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;

    public sealed record Received(string Path, string Body, IReadOnlyDictionary<string, string> Headers, int Answered)
    {
        public DateTimeOffset At { get; init; } = DateTimeOffset.UtcNow;
    }

    public ConcurrentQueue<Received> Requests { get; } = new();

    /// <summary>The status to answer for a request (path, idempotency key, attempt number for that key).</summary>
    public Func<string, string, int, int> Answer { get; set; } = (_, _, _) => 200;

    private readonly ConcurrentDictionary<string, int> _attempts = new();

    public string BaseUrl { get; }

    public WebhookReceiver()
    {
        var port = FreePorts.Next();
        BaseUrl = $"http://127.0.0.1:{port}";
        _listener.Prefixes.Add(BaseUrl + "/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch { return; }
            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            var headers = context.Request.Headers.AllKeys.Where(k => k is not null).ToDictionary(k => k!, k => context.Request.Headers[k]!, StringComparer.OrdinalIgnoreCase);
            var key = headers.GetValueOrDefault("Idempotency-Key") ?? "";
            var attempt = _attempts.AddOrUpdate(key, 1, (_, n) => n + 1);
            var status = Answer(context.Request.Url!.AbsolutePath, key, attempt);
            Requests.Enqueue(new Received(context.Request.Url!.AbsolutePath, body, headers, status));
            context.Response.StatusCode = status;
            context.Response.Close();
        }
    }

    public async Task<IReadOnlyList<Received>> WaitForAsync(Func<IReadOnlyList<Received>, bool> done, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var now = Requests.ToArray();
            if (done(now)) return now;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the receiver got {now.Length} requests");
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        try { await _loop; } catch { }
    }
}
