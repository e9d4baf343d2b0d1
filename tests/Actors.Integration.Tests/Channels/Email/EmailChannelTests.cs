using System.Text.RegularExpressions;
using Actors.Channels.Delivery;
using Actors.Channels.Email;
using Actors.Channels.Links;
using Actors.Domain.Channels;
using Actors.Integration.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using MimeKit;

namespace Actors.Integration.Tests.Channels.Email;

/// <summary>The host's installation secret (in PostgreSQL) signs the links; one SMTP sink serves the tests that need no server of their own.</summary>
public sealed class EmailChannelFixture : HostFixture, IDisposable
{
    public SmtpSink Sink { get; } = SmtpSink.Start();

    public MessageLinks Links => Host.App.Services.GetRequiredService<MessageLinks>();

    public void Dispose() => Sink.Dispose();
}

/// <summary>
/// The email provider as the dispatcher will use it (resolved from DI as an <see cref="IChannelProvider"/>), sending to
/// a real SMTP server on loopback, or writing .eml files; what arrives is parsed with MimeKit.
/// </summary>
public sealed class EmailChannelTests(EmailChannelFixture fixture) : IClassFixture<EmailChannelFixture>, IDisposable
{
    private const string BaseUrl = "https://links.shop.example";
    private static readonly TimeSpan Arrival = TimeSpan.FromSeconds(20);
    private readonly List<ServiceProvider> _providers = [];

    private IChannelProvider Email(SmtpSink? sink = null, params (string Key, string? Value)[] settings) => EmailOf(Services(sink ?? fixture.Sink, settings));

    private static IChannelProvider EmailOf(ServiceProvider services) => services.GetServices<IChannelProvider>().Single(p => p.Channel == "email");

    private ServiceProvider Services(SmtpSink? sink, params (string Key, string? Value)[] settings) => Build(Collection(sink, settings));

    /// <summary>The email provider with the given transport in place of the configured one.</summary>
    private IChannelProvider EmailThrough(IEmailTransport transport)
    {
        var services = Collection(null);
        services.AddSingleton(transport);
        return EmailOf(Build(services));
    }

    private ServiceProvider Build(ServiceCollection services)
    {
        var provider = services.BuildServiceProvider();
        _providers.Add(provider);
        return provider;
    }

    private ServiceCollection Collection(SmtpSink? sink, params (string Key, string? Value)[] settings)
    {
        var configuration = new Dictionary<string, string?> { ["Actors:Channels:PublicBaseUrl"] = BaseUrl };
        foreach (var (key, value) in sink?.Configuration() ?? []) configuration[key] = value;
        foreach (var (key, value) in settings) configuration[key] = value;
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(configuration).Build());
        services.AddLogging();
        services.AddSingleton(fixture.Links); // the host's: its secret is the one the tracking routes check
        services.AddSingleton<IMessageRenderer, EmailTestRenderer>();
        services.AddEmailChannel();
        return services;
    }

    public void Dispose()
    {
        foreach (var provider in _providers) provider.Dispose();
    }

    private static OutboundMessage Message(string? email, string kind = "Marketing", string template = "cart-reminder", string? key = null)
    {
        var profileId = $"anon:{Guid.NewGuid():N}";
        return new OutboundMessage(
            key ?? $"{profileId}:j-cart:1:remind:1", profileId, "email", template, "shoes", null, kind, "j-cart", 1, "remind",
            new DateTimeOffset(2026, 11, 29, 18, 0, 0, TimeSpan.Zero),
            new MessageRecipient(profileId, null, email, null, "lead", new Dictionary<string, string> { ["firstName"] = "Ada" }, [], [], [], null));
    }

    private static string Address(string local = "ada") => $"{local}-{Guid.NewGuid():N}@mail.example";

    private Task<IReadOnlyList<MimeMessage>> Arrived(OutboundMessage message, int count = 1, SmtpSink? sink = null) =>
        (sink ?? fixture.Sink).WaitForAsync(count, Arrival, m => m.Headers[EmailComposer.MessageKeyHeader] == message.MessageKey);

    private static string TokenOf(string url, string route)
    {
        Assert.StartsWith($"{BaseUrl}{route}", url);
        return url[$"{BaseUrl}{route}".Length..];
    }

    [Fact]
    public async Task Delivers_text_and_HTML_with_its_key_one_click_unsubscribe_an_open_pixel_and_signed_click_links()
    {
        var message = Message(Address());
        var result = await Email().SendAsync(message, CancellationToken.None);
        Assert.Equal(DeliveryStatus.Accepted, result.Status);
        Assert.Contains("queued as", result.ProviderMessageId); // the server's answer

        var email = Assert.Single(await Arrived(message));
        Assert.Equal(message.Recipient.Email, Assert.Single(email.To.Mailboxes).Address);
        Assert.Equal(message.Recipient.Email, email.Headers[SmtpSink.EnvelopeToHeader]);
        Assert.Equal("shop@localhost", Assert.Single(email.From.Mailboxes).Address);
        Assert.Equal("Your cart is waiting, Ada", email.Subject);
        Assert.Equal("multipart/alternative", email.Body!.ContentType.MimeType);
        Assert.Equal($"Hi Ada, your cart is waiting: {EmailTestRenderer.CartUrl}", email.TextBody!.Trim());

        // The Message-ID is a function of the key alone (sha-256, 32 hex digits) at the sender's domain.
        Assert.Matches("^[0-9a-f]{32}\\.actors@localhost$", email.MessageId);
        // A resend is the same email: the same Message-ID, by which a mailbox provider can drop the duplicate.
        Assert.Equal(DeliveryStatus.Accepted, (await Email().SendAsync(message, default)).Status);
        Assert.Equal(email.MessageId, (await Arrived(message, 2))[1].MessageId);
        Assert.NotEqual(email.MessageId, (await Compose(Message(Address()))).MessageId);

        // RFC 8058: an https unsubscribe address our /m/u route accepts for this visitor and message, and the one-click POST.
        var unsubscribe = email.Headers[HeaderId.ListUnsubscribe]!;
        Assert.Matches("^<[^<>\\s]+>$", unsubscribe);
        var unsubscribeClaims = await fixture.Links.ReadAsync(TokenOf(unsubscribe[1..^1], "/m/u/"), LinkPurpose.Unsubscribe);
        Assert.NotNull(unsubscribeClaims);
        Assert.Equal((message.ProfileId, message.MessageKey, "email"), (unsubscribeClaims.ProfileId, unsubscribeClaims.MessageKey, unsubscribeClaims.Channel));
        Assert.Equal("List-Unsubscribe=One-Click", email.Headers[HeaderId.ListUnsubscribePost]);

        var html = email.HtmlBody!;
        // The pixel: last thing in the body, an /m/o link whose token is an open of this message.
        var pixel = Regex.Match(html, "<img src=\"([^\"]+)\" width=\"1\" height=\"1\"[^>]*/></body>");
        Assert.True(pixel.Success, html);
        var open = await fixture.Links.ReadAsync(TokenOf(System.Net.WebUtility.HtmlDecode(pixel.Groups[1].Value), "/m/o/"), LinkPurpose.Open);
        Assert.Equal((message.ProfileId, message.MessageKey, "email"), (open!.ProfileId, open.MessageKey, open.Channel));

        // Shop links became signed clicks to the decoded address; ours, mailto: and relative links are left alone.
        var hrefs = Regex.Matches(html, "href=[\"']([^\"']*)[\"']", RegexOptions.IgnoreCase).Select(m => System.Net.WebUtility.HtmlDecode(m.Groups[1].Value)).ToList();
        Assert.Equal(5, hrefs.Count);
        var destinations = new List<string>();
        foreach (var click in hrefs.Where(h => h.StartsWith($"{BaseUrl}/m/c/", StringComparison.Ordinal)))
        {
            var claims = await fixture.Links.ReadAsync(TokenOf(click, "/m/c/"), LinkPurpose.Click);
            Assert.Equal((message.ProfileId, message.MessageKey, "email"), (claims!.ProfileId, claims.MessageKey, claims.Channel));
            destinations.Add(claims.Url!);
        }
        Assert.Equal([EmailTestRenderer.CartUrl, EmailTestRenderer.ProductUrl], destinations);
        Assert.Contains("mailto:help@shop.example", hrefs);
        Assert.Contains("/relative/page", hrefs);
        Assert.Single(hrefs, h => h.StartsWith($"{BaseUrl}/m/u/", StringComparison.Ordinal));
    }

    private Task<MimeMessage> Compose(OutboundMessage message) => ComposeWith(Services(null).GetRequiredService<EmailComposer>(), message);

    private static Task<MimeMessage> ComposeWith(EmailComposer composer, OutboundMessage message) =>
        composer.ComposeAsync(message, new RenderedMessage("s", "<p>x</p>", "x"), EmailComposer.Recipient(message.Recipient.Email)!);

    /// <summary>
    /// The composer lives as long as the node; the emails it composes must not. MimeKit's address lists subscribe to
    /// their addresses' events, so a sender address shared by every From kept every email ever composed alive (about
    /// 10 KB each: a million emails, 10 GB).
    /// </summary>
    [Fact]
    public async Task Composed_emails_are_not_kept_alive_by_the_composer()
    {
        var composer = Services(null).GetRequiredService<EmailComposer>();
        var composed = await Task.Run(() => ComposeAndForgetAsync(composer, 50));
        for (var i = 0; i < 3; i++)
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }
        // The last one may still sit in a register or a stack slot of this thread; the rest must be gone.
        Assert.True(composed.Count(c => c.IsAlive) <= 1, $"{composed.Count(c => c.IsAlive)} of {composed.Length} composed emails are still alive");
        GC.KeepAlive(composer);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static async Task<WeakReference[]> ComposeAndForgetAsync(EmailComposer composer, int count)
    {
        var composed = new WeakReference[count];
        for (var i = 0; i < count; i++) composed[i] = new WeakReference(await ComposeWith(composer, Message(Address())));
        return composed;
    }

    [Fact]
    public async Task Each_email_carries_the_configured_sender_with_its_display_name()
    {
        var composer = Services(null, ("Actors:Email:From", "Ünïcode Shop <news@shop.example>")).GetRequiredService<EmailComposer>();
        var message = Message(Address());
        var first = await ComposeWith(composer, message);
        var second = await ComposeWith(composer, message);
        foreach (var email in new[] { first, second })
        {
            var from = Assert.Single(email.From.Mailboxes);
            Assert.Equal(("Ünïcode Shop", "news@shop.example"), (from.Name, from.Address));
        }
        // Each its own: an address shared by two messages is what kept every message alive.
        Assert.NotSame(first.From.Mailboxes.Single(), second.From.Mailboxes.Single());
        // Written and read back as a mailbox provider would.
        using var stream = new MemoryStream();
        await first.WriteToAsync(stream);
        stream.Position = 0;
        var parsed = Assert.Single((await MimeMessage.LoadAsync(stream)).From.Mailboxes);
        Assert.Equal(("Ünïcode Shop", "news@shop.example"), (parsed.Name, parsed.Address));
    }

    /// <summary>
    /// Headers that need no encoding are written as they are (ASCII on one short line); any other value goes through
    /// MimeKit's encoding and folding. Either way a mail client reads back exactly what was meant, and the
    /// List-Unsubscribe header carries the render's own unsubscribe link when it made one.
    /// </summary>
    [Theory]
    [InlineData("Your cart is waiting", "anon:plain:j-cart:1:remind:1")]
    [InlineData("", "anon:empty:j-cart:1:remind:1")]
    [InlineData("Your cart", "anon:0b7f3c2e9a4d4f1e8c6b5a3d2e1f0a9b:journey-with-a-rather-long-name:12:second-reminder:3")]
    [InlineData("Dein Warenkorb wartet, Jürgen 🛒", "anon:jürgen:j-cart:1:remind:1")]
    [InlineData("A subject long enough that it cannot stay on one line of a header, so that it has to be folded at a space", "anon:x:j:1:s:1")]
    [InlineData("two  spaces and a tab\tinside", "anon:z:j:1:s:1")]
    public async Task Headers_read_back_as_they_were_meant_whether_written_plain_or_encoded(string subject, string key)
    {
        var composer = Services(null).GetRequiredService<EmailComposer>();
        var message = Message(Address(), key: key);
        var unsubscribe = $"{BaseUrl}/m/u/from-the-render";
        using var email = await composer.ComposeAsync(message, new RenderedMessage(subject, "<p>x</p>", "x", UnsubscribeUrl: unsubscribe), EmailComposer.Recipient(message.Recipient.Email)!);
        using var stream = new MemoryStream();
        await email.WriteToAsync(FormatOptions.Default, stream);
        var bytes = stream.ToArray();
        Assert.All(System.Text.Encoding.ASCII.GetString(bytes).Split('\n'), line => Assert.True(line.TrimEnd('\r').Length <= 998, line));
        stream.Position = 0;
        var parsed = await MimeMessage.LoadAsync(stream);
        Assert.Equal(subject, parsed.Subject);
        Assert.Equal(key, parsed.Headers[EmailComposer.MessageKeyHeader]);
        Assert.Equal(message.DecidedAt, parsed.Date);
        Assert.Equal(composer.MessageIdFor(key), parsed.MessageId);
        Assert.Equal($"<{unsubscribe}>", parsed.Headers[HeaderId.ListUnsubscribe]);
        Assert.Equal("List-Unsubscribe=One-Click", parsed.Headers[HeaderId.ListUnsubscribePost]);
        Assert.Equal(message.Recipient.Email, Assert.Single(parsed.To.Mailboxes).Address);
        Assert.Equal("shop@localhost", Assert.Single(parsed.From.Mailboxes).Address);
        // One of each: no default the message made for itself is left beside ours.
        foreach (var id in new[] { HeaderId.Date, HeaderId.Subject, HeaderId.MessageId, HeaderId.From, HeaderId.To })
            Assert.Single(parsed.Headers, h => h.Id == id);
    }

    /// <summary>
    /// What a template or a profile could put in a header that is not plain (a NUL, a lone surrogate) goes through
    /// MimeKit's encoder, and a key made of the longest ids the API takes (200 characters) stays one line: the email is
    /// still composed, every line stays within 998 characters, and the key reads back whole.
    /// </summary>
    [Fact]
    public async Task Hostile_header_values_are_encoded_not_written_raw()
    {
        var composer = Services(null).GetRequiredService<EmailComposer>();
        var key = new string('k', 200) + ":" + new string('j', 200) + ":1:send:1";
        var message = Message(Address(), key: key);
        using var email = await composer.ComposeAsync(message, new RenderedMessage("nul\0 and \ud800 alone", "<p>x</p>", "x"), EmailComposer.Recipient(message.Recipient.Email)!);
        using var stream = new MemoryStream();
        await email.WriteToAsync(FormatOptions.Default, stream);
        Assert.All(System.Text.Encoding.ASCII.GetString(stream.ToArray()).Split('\n'), line => Assert.True(line.TrimEnd('\r').Length <= 998, line[..Math.Min(line.Length, 80)]));
        stream.Position = 0;
        var parsed = await MimeMessage.LoadAsync(stream);
        Assert.Equal(key, parsed.Headers[EmailComposer.MessageKeyHeader]);
        Assert.StartsWith("nul", parsed.Subject);
    }

    /// <summary>
    /// MimeKit's messages and parts have finalizers: an email left to the collector instead of disposed lived through
    /// its first collection with all it holds, so every email sent made the node's collections longer (and every one a
    /// gen1). Whatever the transport makes of it, the email is disposed once the provider is done with it.
    /// </summary>
    [Theory]
    [InlineData("accepted")]
    [InlineData("retry")]
    [InlineData("throws")]
    public async Task The_email_handed_to_the_transport_is_disposed_once_the_provider_is_done_with_it(string outcome)
    {
        var transport = new RecordingTransport(outcome);
        var message = Message(Address());
        var send = EmailThrough(transport).SendAsync(message, default);
        if (outcome == "throws") await Assert.ThrowsAsync<IOException>(() => send);
        else Assert.Equal(outcome == "accepted" ? DeliveryStatus.Accepted : DeliveryStatus.RetryLater, (await send).Status);

        // The transport had the whole email while it sent.
        var written = await MimeMessage.LoadAsync(new MemoryStream(transport.Written!));
        Assert.Equal(message.MessageKey, written.Headers[EmailComposer.MessageKeyHeader]);
        Assert.Contains("Ada", written.TextBody);
        // Nothing of it is left for a finalizer afterwards: its parts are closed.
        Assert.Throws<ObjectDisposedException>(() => transport.Email!.WriteTo(Stream.Null));
    }

    private sealed class RecordingTransport(string outcome) : IEmailTransport
    {
        public MimeMessage? Email { get; private set; }
        public byte[]? Written { get; private set; }

        public async Task<DeliveryResult> SendAsync(MimeMessage email, OutboundMessage message, CancellationToken ct)
        {
            Email = email;
            using var stream = new MemoryStream();
            await email.WriteToAsync(stream, ct);
            Written = stream.ToArray();
            return outcome switch
            {
                "accepted" => DeliveryResult.Accepted("250 queued"),
                "retry" => DeliveryResult.Retry("smtp_transient: 451 try later"),
                _ => throw new IOException("connection reset by the server"),
            };
        }
    }

    [Fact]
    public async Task A_transactional_message_carries_no_unsubscribe_headers_but_is_tracked()
    {
        var message = Message(Address(), kind: "Transactional");
        Assert.Equal(DeliveryStatus.Accepted, (await Email().SendAsync(message, default)).Status);
        var email = Assert.Single(await Arrived(message));
        Assert.Null(email.Headers[HeaderId.ListUnsubscribe]);
        Assert.Null(email.Headers[HeaderId.ListUnsubscribePost]);
        Assert.Contains($"{BaseUrl}/m/o/", email.HtmlBody);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("not-an-address")]
    [InlineData("ada@")]
    [InlineData("ada@mail.example, eve@mail.example")]
    [InlineData("ada@mail.example\r\nBcc: eve@mail.example")]
    public async Task No_usable_address_is_rejected_without_rendering_or_sending(string? email)
    {
        var result = await Email().SendAsync(Message(email), default);
        Assert.Equal(DeliveryStatus.Rejected, result.Status);
        Assert.Equal("no_email_address", result.Error);
        Assert.True(result.Unreachable); // an expected outcome, logged at Debug by the shard
    }

    [Fact]
    public async Task An_unknown_template_or_an_empty_rendering_is_rejected()
    {
        var missing = await Email().SendAsync(Message(Address(), template: "missing"), default);
        Assert.Equal((DeliveryStatus.Rejected, "template_not_found: missing", false), (missing.Status, missing.Error, missing.Unreachable));
        var empty = await Email().SendAsync(Message(Address(), template: "empty"), default);
        Assert.Equal(DeliveryStatus.Rejected, empty.Status);
        Assert.StartsWith("empty_message", empty.Error);
    }

    [Fact]
    public async Task A_550_recipient_is_a_permanent_bounce_and_the_connection_goes_on_serving()
    {
        var email = Email(settings: ("Actors:Email:Smtp:Connections", "1"));
        var bounced = await email.SendAsync(Message(Address("reject")), default);
        Assert.Equal(DeliveryStatus.Rejected, bounced.Status);
        Assert.StartsWith("permanent_bounce: mailbox unavailable (550", bounced.Error);

        var next = Message(Address());
        Assert.Equal(DeliveryStatus.Accepted, (await email.SendAsync(next, default)).Status);
        Assert.Single(await Arrived(next));
    }

    [Fact]
    public async Task A_451_recipient_is_tried_again_later()
    {
        var deferred = await Email().SendAsync(Message(Address("defer")), default);
        Assert.Equal(DeliveryStatus.RetryLater, deferred.Status);
        Assert.StartsWith("smtp_transient: 451", deferred.Error);
    }

    [Fact]
    public async Task A_stopped_server_means_try_again_later_and_a_restarted_one_is_reconnected_to()
    {
        using var sink = SmtpSink.Start();
        var email = Email(sink, ("Actors:Email:Smtp:Connections", "2"), ("Actors:Email:Smtp:TimeoutSeconds", "5"));
        var first = Message(Address());
        Assert.Equal(DeliveryStatus.Accepted, (await email.SendAsync(first, default)).Status); // a pooled connection is open now
        await Arrived(first, sink: sink);

        sink.Stop();
        var whileDown = await email.SendAsync(Message(Address()), default);
        Assert.Equal(DeliveryStatus.RetryLater, whileDown.Status);
        Assert.StartsWith("smtp_unavailable", whileDown.Error);
        // Nothing listens at all: a fresh connection is refused.
        Assert.Equal(DeliveryStatus.RetryLater, (await email.SendAsync(Message(Address()), default)).Status);

        // Another server on another port: a new provider with the same code connects and delivers.
        var after = Message(Address());
        Assert.Equal(DeliveryStatus.Accepted, (await Email().SendAsync(after, default)).Status);
        Assert.Single(await Arrived(after));
    }

    [Fact]
    public async Task The_pool_sends_200_messages_at_once_and_each_arrives_exactly_once()
    {
        using var sink = SmtpSink.Start();
        var email = Email(sink, ("Actors:Email:Smtp:Connections", "4"));
        var messages = Enumerable.Range(0, 200).Select(_ => Message(Address())).ToList();
        var results = await Task.WhenAll(messages.Select(m => Task.Run(() => email.SendAsync(m, default))));
        Assert.All(results, r => Assert.Equal(DeliveryStatus.Accepted, r.Status));

        var arrived = await sink.WaitForAsync(200, Arrival);
        await Task.Delay(300); // anything extra would show up now
        arrived = sink.Messages();
        Assert.Equal(200, arrived.Count);
        Assert.Equal(
            messages.Select(m => m.MessageKey).Order(StringComparer.Ordinal),
            arrived.Select(m => m.Headers[EmailComposer.MessageKeyHeader]).Order(StringComparer.Ordinal));
        Assert.All(arrived, m => Assert.Equal(m.Headers[EmailComposer.MessageKeyHeader], messages.Single(x => x.Recipient.Email == m.To.Mailboxes.Single().Address).MessageKey));
    }

    [Fact]
    public async Task A_configured_login_is_used_and_a_wrong_password_means_try_again_later()
    {
        using var sink = SmtpSink.Start("mailer:s3cret");
        var accepted = Message(Address());
        var result = await Email(sink, ("Actors:Email:Smtp:User", "mailer"), ("Actors:Email:Smtp:Password", "s3cret")).SendAsync(accepted, default);
        Assert.Equal(DeliveryStatus.Accepted, result.Status);
        await Arrived(accepted, sink: sink);

        var wrong = await Email(sink, ("Actors:Email:Smtp:User", "mailer"), ("Actors:Email:Smtp:Password", "nope")).SendAsync(Message(Address()), default);
        Assert.Equal(DeliveryStatus.RetryLater, wrong.Status);
        Assert.Contains("Authentication", wrong.Error);
    }

    [Fact]
    public async Task Without_an_SMTP_host_each_email_is_an_eml_file_under_the_folder_and_a_resend_replaces_it()
    {
        var folder = Path.Combine(Path.GetTempPath(), $"actors-eml-{Guid.NewGuid():N}");
        try
        {
            var services = Services(null, ("Actors:Email:Folder", folder));
            Assert.IsType<EmlFileTransport>(services.GetRequiredService<IEmailTransport>());
            var email = services.GetServices<IChannelProvider>().Single(p => p.Channel == "email");
            var message = Message(Address());

            var first = await email.SendAsync(message, default);
            var second = await email.SendAsync(message, default);
            Assert.Equal(DeliveryStatus.Accepted, first.Status);
            Assert.Equal(first.ProviderMessageId, second.ProviderMessageId);

            // One file, in the folder of the day the message was decided, named after its key; no temporary files left.
            var file = Assert.Single(Directory.GetFiles(folder, "*", SearchOption.AllDirectories));
            Assert.Equal(first.ProviderMessageId, file);
            Assert.Equal(Path.Combine(folder, "2026-11-29"), Path.GetDirectoryName(file));
            Assert.Matches("^anon_[0-9a-f]{32}_j-cart_1_remind_1-[0-9a-f]{12}\\.eml$", Path.GetFileName(file));

            var parsed = await MimeMessage.LoadAsync(file);
            Assert.Equal(message.MessageKey, parsed.Headers[EmailComposer.MessageKeyHeader]);
            Assert.Equal(message.Recipient.Email, parsed.To.Mailboxes.Single().Address);
            Assert.Contains("Back to your cart", parsed.HtmlBody);
            Assert.NotNull(parsed.TextBody);

            // Another message of the same day is another file.
            Assert.Equal(DeliveryStatus.Accepted, (await email.SendAsync(Message(Address()), default)).Status);
            Assert.Equal(2, Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Length);
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void The_transport_is_chosen_by_configuration_and_UseTls_maps_to_MailKit()
    {
        Assert.IsType<SmtpTransport>(Services(fixture.Sink).GetRequiredService<IEmailTransport>());
        Assert.Equal(MailKit.Security.SecureSocketOptions.Auto, EmailSettings.Read(Configuration([])).SocketOptions);
        Assert.Equal(MailKit.Security.SecureSocketOptions.StartTls, EmailSettings.Read(Configuration([("Smtp:UseTls", "true"), ("Smtp:Port", "587")])).SocketOptions);
        Assert.Equal(MailKit.Security.SecureSocketOptions.SslOnConnect, EmailSettings.Read(Configuration([("Smtp:UseTls", "true"), ("Smtp:Port", "465")])).SocketOptions);
        Assert.Equal(MailKit.Security.SecureSocketOptions.None, EmailSettings.Read(Configuration([("Smtp:UseTls", "false")])).SocketOptions);
        var bad = Assert.Throws<InvalidOperationException>(() => EmailSettings.Read(Configuration([("Smtp:Port", "nope")])));
        Assert.Contains("Actors:Email:Smtp:Port", bad.Message);
    }

    [Fact]
    public void The_host_without_an_SMTP_server_writes_eml_files_under_its_data_folder()
    {
        var services = fixture.Host.App.Services;
        Assert.IsType<EmlFileTransport>(services.GetRequiredService<IEmailTransport>());
        var expected = Path.Combine(Actors.Silo.Hosting.DatabaseSetup.DataDirectory(services.GetRequiredService<IConfiguration>()), "mail");
        Assert.Equal(expected, services.GetRequiredService<EmailSettings>().Folder);
    }

    private static IConfiguration Configuration((string Key, string Value)[] settings) =>
        new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>($"Actors:Email:{s.Key}", s.Value))).Build();
}
