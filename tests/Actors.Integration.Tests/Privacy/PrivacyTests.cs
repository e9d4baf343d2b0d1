using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Domain.Privacy;
using Actors.Integration.Tests.Channels;
using Actors.Integration.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Actors.Integration.Tests.Privacy;

/// <summary>
/// The host with a loopback SMTP server, fast journeys and webhooks, and every log line (Debug and up, every category)
/// and every trace span kept in memory, so a test can look for a person's data where an operator would.
/// </summary>
public sealed class PrivacyFixture : HostFixture, IAsyncLifetime // re-implemented, so xUnit calls the DisposeAsync below
{
    public SmtpSink Sink { get; } = SmtpSink.Start();
    public CapturingLoggerProvider Logs { get; } = new();
    public int Port { get; } = FreePorts.Next();
    public ConcurrentQueue<string> Spans { get; } = new();
    private readonly ActivityListener _listener;

    public PrivacyFixture()
    {
        // Every span of every source, with its tags and events, as an exporter would see it.
        _listener = new ActivityListener
        {
            ShouldListenTo = _ => true,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => Spans.Enqueue(string.Join(" ", [a.Source.Name, a.DisplayName, a.StatusDescription ?? "",
                .. a.TagObjects.Select(t => $"{t.Key}={t.Value}"), .. a.Events.Select(e => e.Name + string.Join(",", e.Tags.Select(t => $"{t.Key}={t.Value}"))),
                .. a.Baggage.Select(b => $"{b.Key}={b.Value}")])),
        };
        ActivitySource.AddActivityListener(_listener);
    }

    protected override IEnumerable<string> ExtraArguments() =>
    [
        $"--urls=http://127.0.0.1:{Port}", // the email's links come back here
        $"--Actors:Channels:PublicBaseUrl=http://127.0.0.1:{Port}",
        "--Actors:Messages:QuietFrom=00:00", "--Actors:Messages:QuietUntil=00:00",
        "--Actors:Channels:PollEvery=00:00:00.200",
        "--Actors:Channels:FirstRetryAfter=00:00:00.300", "--Actors:Channels:MaxRetryAfter=00:00:01",
        "--Actors:Webhooks:PollEvery=00:00:00.200", "--Actors:Webhooks:FirstRetryAfter=00:00:00.500",
        "--Actors:EventStore:SnapshotEvery=4", // so the person's profile is in a snapshot too
        "--Logging:LogLevel:Default=Debug",
        // …and the categories the shipped settings quiet down. Not Marten's and Npgsql's: at Debug they write every SQL
        // command with its parameters (rows of events and messages), a database trace an operator turns on knowingly
        // (README "Privacy"); at their shipped level (Warning) nothing personal is logged, which this scan covers.
        "--Logging:LogLevel:Microsoft.AspNetCore=Debug", "--Logging:LogLevel:Orleans=Debug", "--Logging:LogLevel:Polly=Debug",
        "--Logging:LogLevel:System.Net.Http.HttpClient=Debug",
        .. Sink.Arguments(),
    ];

    protected override void Customize(WebApplicationBuilder builder)
    {
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(Logs);
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _listener.Dispose();
        Sink.Dispose();
    }
}

/// <summary>Right to erasure, export, the audit log of admin reads, and no personal data in logs or traces.</summary>
public class PrivacyTests(PrivacyFixture host, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<PrivacyFixture>
{
    private readonly HttpClient _ingest = host.Client();
    private readonly HttpClient _marketing = host.Client(HostFixture.MarketingKey);
    private readonly HttpClient _admin = host.Client(HostFixture.AdminKey);

    private static string Unique() => Guid.NewGuid().ToString("N")[..10];

    private async Task Ok(Task<HttpResponseMessage> call)
    {
        var response = await call;
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    private Task Track(string visitor, string name, object properties) =>
        Ok(_ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events", new { @event = name, messageId = $"{visitor}-{Unique()}", properties }));

    private async Task<List<JsonElement>> Events(string visitor, string? type = null) =>
        [.. (await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/events?limit=1000{(type is null ? "" : $"&type={type}")}")).GetProperty("items").EnumerateArray()];

    private static async Task<T> Eventually<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan within, string what)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            var value = await read();
            if (done(value)) return value;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what}: not within {within}");
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task A_server_answer_that_quotes_the_address_is_kept_for_the_person_but_not_logged()
    {
        var id = Unique();
        var visitor = $"qv-{id}";
        var email = $"quote.{id}@example.com"; // the sink answers 550 quoting the address
        var category = $"qc{id}";
        await DatabaseScan.EmailJourneyAsync(_marketing, $"q{id}", category);
        await Ok(_ingest.PostAsJsonAsync("/v1/identify", new { anonymousId = visitor, messageId = $"{visitor}-id", traits = new { email, firstName = "Quinn" } }));
        await Track(visitor, "Consent Given", new { channel = "email", purpose = "marketing" });
        await Track(visitor, "Product Added", new { product_id = "sku-1", price = 5, quantity = 1, category });

        var bounced = await Eventually(() => Events(visitor, "message_bounced"), e => e.Count == 1, TimeSpan.FromSeconds(40), "message_bounced");
        Assert.Contains(email, bounced[0].GetProperty("data").GetProperty("reason").GetString()); // the server did quote it
        var logged = host.Logs.Entries.Where(e => e.Message.Contains(email, StringComparison.OrdinalIgnoreCase)).Select(e => $"{e.Category}: {e.Message}").ToList();
        Assert.True(logged.Count == 0, string.Join("\n", logged.Take(5)));
        Assert.Contains(host.Logs.Entries, e => e.Message.Contains(PersonalText.Email, StringComparison.Ordinal)); // said, redacted

        await Ok(_admin.DeleteAsync($"/v1/users/{visitor}"));
        Assert.Empty(await Scan(email));
    }

    [Fact]
    public async Task A_message_still_being_retried_is_never_tried_again_once_the_person_is_erased()
    {
        var id = Unique();
        var visitor = $"dv-{id}";
        var category = $"dc{id}";
        await DatabaseScan.EmailJourneyAsync(_marketing, $"d{id}", category);
        await Ok(_ingest.PostAsJsonAsync("/v1/identify", new { anonymousId = visitor, messageId = $"{visitor}-id",
            traits = new { email = $"defer.{id}@example.com", firstName = "Dana" } })); // the sink answers 451: retried
        await Track(visitor, "Consent Given", new { channel = "email", purpose = "marketing" });
        await Track(visitor, "Product Added", new { product_id = "sku-1", price = 5, quantity = 1, category });

        async Task<List<JsonElement>> Messages() =>
            [.. (await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/export")).GetProperty("messages").EnumerateArray()];
        async Task<JsonElement> Message() => Assert.Single(await Messages());
        await Eventually(Messages, m => m.Count == 1 && m[0].GetProperty("attempts").GetInt32() >= 2, TimeSpan.FromSeconds(40), "two attempts");

        await Ok(_admin.DeleteAsync($"/v1/users/{visitor}"));
        var closed = await Message();
        Assert.Equal("failed", closed.GetProperty("status").GetString());
        var attempts = closed.GetProperty("attempts").GetInt32();
        await Task.Delay(TimeSpan.FromSeconds(3)); // retries come at most 1 s apart here
        Assert.Equal(attempts, (await Message()).GetProperty("attempts").GetInt32());
    }

    [Fact]
    public async Task Consent_source_and_wording_version_out_of_bounds_are_400_naming_the_field()
    {
        var visitor = $"cb-{Unique()}";
        foreach (var (field, value) in new (string, object)[] { ("consentVersion", new string('v', 201)), ("source", new { nested = true }) })
        {
            var properties = new Dictionary<string, object> { ["channel"] = "email", ["purpose"] = "marketing", [field] = value };
            var response = await _ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events", new { @event = "Consent Given", messageId = $"{visitor}-{field}", properties });
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains($"properties.{field}", await response.Content.ReadAsStringAsync());
        }
    }

    private Task<List<string>> Scan(params string[] values) => DatabaseScan.FindAsync(host.ConnectionString, values);

    private async Task<int> CustomerValueOrders(string profileId)
    {
        await using var data = NpgsqlDataSource.Create(host.ConnectionString);
        await using var command = data.CreateCommand("select data::text from actors.mt_doc_customervalue where id = @id");
        command.Parameters.AddWithValue("id", profileId);
        var json = await command.ExecuteScalarAsync() as string;
        if (json is null) return 0;
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.EnumerateObject().First(p => p.Name.Equals("orders", StringComparison.OrdinalIgnoreCase)).Value.GetInt32();
    }

    [Fact]
    public async Task An_erased_customer_leaves_no_email_phone_or_name_in_any_table_log_or_trace_and_counts_stay()
    {
        var id = Unique();
        var user = $"cust-{id}";
        var profile = $"user:{user}";
        var email = $"ana.{id}@example.com";
        var phone = $"+34 6{Random.Shared.Next(10_000_000, 99_999_999)}";
        var name = $"Anastasia{id[..6]}";
        var (device1, device2) = ($"pd1-{id}", $"pd2-{id}");
        var category = $"cat{id}";

        // A segment the customer will match, with a webhook; a journey that emails the cart to them.
        var segment = $"priv-{id}";
        await using var receiver = new WebhookReceiver();
        Assert.Equal(HttpStatusCode.Created, (await _marketing.PostAsJsonAsync("/v1/segments", new { id = segment, name = segment, rule = new { topic = "outdoor" } })).StatusCode);
        await Ok(_marketing.PutAsJsonAsync($"/v1/segments/{segment}/webhook", new { url = receiver.BaseUrl + "/hook" }));
        var journey = await DatabaseScan.EmailJourneyAsync(_marketing, id, category);

        // The customer: browses on one device, logs in on two (aliases), says who they are, consents, orders.
        await Track(device1, "Product Viewed", new { product_id = "sku-1", category, price = 20 });
        await Ok(_ingest.PostAsJsonAsync("/v1/identify", new { anonymousId = device1, userId = user, messageId = $"{device1}-login",
            traits = new { email, phone, firstName = name, lastName = "Smith" + id } }));
        // A newsletter landing page whose address carries the email (it happens): the page view is the person's data too.
        await Ok(_ingest.PostAsJsonAsync("/v1/page", new { anonymousId = device2, messageId = $"{device2}-page", name = "Welcome",
            properties = new { url = $"https://shop.example/welcome?email={email}", category } }));
        await Ok(_ingest.PostAsJsonAsync("/v1/identify", new { anonymousId = device2, userId = user, messageId = $"{device2}-login" }));
        await Track(profile, "Consent Given", new { channel = "email", purpose = "marketing" });
        await Track(profile, "Consent Given", new { channel = "sms", purpose = "marketing", source = "checkout", consentVersion = "sms-2026-03" });
        await Track(profile, "Preferences Updated", new { topics = new[] { "outdoor" } });
        await Track(profile, "Order Completed", new { order_id = $"o-{id}", total = 80, currency = "EUR",
            products = new[] { new { product_id = "sku-1", category, price = 80, quantity = 1 } } });
        await Track(profile, "Product Added", new { product_id = "sku-2", price = 20, quantity = 1, category });

        // The email goes out through SMTP; the segment webhook is delivered.
        var mail = Assert.Single(await host.Sink.WaitForAsync(1, TimeSpan.FromSeconds(40), m => m.To.Mailboxes.Any(b => b.Address == email)));
        Assert.Contains(name, mail.Subject);
        await Eventually(() => Events(profile, "message_sent"), e => e.Count == 1, TimeSpan.FromSeconds(20), "message_sent");

        // The customer unsubscribes with the email's one-click link: the withdrawal is recorded with its source.
        var unsubscribe = System.Text.RegularExpressions.Regex.Match(mail.Headers["List-Unsubscribe"] ?? "", "<(http[^>]+)>").Groups[1].Value;
        using (var mailbox = new HttpClient())
            await Ok(mailbox.PostAsync(unsubscribe, new FormUrlEncodedContent([new("List-Unsubscribe", "One-Click")])));
        await receiver.WaitForAsync(r => r.Any(x => x.Body.Contains(profile) && x.Body.Contains("entered")), TimeSpan.FromSeconds(20));
        var countBefore = (await _marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/{segment}/count")).GetProperty("members").GetInt64();
        Assert.True(countBefore >= 1);

        // The export before erasure holds everything: events of every stream, profile, segments, journeys, messages, consents.
        var export = await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{profile}/export");
        Assert.Equal(profile, export.GetProperty("profileId").GetString());
        var profiles = export.GetProperty("profiles").EnumerateArray().Select(p => p.GetString()).ToList();
        Assert.Contains($"anon:{device1}", profiles);
        Assert.Contains($"anon:{device2}", profiles);
        Assert.Equal(email, export.GetProperty("profile").GetProperty("attributes").GetProperty("email").GetString());
        Assert.Contains(segment, export.GetProperty("segments").EnumerateArray().Select(s => s.GetString()));
        Assert.Contains(journey, export.GetProperty("journeys").EnumerateArray().Select(j => j.GetProperty("journeyId").GetString()));
        var consents = export.GetProperty("consents").EnumerateArray().ToDictionary(c => c.GetProperty("consent").GetString()!);
        Assert.Equal("withdrawn", consents["email:marketing"].GetProperty("state").GetString());
        Assert.Equal("one_click", consents["email:marketing"].GetProperty("source").GetString());
        Assert.Equal("given", consents["sms:marketing"].GetProperty("state").GetString());
        Assert.Equal("checkout", consents["sms:marketing"].GetProperty("source").GetString());
        Assert.Equal("sms-2026-03", consents["sms:marketing"].GetProperty("wordingVersion").GetString());
        Assert.True(Math.Abs((DateTimeOffset.UtcNow - consents["sms:marketing"].GetProperty("at").GetDateTimeOffset()).TotalMinutes) < 5);
        var message = Assert.Single(export.GetProperty("messages").EnumerateArray());
        Assert.Equal("sent", message.GetProperty("status").GetString());
        Assert.Equal(email, message.GetProperty("message").GetProperty("recipient").GetProperty("email").GetString());
        var exportedEvents = export.GetProperty("events");
        var types = exportedEvents.GetProperty(profile).EnumerateArray().Select(e => e.GetProperty("type").GetString()).ToList();
        Assert.Contains("identified", types);
        Assert.Contains("order_placed", types);
        Assert.Contains("message_sent", types);
        Assert.Contains("product_viewed", exportedEvents.GetProperty($"anon:{device1}").EnumerateArray().Select(e => e.GetProperty("type").GetString()));
        // The scan sees what is there: the events, the snapshot, the outbox's recipient.
        var held = await Scan(email, phone, name);
        Assert.Contains(held, h => h.StartsWith("actors.mt_events.data holds", StringComparison.Ordinal));
        Assert.Contains(held, h => h.StartsWith("actors.message_outbox_body.message holds", StringComparison.Ordinal));
        Assert.Contains(held, h => h.StartsWith("actors.mt_doc_profilesnapshot.data holds", StringComparison.Ordinal));

        var eventsBefore = await Events(profile);
        var valueBefore = await CustomerValueOrders(profile);
        Assert.Equal(1, valueBefore);

        // Erase, twice: the second finds nothing more to do and is fine.
        var watch = Stopwatch.StartNew();
        var erased = await _admin.DeleteAsync($"/v1/users/{profile}");
        output.WriteLine($"erasure of 3 profiles ({eventsBefore.Count} events in the customer's stream): {watch.ElapsedMilliseconds} ms");
        Assert.True(erased.IsSuccessStatusCode, await erased.Content.ReadAsStringAsync());
        var report = await erased.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(3, report.GetProperty("profiles").GetArrayLength());
        Assert.True(report.GetProperty("eventsMasked").GetInt32() > 0, report.ToString());
        Assert.Equal(1, report.GetProperty("outboxRowsMasked").GetInt32());
        var again = await _admin.DeleteAsync($"/v1/users/{profile}");
        Assert.True(again.IsSuccessStatusCode, await again.Content.ReadAsStringAsync());

        // Counts: the person left the segment (count down by one, exit webhook sent), their order still counts for RFM,
        // the stream keeps every event (masked) plus the exit and the erasure marker.
        var countAfter = (await _marketing.GetFromJsonAsync<JsonElement>($"/v1/segments/{segment}/count")).GetProperty("members").GetInt64();
        Assert.Equal(countBefore - 1, countAfter);
        await receiver.WaitForAsync(r => r.Any(x => x.Body.Contains(profile) && x.Body.Contains("\"left\"")), TimeSpan.FromSeconds(20));
        Assert.Equal(1, await CustomerValueOrders(profile));
        var eventsAfter = await Events(profile);
        Assert.Equal(eventsBefore.Select(e => e.GetProperty("type").GetString()), eventsAfter.Take(eventsBefore.Count).Select(e => e.GetProperty("type").GetString()));
        // The fixture's lifecycle clock (at risk after 3 s, lapsed after 6 s) may also move the customer on meanwhile: a
        // stage change the grain's own wake-up writes, not the erasure's doing.
        Assert.Equal(["segment_left", "profile_erased"], eventsAfter.Skip(eventsBefore.Count).Select(e => e.GetProperty("type").GetString())
            .Where(type => type != "stage_changed"));
        // Every masked event still reads: replay to the version before the marker folds them all.
        var replayed = await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{profile}/state?version={eventsAfter.Count - 1}");
        Assert.Equal(1, replayed.GetProperty("profile").GetProperty("orders").GetProperty("count").GetInt32());
        Assert.False(replayed.GetProperty("profile").GetProperty("attributes").TryGetProperty("email", out _));
        var after = await _admin.GetFromJsonAsync<JsonElement>($"/v1/visitors/{profile}/profile");
        Assert.Empty(after.GetProperty("attributes").EnumerateObject());
        Assert.Empty(after.GetProperty("segments").EnumerateArray());
        Assert.Equal(0, after.GetProperty("orders").GetProperty("count").GetInt32());
        // The devices (aliases) still reach the customer's profile, which holds nothing of them now.
        var throughDevice = await _admin.GetFromJsonAsync<JsonElement>($"/v1/visitors/{device1}/profile");
        Assert.Equal(profile, throughDevice.GetProperty("profileId").GetString());
        Assert.Empty(throughDevice.GetProperty("attributes").EnumerateObject());

        // Nothing of the person in any table, log line or span.
        Assert.Empty(await Scan(email, phone, name));
        var logged = host.Logs.Entries.Where(e => new[] { email, phone, name }.Any(v => e.Message.Contains(v, StringComparison.OrdinalIgnoreCase)))
            .Select(e => $"{e.Category}: {e.Message}").ToList();
        Assert.True(logged.Count == 0, string.Join("\n", logged.Take(5)));
        Assert.True(host.Logs.Entries.Count > 100, $"only {host.Logs.Entries.Count} log entries: Debug logging is not captured");
        Assert.Contains(host.Spans, s => s.Contains("/v1/identify", StringComparison.Ordinal)); // spans with their tags are captured
        var traced = host.Spans.Where(s => new[] { email, phone, name }.Any(v => s.Contains(v, StringComparison.OrdinalIgnoreCase))).ToList();
        Assert.True(traced.Count == 0, string.Join("\n", traced.Take(5)));

        // The customer comes back: later events start a fresh profile, which the erasure does not touch.
        await Ok(_ingest.PostAsJsonAsync("/v1/identify", new { userId = user, messageId = $"{user}-back", traits = new { plan = "gold" } }));
        var fresh = await _admin.GetFromJsonAsync<JsonElement>($"/v1/visitors/{profile}/profile");
        Assert.Equal("gold", fresh.GetProperty("attributes").GetProperty("plan").GetString());
        Assert.Equal(0, fresh.GetProperty("orders").GetProperty("count").GetInt32());
        Assert.Empty(fresh.GetProperty("segments").EnumerateArray());
    }

    [Fact]
    public async Task An_erasure_that_stopped_after_the_grain_step_is_finished_by_the_next_delete()
    {
        var visitor = $"crash-{Unique()}";
        var email = $"{visitor}@example.org";
        await Ok(_ingest.PostAsJsonAsync("/v1/identify", new { anonymousId = visitor, messageId = $"{visitor}-id", traits = new { email } }));
        await Track(visitor, "Products Searched", new { query = email });

        // The node died after the grain recorded the erasure and before the events were masked.
        await host.Grains.GetGrain<Actors.Grains.Visitors.IVisitorGrain>($"anon:{visitor}").Erase("test:crash");
        Assert.Contains(await Scan(email), h => h.StartsWith("actors.mt_events.data holds", StringComparison.Ordinal));

        var retried = await _admin.DeleteAsync($"/v1/users/{visitor}");
        Assert.True(retried.IsSuccessStatusCode, await retried.Content.ReadAsStringAsync());
        Assert.Empty(await Scan(email));
        var types = (await Events(visitor)).Select(e => e.GetProperty("type").GetString()).ToList();
        Assert.Equal(["attributes_updated", "products_searched", "profile_erased"], types); // one marker: the retry appended nothing
    }

    [Fact]
    public async Task Admin_reads_of_a_person_are_in_the_audit_log_which_only_admin_keys_read()
    {
        var visitor = $"aud-{Unique()}";
        await Track(visitor, "Product Viewed", new { product_id = "sku-1", price = 5 });
        await Ok(_admin.GetAsync($"/v1/users/{visitor}/events"));
        await Ok(_admin.GetAsync($"/v1/users/{visitor}/state"));
        await Ok(_admin.GetAsync($"/v1/users/{visitor}/diff?from=0&to=1"));
        await Ok(_admin.GetAsync($"/v1/users/{visitor}/export"));
        await Ok(_admin.DeleteAsync($"/v1/users/{visitor}"));

        var page = await _admin.GetFromJsonAsync<JsonElement>($"/v1/audit?profile={visitor}");
        var items = page.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(["events", "state", "diff", "export", "erase"], items.Select(i => i.GetProperty("action").GetString()));
        Assert.All(items, i =>
        {
            Assert.Equal($"anon:{visitor}", i.GetProperty("profileId").GetString());
            Assert.Equal("admin", i.GetProperty("scope").GetString());
            Assert.False(string.IsNullOrEmpty(i.GetProperty("keyName").GetString()));
            Assert.False(string.IsNullOrEmpty(i.GetProperty("keyId").GetString()));
            Assert.Equal("127.0.0.1", i.GetProperty("clientAddress").GetString());
            Assert.True(Math.Abs((DateTimeOffset.UtcNow - i.GetProperty("at").GetDateTimeOffset()).TotalMinutes) < 5);
        });

        // Paging: two at a time, then the rest from "next".
        var first = await _admin.GetFromJsonAsync<JsonElement>($"/v1/audit?profile={visitor}&limit=2");
        Assert.Equal(2, first.GetProperty("items").GetArrayLength());
        var rest = await _admin.GetFromJsonAsync<JsonElement>($"/v1/audit?profile={visitor}&after={first.GetProperty("next").GetInt64()}");
        Assert.Equal(["diff", "export", "erase"], rest.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("action").GetString()));

        // Not for marketing keys; hostile parameters are 400 naming the field.
        Assert.Equal(HttpStatusCode.Forbidden, (await _marketing.GetAsync("/v1/audit")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await _marketing.GetAsync($"/v1/users/{visitor}/export")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await _marketing.DeleteAsync($"/v1/users/{visitor}")).StatusCode);
        var bad = await _admin.GetAsync("/v1/audit?limit=0");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
        Assert.Contains("limit", await bad.Content.ReadAsStringAsync());
        var hostile = await _admin.GetAsync($"/v1/users/{new string('x', 300)}/export");
        Assert.Equal(HttpStatusCode.BadRequest, hostile.StatusCode);
        Assert.Contains("\"id\"", await hostile.Content.ReadAsStringAsync());
    }
}

/// <summary>Looks through a whole database for values, as an auditor would.</summary>
public static class DatabaseScan
{
    /// <summary>Every text, JSON or binary column of every table in every schema whose rows hold one of the values.</summary>
    /// <summary>
    /// The reporting daemon is asynchronous: the scan looks once it has read the whole log (so a copy it made of the
    /// person, and its reaction to the erasure marker, are both in the tables), or after 30 s, whichever comes first.
    /// </summary>
    private static async Task ReportsCaughtUpAsync(NpgsqlDataSource data)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            await using var command = data.CreateCommand("""
                select count(*) from actors.mt_event_progression p
                 where p.name like 'report-%' and p.last_seq_id < (select coalesce(max(seq_id), 0) from actors.mt_events)
                """);
            try
            {
                if ((long)(await command.ExecuteScalarAsync())! == 0) return;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
            {
                return;
            }
            await Task.Delay(200);
        }
    }

    public static async Task<List<string>> FindAsync(string connectionString, params string[] values)
    {
        await using var data = NpgsqlDataSource.Create(connectionString);
        await ReportsCaughtUpAsync(data);
        var columns = new List<(string Schema, string Table, string Column, string Type)>();
        await using (var command = data.CreateCommand("""
            select c.table_schema, c.table_name, c.column_name, c.data_type from information_schema.columns c
              join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name and t.table_type = 'BASE TABLE'
             where c.table_schema not in ('pg_catalog', 'information_schema')
               and c.data_type in ('text', 'character varying', 'character', 'json', 'jsonb', 'bytea', 'ARRAY', 'USER-DEFINED', 'xml')
            """))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync()) columns.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3)));
        }
        Assert.True(columns.Count > 20, $"only {columns.Count} columns found: the scan would prove nothing");
        var found = new List<string>();
        foreach (var (schema, table, column, type) in columns)
        {
            var text = type == "bytea" ? $"convert_from(\"{column}\", 'UTF8')" : $"\"{column}\"::text";
            foreach (var value in values)
            {
                await using var command = data.CreateCommand(
                    $"select count(*) from \"{schema}\".\"{table}\" where {(type == "bytea" ? $"position(convert_to(@v, 'UTF8') in \"{column}\") > 0" : $"{text} ilike '%' || @v || '%'")}");
                command.Parameters.AddWithValue("v", value);
                if ((long)(await command.ExecuteScalarAsync())! > 0) found.Add($"{schema}.{table}.{column} holds {value}");
            }
        }
        return found;
    }

    /// <summary>A published journey that emails "{first_name}, your cart is waiting" a second after a cart add in the category.</summary>
    public static async Task<string> EmailJourneyAsync(HttpClient marketing, string id, string category)
    {
        static async Task Ok(Task<HttpResponseMessage> call)
        {
            var response = await call;
            Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
        var template = $"priv-{id}";
        await Ok(marketing.PutAsJsonAsync($"/v1/templates/{template}", new
        {
            channel = "email",
            subject = "{{ visitor.first_name }}, your cart is waiting",
            text = "Hello {{ visitor.first_name }}, you left {{ cart_count }} item(s). Manage: {{ preferences_url }}",
            html = "<p>Hi {{ visitor.first_name }}</p>",
        }));
        var journey = $"pj-{id}";
        Assert.Equal(HttpStatusCode.Created, (await marketing.PostAsJsonAsync("/v1/journeys", new
        {
            id = journey,
            journey = new
            {
                name = "Cart " + id,
                trigger = new { @event = "cart_item_added", category },
                start = "wait",
                steps = new object[]
                {
                    new { id = "wait", wait = new { duration = "PT1S" }, next = "remind" },
                    new { id = "remind", send = new { channel = "email", template, kind = "marketing" } },
                },
            },
        })).StatusCode);
        await Ok(marketing.PostAsync($"/v1/journeys/{journey}/publish", null));
        return journey;
    }
}
