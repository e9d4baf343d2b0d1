using System.Buffers.Text;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using Actors.Channels.Delivery;
using Actors.Channels.Push;
using Actors.Domain.Profiles;
using Microsoft.Extensions.DependencyInjection;

namespace Actors.Integration.Tests.Channels;

/// <summary>The push provider against a local push service that verifies VAPID and decrypts as a browser does.</summary>
public sealed class WebPushProviderTests : IAsyncLifetime
{
    private const string Subject = "mailto:push-ops@shop.example";
    private LocalPushService _service = null!;
    private ServiceProvider _services = null!;
    private string _vapidPublicKey = "";
    private string _vapidPrivateKey = "";

    public async Task InitializeAsync()
    {
        _service = await LocalPushService.StartAsync();
        _service.ExpectedSubject = Subject;
        // A key pair as web-push tools print it (base64url public point and private scalar), as an operator configures it.
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var parameters = key.ExportParameters(includePrivateParameters: true);
        _vapidPublicKey = Base64Url.EncodeToString([0x04, .. parameters.Q.X!, .. parameters.Q.Y!]);
        _services = Services(new PushSettings
        {
            Subject = Subject,
            VapidPublicKey = _vapidPublicKey,
            VapidPrivateKey = _vapidPrivateKey = Base64Url.EncodeToString(parameters.D!),
            AllowInsecureEndpoints = true, // the local service is http on loopback
            TtlSeconds = 3600,
            Timeout = TimeSpan.FromSeconds(5),
        });
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _service.DisposeAsync();
    }

    /// <summary>The provider as the host wires it (AddWebPush), with a stand-in renderer.</summary>
    private static ServiceProvider Services(PushSettings settings)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<IMessageRenderer>(TestRenderer.Fixed("Still thinking it over?", "Your trail shoes are waiting.", "https://shop.example/cart"));
        services.AddWebPush(settings);
        return services.BuildServiceProvider();
    }

    /// <summary>The test's VAPID keys and subject with every other setting at its default (https to public addresses only).</summary>
    private PushSettings Configured => new() { Subject = Subject, VapidPublicKey = _vapidPublicKey, VapidPrivateKey = _vapidPrivateKey };

    private IChannelProvider Provider => Assert.Single(_services.GetServices<IChannelProvider>(), p => p.Channel == "push");

    [Fact]
    public async Task The_push_service_verifies_the_VAPID_signature_and_the_browser_decrypts_the_payload()
    {
        var (_, subscription) = _service.Subscribe("one");
        var message = TestMessages.For("push", [subscription]);

        var result = await Provider.SendAsync(message, CancellationToken.None);

        Assert.Equal(DeliveryStatus.Accepted, result.Status);
        Assert.StartsWith($"{_service.BaseUrl}/message/", result.ProviderMessageId);
        var received = Assert.Single(_service.Received);
        Assert.Null(received.VapidError);
        Assert.Equal(_vapidPublicKey, received.VapidKey);
        Assert.Null(received.DecryptError);
        var payload = JsonDocument.Parse(received.Payload!).RootElement;
        Assert.Equal("Still thinking it over?", payload.GetProperty("title").GetString());
        Assert.Equal("Your trail shoes are waiting.", payload.GetProperty("body").GetString());
        Assert.Equal("https://shop.example/cart", payload.GetProperty("url").GetString());
        Assert.Equal(message.MessageKey, payload.GetProperty("messageKey").GetString());
        Assert.Equal("aes128gcm", received.Headers["Content-Encoding"]);
        Assert.Equal("3600", received.Headers["TTL"]);
        Assert.Equal("normal", received.Headers["Urgency"]);
    }

    [Fact]
    public async Task One_browser_taking_the_message_is_a_send_and_a_gone_endpoint_is_reported_for_unsubscribing()
    {
        var (_, alive) = _service.Subscribe("alive");
        var (_, gone) = _service.Subscribe("gone", status: 410);

        var result = await Provider.SendAsync(TestMessages.For("push", [alive, gone]), CancellationToken.None);

        Assert.Equal(DeliveryStatus.Accepted, result.Status);
        Assert.False(result.Unsubscribe);
        Assert.Equal([gone.Endpoint], result.GoneEndpoints);
        Assert.Equal(["alive", "gone"], _service.Received.Select(r => r.SubscriptionId).Order());
        Assert.All(_service.Received, r => Assert.Null(r.DecryptError));
    }

    [Fact]
    public async Task When_every_endpoint_is_gone_the_message_is_rejected_and_the_visitor_unsubscribed()
    {
        var (_, notFound) = _service.Subscribe("not-found", status: 404);
        var (_, gone) = _service.Subscribe("gone-too", status: 410);

        var result = await Provider.SendAsync(TestMessages.For("push", [notFound, gone]), CancellationToken.None);

        Assert.Equal(DeliveryStatus.Rejected, result.Status);
        Assert.True(result.Unsubscribe);
        Assert.Equal([gone.Endpoint, notFound.Endpoint], result.GoneEndpoints!.Order());
    }

    [Fact]
    public async Task Throttling_and_server_errors_are_retried_after_what_the_service_asks()
    {
        var (_, throttled) = _service.Subscribe("throttled", status: 429, retryAfter: "120");
        var result = await Provider.SendAsync(TestMessages.For("push", [throttled]), CancellationToken.None);
        Assert.Equal(DeliveryStatus.RetryLater, result.Status);
        Assert.Equal(TimeSpan.FromSeconds(120), result.RetryAfter);

        var (_, failing) = _service.Subscribe("failing", status: 503);
        var (_, gone) = _service.Subscribe("gone-meanwhile", status: 410);
        var mixed = await Provider.SendAsync(TestMessages.For("push", [failing, gone]), CancellationToken.None);
        Assert.Equal(DeliveryStatus.RetryLater, mixed.Status);
        Assert.Null(mixed.RetryAfter);
        Assert.Equal([gone.Endpoint], mixed.GoneEndpoints); // recorded now, so the retry goes to the live one only
    }

    [Fact]
    public async Task Other_client_errors_are_permanent_and_do_not_unsubscribe()
    {
        var (_, refused) = _service.Subscribe("too-big", status: 413);
        var result = await Provider.SendAsync(TestMessages.For("push", [refused]), CancellationToken.None);
        Assert.Equal(DeliveryStatus.Rejected, result.Status);
        Assert.False(result.Unsubscribe);
        Assert.Null(result.GoneEndpoints);
        Assert.Contains("413", result.Error);
    }

    [Fact]
    public async Task A_visitor_without_subscriptions_is_rejected_without_a_request()
    {
        var result = await Provider.SendAsync(TestMessages.For("push", []), CancellationToken.None);
        Assert.Equal(DeliveryStatus.Rejected, result.Status);
        Assert.Equal("no_push_subscription", result.Error);
        Assert.True(result.Unreachable); // an expected outcome, logged at Debug by the shard
        Assert.Empty(_service.Received);
    }

    [Fact]
    public async Task An_unreachable_push_service_is_retried()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // nobody listens there now
        using var browser = new TestBrowser();

        var result = await Provider.SendAsync(TestMessages.For("push", [browser.SubscriptionAt($"http://127.0.0.1:{port}/push/x")]), CancellationToken.None);

        Assert.Equal(DeliveryStatus.RetryLater, result.Status);
        Assert.StartsWith("push_service_unreachable", result.Error);
    }

    [Fact]
    public async Task A_payload_over_one_record_and_a_missing_template_are_permanent_failures()
    {
        var (_, subscription) = _service.Subscribe("big");
        await using var bigger = new ServiceCollection().AddLogging().AddSingleton(TimeProvider.System)
            .AddSingleton<IMessageRenderer>(TestRenderer.Fixed("t", new string('x', WebPushEncryption.MaxPlaintextLength)))
            .AddWebPush(Configured with { AllowInsecureEndpoints = true }).BuildServiceProvider();
        var tooLarge = await bigger.GetRequiredService<WebPushProvider>().SendAsync(TestMessages.For("push", [subscription]), SendTurns.Now, CancellationToken.None);
        Assert.Equal(DeliveryStatus.Rejected, tooLarge.Status);
        Assert.StartsWith("payload_too_large", tooLarge.Error);

        await using var missing = new ServiceCollection().AddLogging().AddSingleton(TimeProvider.System)
            .AddSingleton<IMessageRenderer>(new TestRenderer(m => throw new TemplateNotFoundException(m.Template)))
            .AddWebPush(Configured with { AllowInsecureEndpoints = true }).BuildServiceProvider();
        var noTemplate = await missing.GetRequiredService<WebPushProvider>().SendAsync(TestMessages.For("push", [subscription]), SendTurns.Now, CancellationToken.None);
        Assert.Equal(DeliveryStatus.Rejected, noTemplate.Status);
        Assert.Equal("template_not_found: welcome", noTemplate.Error);
        Assert.Empty(_service.Received);
    }

    [Fact]
    public async Task By_default_only_https_endpoints_on_public_addresses_are_reached()
    {
        await using var secure = Services(Configured);
        var provider = secure.GetRequiredService<WebPushProvider>();
        var (_, local) = _service.Subscribe("local");

        // http, and a literal loopback address: refused before any request.
        var http = await provider.SendAsync(TestMessages.For("push", [local]), SendTurns.Now, CancellationToken.None);
        Assert.Equal(DeliveryStatus.Rejected, http.Status);
        Assert.StartsWith("endpoint_not_allowed", http.Error);
        var port = new Uri(_service.BaseUrl).Port;
        var loopback = await provider.SendAsync(TestMessages.For("push", [local with { Endpoint = $"https://127.0.0.1:{port}/push/local" }]), SendTurns.Now, CancellationToken.None);
        Assert.Equal(DeliveryStatus.Rejected, loopback.Status);
        Assert.Empty(_service.Received);

        // A name is judged by the addresses it resolves to when we connect: the push client refuses to connect inside.
        var client = secure.GetRequiredService<IHttpClientFactory>().CreateClient(WebPushProvider.HttpClientName);
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => client.PostAsync($"https://localhost:{port}/push/local", new ByteArrayContent([1])));
        Assert.True(OutboundAddressGuard.Refused(refused, out _), refused.ToString());
        Assert.Empty(_service.Received);
    }
}
