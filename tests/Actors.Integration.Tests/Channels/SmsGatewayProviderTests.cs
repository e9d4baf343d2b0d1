using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Actors.Channels.Delivery;
using Actors.Channels.Sms;
using Actors.Grains.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Actors.Integration.Tests.Channels;

/// <summary>The SMS provider against a gateway on loopback (Kestrel) that answers as told and records every request.</summary>
public sealed class SmsGatewayProviderTests : IAsyncLifetime
{
    private const string ApiKey = "sms-gateway-key-0123456789";

    private sealed record GatewayCall(string? Authorization, string? IdempotencyKey, string? ContentType, JsonElement Body);

    private WebApplication _gateway = null!;
    private string _url = "";
    private readonly ConcurrentQueue<GatewayCall> _calls = new();
    private readonly ConcurrentQueue<Func<HttpResponse, Task<IResult>>> _answers = new();
    private ServiceProvider _services = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _gateway = builder.Build();
        _gateway.MapPost("/messages", async (HttpRequest request) =>
        {
            var body = await JsonDocument.ParseAsync(request.Body);
            _calls.Enqueue(new GatewayCall(request.Headers.Authorization, request.Headers["Idempotency-Key"], request.ContentType, body.RootElement.Clone()));
            return _answers.TryDequeue(out var answer) ? await answer(request.HttpContext.Response) : Results.Json(new { id = $"gw-{_calls.Count}" }, statusCode: 202);
        });
        await _gateway.StartAsync();
        _url = _gateway.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/messages";
        _services = Services(new SmsSettings { GatewayUrl = _url, ApiKey = ApiKey, Timeout = TimeSpan.FromSeconds(1) });
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _gateway.DisposeAsync();
    }

    private static ServiceProvider Services(SmsSettings settings) => new ServiceCollection().AddLogging()
        // The gateways of these tests listen on loopback.
        .AddSingleton<Microsoft.Extensions.Configuration.IConfiguration>(new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection([new(Actors.Channels.Delivery.OutboundAddressGuard.AllowSetting, "true")]).Build())
        .AddSingleton<IMessageRenderer>(TestRenderer.Fixed("Subject", "Your order has shipped: https://shop.example/o/42"))
        .AddSmsGateway(settings).BuildServiceProvider();

    private IChannelProvider Provider => Assert.Single(_services.GetServices<IChannelProvider>(), p => p.Channel == "sms");

    private void Answer(int status, string? retryAfter = null, object? body = null) => _answers.Enqueue(response =>
    {
        if (retryAfter is not null) response.Headers.RetryAfter = retryAfter;
        return Task.FromResult(body is null ? Results.StatusCode(status) : Results.Json(body, statusCode: status));
    });

    [Fact]
    public async Task A_message_is_posted_with_the_adapter_contract_and_the_gateway_id_is_kept()
    {
        Answer(200, body: new { id = "SM-123", status = "queued" });
        var message = TestMessages.For("sms", phone: "+49 151 2345-6789");

        var result = await Provider.SendAsync(message, CancellationToken.None);

        Assert.Equal(DeliveryStatus.Accepted, result.Status);
        Assert.Equal("SM-123", result.ProviderMessageId);
        var call = Assert.Single(_calls);
        Assert.Equal($"Bearer {ApiKey}", call.Authorization);
        Assert.Equal(message.MessageKey, call.IdempotencyKey);
        Assert.Equal("application/json", call.ContentType?.Split(';')[0]);
        Assert.Equal("+4915123456789", call.Body.GetProperty("to").GetString());
        Assert.Equal("Your order has shipped: https://shop.example/o/42", call.Body.GetProperty("text").GetString());
        Assert.Equal(message.MessageKey, call.Body.GetProperty("reference").GetString());
    }

    [Fact]
    public async Task A_retry_of_the_same_message_carries_the_same_idempotency_key()
    {
        Answer(503);
        var message = TestMessages.For("sms", phone: "+14155550123");
        Assert.Equal(DeliveryStatus.RetryLater, (await Provider.SendAsync(message, CancellationToken.None)).Status);
        Answer(201, body: new { id = 987654 });
        var retried = await Provider.SendAsync(message, CancellationToken.None);
        Assert.Equal(DeliveryStatus.Accepted, retried.Status);
        Assert.Equal("987654", retried.ProviderMessageId);
        Assert.Equal([message.MessageKey, message.MessageKey], _calls.Select(c => c.IdempotencyKey));
        Assert.Equal([message.MessageKey, message.MessageKey], _calls.Select(c => c.Body.GetProperty("reference").GetString()));
    }

    [Fact]
    public async Task Throttling_server_errors_and_timeouts_are_retried_other_client_errors_rejected()
    {
        var message = TestMessages.For("sms", phone: "+447700900123");
        Answer(429, retryAfter: "30");
        var throttled = await Provider.SendAsync(message, CancellationToken.None);
        Assert.Equal((DeliveryStatus.RetryLater, TimeSpan.FromSeconds(30)), (throttled.Status, throttled.RetryAfter));

        Answer(500);
        Assert.Equal(DeliveryStatus.RetryLater, (await Provider.SendAsync(message, CancellationToken.None)).Status);

        _answers.Enqueue(async _ =>
        {
            await Task.Delay(TimeSpan.FromSeconds(3)); // longer than the provider's 1 s timeout
            return Results.Json(new { id = "late" });
        });
        var timedOut = await Provider.SendAsync(message, CancellationToken.None);
        Assert.Equal(DeliveryStatus.RetryLater, timedOut.Status);
        Assert.Equal("sms_gateway_timeout", timedOut.Error);

        Answer(422, body: new { error = "unroutable number" });
        var refused = await Provider.SendAsync(message, CancellationToken.None);
        Assert.Equal(DeliveryStatus.Rejected, refused.Status);
        Assert.Contains("422", refused.Error);

        // A 2xx without a readable id is still a send.
        _answers.Enqueue(_ => Task.FromResult(Results.Text("OK")));
        var plain = await Provider.SendAsync(message, CancellationToken.None);
        Assert.Equal((DeliveryStatus.Accepted, (string?)null), (plain.Status, plain.ProviderMessageId));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("0151 2345678")] // national: no country code
    [InlineData("+0151234567")]
    [InlineData("+49 151 abc")]
    [InlineData("+1234567890123456")] // 16 digits
    public async Task No_usable_phone_number_is_rejected_without_a_request(string? phone)
    {
        var result = await Provider.SendAsync(TestMessages.For("sms", phone: phone), CancellationToken.None);
        Assert.Equal(DeliveryStatus.Rejected, result.Status);
        Assert.Equal("no_phone_number", result.Error);
        Assert.True(result.Unreachable); // an expected outcome, logged at Debug by the shard
        Assert.Empty(_calls);
    }

    [Fact]
    public async Task An_unreachable_gateway_is_retried_and_no_gateway_configured_means_no_sms_provider()
    {
        await using var down = Services(new SmsSettings { GatewayUrl = "http://127.0.0.1:9/messages", Timeout = TimeSpan.FromSeconds(2) });
        var result = await down.GetRequiredService<SmsGatewayProvider>().SendAsync(TestMessages.For("sms", phone: "+33612345678"), SendTurns.Now, CancellationToken.None);
        Assert.Equal(DeliveryStatus.RetryLater, result.Status);

        await using var none = Services(new SmsSettings());
        Assert.Empty(none.GetServices<IChannelProvider>());
        Assert.Throws<InvalidOperationException>(() => Services(new SmsSettings { GatewayUrl = "not a url" }));
    }

    [Fact]
    public void The_settings_bind_from_Actors_Sms_and_Actors_Push()
    {
        var bound = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Actors:Sms:GatewayUrl"] = "https://sms.example.net/v1/messages",
            ["Actors:Sms:ApiKey"] = "k",
            ["Actors:Sms:Timeout"] = "00:00:05",
            ["Actors:Push:Subject"] = "https://shop.example/contact",
            ["Actors:Push:TtlSeconds"] = "60",
        }).Build().GetSection("Actors").Get<ActorsSettings>()!;
        Assert.Equal(("https://sms.example.net/v1/messages", "k", TimeSpan.FromSeconds(5)), (bound.Sms.GatewayUrl, bound.Sms.ApiKey, bound.Sms.Timeout));
        Assert.Equal(("https://shop.example/contact", 60, false), (bound.Push.Subject, bound.Push.TtlSeconds, bound.Push.AllowInsecureEndpoints));
        Assert.False(new ActorsSettings().Sms.IsConfigured);
        Assert.Equal(2_419_200, new ActorsSettings().Push.TtlSeconds);
    }
}
