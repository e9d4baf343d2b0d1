using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Channels.Delivery;
using Actors.Channels.Sms;
using Microsoft.Extensions.Configuration;
using Actors.Integration.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Actors.Integration.Tests.Channels;

/// <summary>A host as it runs in production: Actors:Outbound:AllowPrivateNetworks off (the test default is on).</summary>
public sealed class PublicOnlyHostFixture : HostFixture
{
    protected override IEnumerable<string> ExtraArguments() =>
        ["--Actors:Outbound:AllowPrivateNetworks=false", "--Actors:Webhooks:PollEvery=00:00:00.200", "--Actors:Webhooks:FirstRetryAfter=00:00:00.500",
         "--Actors:Channels:PollEvery=00:00:00.200", "--Actors:Channels:FirstRetryAfter=00:00:00.300",
         "--Actors:Channels:WebhookSecret=test-webhook-secret-0123456789-abcdef"];
}

/// <summary>
/// Issue 16, "Security": URLs the host is told to send to reach no private, loopback, link-local or metadata address
/// unless the operator allows it: refused when saved, and refused at connect time for a name that resolves to one.
/// </summary>
public class OutboundAddressTests(PublicOnlyHostFixture host) : IClassFixture<PublicOnlyHostFixture>
{
    [Theory]
    [InlineData("127.0.0.1")] [InlineData("127.8.9.10")] [InlineData("10.1.2.3")] [InlineData("172.16.0.1")] [InlineData("172.31.255.255")]
    [InlineData("192.168.1.1")] [InlineData("169.254.169.254")] [InlineData("100.64.0.1")] [InlineData("0.0.0.0")] [InlineData("255.255.255.255")]
    [InlineData("::1")] [InlineData("::")] [InlineData("fe80::1")] [InlineData("fd00:ec2::254")] [InlineData("fc00::1")] [InlineData("::ffff:127.0.0.1")]
    [InlineData("::ffff:169.254.169.254")] [InlineData("::127.0.0.1")] [InlineData("64:ff9b::a00:1")] [InlineData("2002:a00:1::")] [InlineData("ff02::1")]
    [InlineData("224.0.0.1")] [InlineData("fd00::1")] [InlineData("::ffff:10.0.0.1")] [InlineData("2002:c0a8:101::1")]
    public void Private_loopback_link_local_and_metadata_addresses_are_refused(string address) =>
        Assert.True(OutboundAddressGuard.IsPrivate(IPAddress.Parse(address)), address);

    [Theory]
    [InlineData("8.8.8.8")] [InlineData("93.184.216.34")] [InlineData("172.32.0.1")] [InlineData("100.128.0.1")] [InlineData("2606:4700:4700::1111")]
    [InlineData("::ffff:8.8.8.8")] [InlineData("142.250.74.106")] [InlineData("2a00:1450:4001:80b::200a")]
    public void Public_addresses_are_allowed(string address) =>
        Assert.False(OutboundAddressGuard.IsPrivate(IPAddress.Parse(address)), address);

    private async Task<string> NewSegment(HttpClient marketing)
    {
        var segment = $"out-{Guid.NewGuid():N}"[..16];
        var created = await marketing.PostAsJsonAsync("/v1/segments", new { id = segment, name = segment, rule = new { topic = "outdoor" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return segment;
    }

    [Theory]
    [InlineData("http://127.0.0.1:9/hook")]
    [InlineData("http://169.254.169.254/latest/meta-data/")]
    [InlineData("http://[fd00:ec2::254]/")]
    [InlineData("http://[::ffff:10.0.0.1]/")]
    [InlineData("https://localhost/hook")]
    [InlineData("http://2130706433/")] // 127.0.0.1 as one number
    public async Task A_segment_webhook_to_a_private_address_is_refused_on_save_naming_the_url(string url)
    {
        var marketing = host.Client(HostFixture.MarketingKey);
        var segment = await NewSegment(marketing);
        var response = await marketing.PutAsJsonAsync($"/v1/segments/{segment}/webhook", new { url });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("Actors:Outbound:AllowPrivateNetworks", problem.GetProperty("errors").GetProperty("url")[0].GetString());
    }

    [Fact]
    public async Task A_webhook_template_with_a_fixed_private_url_is_refused_on_save_naming_the_url()
    {
        var marketing = host.Client(HostFixture.MarketingKey);
        var id = $"out-t-{Guid.NewGuid():N}"[..20];
        var refused = await marketing.PutAsJsonAsync($"/v1/templates/{id}", new { channel = "webhook", text = "hello", url = "http://169.254.169.254/latest/meta-data/" });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty("url", out _), problem.ToString());
        // A public address is saved; one Liquid writes is checked when the message is sent.
        Assert.Equal(HttpStatusCode.Created, (await marketing.PutAsJsonAsync($"/v1/templates/{id}", new { channel = "webhook", text = "hello", url = "https://hooks.example.com/in" })).StatusCode);
    }

    /// <summary>A receiver on loopback that counts its calls; the path given redirects to the counting one.</summary>
    private static async Task<(WebApplication App, int Port, Func<int> Calls)> ReceiverAsync()
    {
        var calls = 0;
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.MapPost("/hook", () => { Interlocked.Increment(ref calls); return Results.Ok(); });
        app.MapPost("/moved", () => Results.Redirect("/hook", permanent: false, preserveMethod: true));
        await app.StartAsync();
        var port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        return (app, port, () => Volatile.Read(ref calls));
    }

    [Fact]
    public async Task A_name_that_resolves_to_loopback_is_refused_when_sending_and_the_delivery_fails_once_with_the_reason()
    {
        // The machine's own name resolves to a loopback or private address (here through /etc/hosts): accepted on
        // save, where no name is resolved, and refused at connect time, the way a rebinding name would be.
        var name = Dns.GetHostName();
        Assert.All(await Dns.GetHostAddressesAsync(name), a => Assert.True(OutboundAddressGuard.IsPrivate(a), $"{name} resolves to {a}"));
        var (app, port, calls) = await ReceiverAsync();
        await using var _ = app;

        var marketing = host.Client(HostFixture.MarketingKey);
        var segment = await NewSegment(marketing);
        var saved = await marketing.PutAsJsonAsync($"/v1/segments/{segment}/webhook", new { url = $"http://{name}:{port}/hook" });
        Assert.Equal(HttpStatusCode.OK, saved.StatusCode);

        var visitor = $"out-v-{Guid.NewGuid():N}";
        await host.Client().PostAsJsonAsync($"/v1/visitors/{visitor}/events",
            new { @event = "Preferences Updated", messageId = $"{visitor}-1", properties = new { topics = new[] { "outdoor" } } });

        JsonElement delivery = default;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var all = await marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/{segment}/deliveries");
            delivery = all.EnumerateArray().FirstOrDefault();
            if (delivery.ValueKind == JsonValueKind.Object && delivery.GetProperty("status").GetString() == "dead") break;
            await Task.Delay(200);
        }
        Assert.Equal("dead", delivery.GetProperty("status").GetString());
        Assert.Equal(1, delivery.GetProperty("attempts").GetInt32()); // permanent: not retried
        Assert.StartsWith("outbound_address_refused", delivery.GetProperty("lastError").GetString());
        Assert.Equal(0, calls());
    }

    [Fact]
    public async Task A_journey_webhook_step_to_a_name_that_resolves_to_loopback_fails_once_with_the_reason_and_never_connects()
    {
        // The template names the machine's own name (a fixed URL, so it passes the check on save, where nothing is
        // resolved); the send resolves it, finds loopback, and the message fails for good.
        var name = Dns.GetHostName();
        var (app, port, calls) = await ReceiverAsync();
        await using var _ = app;
        var marketing = host.Client(HostFixture.MarketingKey);
        var template = $"out-t-{Guid.NewGuid():N}"[..20];
        var saved = await marketing.PutAsJsonAsync($"/v1/templates/{template}",
            new { channel = "webhook", subject = "s", text = "hello {{ visitor.profile_id }}", url = $"http://{name}:{port}/hook" });
        Assert.True(saved.IsSuccessStatusCode, await saved.Content.ReadAsStringAsync());
        var journey = $"out-j-{Guid.NewGuid():N}"[..20];
        var created = await marketing.PostAsJsonAsync("/v1/journeys", new
        {
            id = journey,
            journey = new
            {
                name = journey, trigger = new { manual = true }, start = "post",
                steps = new object[] { new { id = "post", send = new { channel = "webhook", template, kind = "transactional" } } },
            },
        });
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        Assert.True((await marketing.PostAsync($"/v1/journeys/{journey}/publish", null)).IsSuccessStatusCode);

        var visitor = $"out-w-{Guid.NewGuid():N}";
        Assert.True((await host.Client().PostAsJsonAsync($"/v1/visitors/{visitor}/events",
            new { @event = "Product Viewed", messageId = $"{visitor}-1", properties = new { product_id = "sku-1" } })).IsSuccessStatusCode);
        var trigger = await marketing.PostAsJsonAsync($"/v1/journeys/{journey}/trigger", new { profiles = new[] { visitor } });
        Assert.Equal(HttpStatusCode.Accepted, trigger.StatusCode);

        var admin = host.Client(HostFixture.AdminKey);
        JsonElement failed = default;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var items = (await admin.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/events?type=message_failed")).GetProperty("items");
            if (items.GetArrayLength() > 0) { failed = items[0]; break; }
            await Task.Delay(200);
        }
        Assert.True(failed.ValueKind == JsonValueKind.Object, "no message_failed within 30 s");
        Assert.StartsWith("outbound_address_refused", failed.GetProperty("data").GetProperty("reason").GetString() ?? "", StringComparison.Ordinal);
        await Task.Delay(1000); // a refusal is never retried
        var sent = (await admin.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/events?type=message_sent")).GetProperty("items");
        Assert.Equal(0, sent.GetArrayLength());
        Assert.Equal(0, calls());
    }

    [Fact]
    public async Task Redirects_are_not_followed_and_a_refused_name_never_connects()
    {
        var (app, port, calls) = await ReceiverAsync();
        await using var _ = app;

        using var allowed = new HttpClient(new OutboundAddressGuard(allowPrivateNetworks: true).Handler());
        var moved = await allowed.PostAsync($"http://127.0.0.1:{port}/moved", new StringContent("{}"));
        Assert.Equal(HttpStatusCode.TemporaryRedirect, moved.StatusCode);
        Assert.Equal(0, calls());

        using var guarded = new HttpClient(new OutboundAddressGuard(allowPrivateNetworks: false).Handler());
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => guarded.PostAsync($"http://localhost:{port}/hook", new StringContent("{}")));
        Assert.True(OutboundAddressGuard.Refused(refused, out var reason), refused.ToString());
        Assert.Contains("127.0.0.1", reason);
        Assert.Equal(0, calls());
    }

    [Fact]
    public async Task An_sms_gateway_whose_name_resolves_to_loopback_is_refused_at_send_time_without_a_retry()
    {
        var (app, port, calls) = await ReceiverAsync();
        await using var _ = app;
        var settings = new Actors.Channels.Sms.SmsSettings { GatewayUrl = $"http://{Dns.GetHostName()}:{port}/hook", Timeout = TimeSpan.FromSeconds(2) };
        await using var services = new ServiceCollection().AddLogging()
            .AddSingleton<Microsoft.Extensions.Configuration.IConfiguration>(new Microsoft.Extensions.Configuration.ConfigurationBuilder()
                .AddInMemoryCollection([new(OutboundAddressGuard.AllowSetting, "false")]).Build())
            .AddSingleton<IMessageRenderer>(TestRenderer.Fixed("Subject", "Your order has shipped"))
            .AddSmsGateway(settings).BuildServiceProvider();

        var result = await services.GetRequiredService<Actors.Channels.Sms.SmsGatewayProvider>()
            .SendAsync(TestMessages.For("sms", phone: "+33612345678"), Actors.Channels.Delivery.SendTurns.Now, CancellationToken.None);
        Assert.Equal(DeliveryStatus.Rejected, result.Status); // permanent: the outbox does not retry it
        Assert.Contains("outbound_address_refused", result.Error);
        Assert.Equal(0, calls());
    }

    [Fact]
    public async Task An_sms_gateway_on_a_private_address_stops_the_host_from_starting()
    {
        var connection = await TestPostgres.CreateDatabaseAsync(nameof(An_sms_gateway_on_a_private_address_stops_the_host_from_starting));
        try
        {
            await using var refused = await Actors.Silo.Hosting.ActorsHost.CreateAsync(
            [
                $"--ConnectionStrings:Postgres={connection}", "--urls=http://127.0.0.1:0",
                $"--Actors:Silo:SiloPort={FreePorts.Next()}", $"--Actors:Silo:GatewayPort={FreePorts.Next()}",
                "--Actors:Sms:GatewayUrl=http://10.0.0.5/sms", "--Logging:LogLevel:Default=Critical",
            ]);
            var error = await Assert.ThrowsAnyAsync<Exception>(() => refused.App.StartAsync());
            Assert.Contains("Actors:Sms:GatewayUrl", error.ToString());
        }
        finally
        {
            await TestPostgres.DropDatabaseAsync(connection);
        }
    }
}
