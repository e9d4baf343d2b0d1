using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Actors.Integration.Tests.Journeys;
using Actors.Integration.Tests.Support;
using MimeKit;

namespace Actors.Integration.Tests.Channels;

/// <summary>The host with a real SMTP server on loopback, links pointing back at the host itself.</summary>
public sealed class EmailJourneyFixture : HostFixture
{
    public SmtpSink Sink { get; } = SmtpSink.Start();
    public int Port { get; } = FreePorts.Next();

    protected override IEnumerable<string> ExtraArguments() =>
    [
        $"--urls=http://127.0.0.1:{Port}",
        $"--Actors:Channels:PublicBaseUrl=http://127.0.0.1:{Port}",
        "--Actors:Messages:QuietFrom=00:00", "--Actors:Messages:QuietUntil=00:00",
        "--Actors:Channels:PollEvery=00:00:00.200",
        "--Actors:Segments:JourneyRecheckEvery=00:00:01",
        .. Sink.Arguments(),
    ];

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Sink.Dispose();
    }
}

/// <summary>
/// Journeys that end in a mailbox: the decision in the visitor's grain, the outbox, the email shard, MailKit, a real
/// SMTP server; then the visitor's own links (tracked click, one-click unsubscribe) back through the host.
/// </summary>
public class EmailJourneyTests(EmailJourneyFixture host) : IClassFixture<EmailJourneyFixture>
{
    private readonly HttpClient _marketing = host.Client(HostFixture.MarketingKey);
    private readonly HttpClient _ingest = host.Client();
    private readonly HttpClient _admin = host.Client(HostFixture.AdminKey);
    private readonly HttpClient _visitor = new(new HttpClientHandler { AllowAutoRedirect = false }); // a mail client's browser: no key

    private async Task<string> Template()
    {
        var id = "cart-" + Guid.NewGuid().ToString("N")[..8];
        var response = await _marketing.PutAsJsonAsync($"/v1/templates/{id}", new
        {
            channel = "email",
            subject = "{{ visitor.first_name }}, your cart is waiting",
            text = "You left {{ cart_count }} item(s). Manage: {{ preferences_url }}",
            html = "<p>Hi {{ visitor.first_name }}</p><p><a href=\"https://shop.example/cart?x=1&amp;y=2\">Back to your cart</a></p>",
        });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return id;
    }

    private async Task<string> CartJourney(string category, string template, string kind = "marketing")
    {
        var id = $"je-{Guid.NewGuid():N}"[..20];
        var journey = new
        {
            name = "Cart email " + id,
            trigger = new { @event = "cart_item_added", category },
            start = "wait",
            steps = new object[]
            {
                new { id = "wait", wait = new { duration = "PT2S" }, next = "remind" },
                new { id = "remind", send = new { channel = "email", template, kind } },
            },
            goal = new { @event = "order_placed", attributionWindow = "P7D" },
        };
        var create = await _marketing.PostAsJsonAsync("/v1/journeys", new { id, journey });
        Assert.True(create.StatusCode == HttpStatusCode.Created, await create.Content.ReadAsStringAsync());
        var publish = await _marketing.PostAsync($"/v1/journeys/{id}/publish", null);
        Assert.True(publish.IsSuccessStatusCode, await publish.Content.ReadAsStringAsync());
        return id;
    }

    private async Task Track(string visitor, string name, object properties)
    {
        var response = await _ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events", new { @event = name, messageId = $"{visitor}-{Guid.NewGuid():N}", properties });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>An anonymous shopper who gave their email and first name through a form (an anonymous identify's traits).</summary>
    private async Task<(string Visitor, string Email)> Shopper(bool consent, string prefix = "")
    {
        var visitor = $"em-{Guid.NewGuid():N}";
        var email = $"{prefix}{visitor}@example.com";
        var response = await _ingest.PostAsJsonAsync("/v1/identify", new { anonymousId = visitor, messageId = $"{visitor}-id", traits = new { email, firstName = "Ana" } });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        if (consent) await Track(visitor, "Consent Given", new { channel = "email", purpose = "marketing" });
        return (visitor, email);
    }

    private async Task<List<JsonElement>> Events(string visitor, string type) =>
        [.. (await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/events?type={type}&limit=1000")).GetProperty("items").EnumerateArray()];

    private async Task<List<JsonElement>> WaitForEvents(string visitor, string type, int count, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            var found = await Events(visitor, type);
            if (found.Count >= count || DateTime.UtcNow > deadline) return found;
            await Task.Delay(200);
        }
    }

    private List<MimeMessage> MailTo(string email) =>
        [.. host.Sink.Messages().Where(m => m.To.Mailboxes.Any(b => b.Address == email))];

    [Fact]
    public async Task A_consenting_visitor_who_leaves_the_cart_gets_exactly_one_email_after_the_wait_and_its_links_work()
    {
        var category = $"c{Guid.NewGuid():N}"[..12];
        var journey = await CartJourney(category, await Template());
        var (visitor, email) = await Shopper(consent: true);
        await Track(visitor, "Product Added", new { product_id = "sku-1", price = 20, quantity = 1, category });
        Assert.Empty(MailTo(email)); // the wait first

        var arrived = await host.Sink.WaitForAsync(1, TimeSpan.FromSeconds(30), m => m.To.Mailboxes.Any(b => b.Address == email));
        var mail = Assert.Single(arrived);
        Assert.Equal("Ana, your cart is waiting", mail.Subject);
        Assert.Contains("You left 1 item(s).", mail.TextBody);
        var decided = Assert.Single(await Events(visitor, "message_decided"));
        var key = decided.GetProperty("data").GetProperty("messageKey").GetString()!;
        Assert.Equal(key, mail.Headers["X-Actors-Message-Key"]);
        var sent = Assert.Single(await WaitForEvents(visitor, "message_sent", 1, TimeSpan.FromSeconds(20)));
        Assert.Equal(key, sent.GetProperty("data").GetProperty("messageKey").GetString());
        await Task.Delay(1500);
        Assert.Single(MailTo(email)); // exactly one

        // The tracked link: a click is recorded and the visitor lands on the shop's page.
        var click = Regex.Match(mail.HtmlBody ?? "", "href=\"(http://127\\.0\\.0\\.1:\\d+/m/c/[^\"]+)\"").Groups[1].Value;
        Assert.NotEmpty(click);
        var redirect = await _visitor.GetAsync(click);
        Assert.Equal(HttpStatusCode.Redirect, redirect.StatusCode);
        Assert.Equal("https://shop.example/cart?x=1&y=2", redirect.Headers.Location!.ToString());
        var clicked = Assert.Single(await Events(visitor, "message_clicked"));
        Assert.Equal(key, clicked.GetProperty("data").GetProperty("messageKey").GetString());

        // RFC 8058 one-click unsubscribe, as a mailbox provider sends it: consent withdrawn, no page needed.
        Assert.Equal("List-Unsubscribe=One-Click", mail.Headers["List-Unsubscribe-Post"]);
        var unsubscribe = Regex.Match(mail.Headers["List-Unsubscribe"] ?? "", "<(http[^>]+)>").Groups[1].Value;
        var oneClick = await _visitor.PostAsync(unsubscribe, new FormUrlEncodedContent([new("List-Unsubscribe", "One-Click")]));
        Assert.Equal(HttpStatusCode.OK, oneClick.StatusCode);
        var withdrawn = Assert.Single(await Events(visitor, "consent_withdrawn"));
        Assert.Equal(("email", "marketing"), (withdrawn.GetProperty("data").GetProperty("channel").GetString(), withdrawn.GetProperty("data").GetProperty("purpose").GetString()));

        var figures = await _marketing.GetFromJsonAsync<JsonElement>($"/v1/journeys/{journey}/figures");
        var remind = figures.GetProperty("deliveryByStep").GetProperty("remind");
        Assert.Equal((1, 1), (remind.GetProperty("sent").GetInt64(), remind.GetProperty("clicked").GetInt64()));
    }

    [Fact]
    public async Task No_email_after_an_order_within_the_wait_nor_without_consent()
    {
        var category = $"c{Guid.NewGuid():N}"[..12];
        await CartJourney(category, await Template());
        var (buyer, buyerEmail) = await Shopper(consent: true);
        var (stranger, strangerEmail) = await Shopper(consent: false);
        await Track(buyer, "Product Added", new { product_id = "sku-1", price = 20, quantity = 1, category });
        await Track(stranger, "Product Added", new { product_id = "sku-1", price = 20, quantity = 1, category });
        await Track(buyer, "Order Completed", new { order_id = $"o-{buyer}", total = 20, currency = "EUR" });

        var refused = Assert.Single(await WaitForEvents(stranger, "message_decided", 1, TimeSpan.FromSeconds(30)));
        Assert.Equal("suppressed", refused.GetProperty("data").GetProperty("outcome").GetString());
        await Task.Delay(3000); // past the wait, and past a shard's poll
        Assert.Empty(await Events(buyer, "message_decided"));
        Assert.Empty(MailTo(buyerEmail));
        Assert.Empty(MailTo(strangerEmail));
        Assert.Single(await Events(buyer, "journey_goal_reached"));
    }

    [Fact]
    public async Task A_paused_visitor_receives_nothing_until_the_pause_ends()
    {
        var template = await Template();
        var (visitor, email) = await Shopper(consent: true);
        await Track(visitor, "Preferences Updated", new { paused_until = DateTimeOffset.UtcNow.AddSeconds(4) });

        var category = $"c{Guid.NewGuid():N}"[..12];
        await CartJourney(category, template);
        await Track(visitor, "Product Added", new { product_id = "sku-1", price = 20, quantity = 1, category });
        var paused = Assert.Single(await WaitForEvents(visitor, "message_decided", 1, TimeSpan.FromSeconds(30)));
        Assert.StartsWith("paused_until:", paused.GetProperty("data").GetProperty("reason").GetString());
        await Task.Delay(500);
        Assert.Empty(MailTo(email));

        await Task.Delay(TimeSpan.FromSeconds(4)); // the pause is over
        var later = $"c{Guid.NewGuid():N}"[..12];
        await CartJourney(later, template);
        await Track(visitor, "Product Added", new { product_id = "sku-2", price = 20, quantity = 1, category = later });
        Assert.Single(await host.Sink.WaitForAsync(1, TimeSpan.FromSeconds(30), m => m.To.Mailboxes.Any(b => b.Address == email)));
    }

    [Fact]
    public async Task A_refused_address_is_recorded_as_a_bounce_and_a_providers_delivery_report_as_delivered_once()
    {
        var category = $"c{Guid.NewGuid():N}"[..12];
        var journey = await CartJourney(category, await Template(), kind: "transactional");
        var (bouncing, _) = await Shopper(consent: false, prefix: "reject-"); // the sink answers 550 to reject…@
        var (reached, email) = await Shopper(consent: false);
        await Track(bouncing, "Product Added", new { product_id = "sku-1", price = 20, quantity = 1, category });
        await Track(reached, "Product Added", new { product_id = "sku-1", price = 20, quantity = 1, category });

        var bounced = Assert.Single(await WaitForEvents(bouncing, "message_bounced", 1, TimeSpan.FromSeconds(30)));
        Assert.True(bounced.GetProperty("data").GetProperty("permanent").GetBoolean());
        Assert.StartsWith("permanent_bounce", bounced.GetProperty("data").GetProperty("reason").GetString());
        Assert.Empty(await Events(bouncing, "message_sent"));

        // The address is gone: the next message to it is suppressed in the grain and never reaches the server.
        var again = $"c{Guid.NewGuid():N}"[..12];
        await CartJourney(again, await Template(), kind: "transactional");
        await Track(bouncing, "Product Added", new { product_id = "sku-2", price = 20, quantity = 1, category = again });
        var decisions = await WaitForEvents(bouncing, "message_decided", 2, TimeSpan.FromSeconds(30));
        Assert.Equal(("suppressed", "email_bounced"), (decisions[1].GetProperty("data").GetProperty("outcome").GetString(), decisions[1].GetProperty("data").GetProperty("reason").GetString()));

        await WaitForEvents(reached, "message_sent", 1, TimeSpan.FromSeconds(30));
        var key = (await Events(reached, "message_decided")).Single().GetProperty("data").GetProperty("messageKey").GetString()!;
        for (var i = 0; i < 2; i++) // a provider that repeats its report
        {
            var receipt = await _marketing.PostAsJsonAsync("/v1/channels/receipts", new { receipts = new object[] { new { messageKey = key, status = "delivered" }, new { messageKey = "no-such-key", status = "delivered" } } });
            Assert.True(receipt.IsSuccessStatusCode, await receipt.Content.ReadAsStringAsync());
            var results = (await receipt.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("results").EnumerateArray().Select(r => r.GetProperty("outcome").GetString()).ToList();
            Assert.Equal([i == 0 ? "recorded" : "duplicate", "unknown_message"], results);
        }
        Assert.Single(await Events(reached, "message_delivered"));
        Assert.Single(MailTo(email));

        var bad = await _marketing.PostAsJsonAsync("/v1/channels/receipts", new { receipts = new object[] { new { messageKey = key, status = "read\u0000" } } });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await _ingest.PostAsJsonAsync("/v1/channels/receipts", new { receipts = new object[] { new { messageKey = key, status = "delivered" } } })).StatusCode);

        var figures = await _marketing.GetFromJsonAsync<JsonElement>($"/v1/journeys/{journey}/figures");
        var remind = figures.GetProperty("deliveryByStep").GetProperty("remind");
        Assert.Equal((1, 1, 1), (remind.GetProperty("sent").GetInt64(), remind.GetProperty("bounced").GetInt64(), remind.GetProperty("delivered").GetInt64()));
    }
}
