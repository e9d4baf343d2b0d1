using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Actors.Channels.Delivery;
using Actors.Domain.Channels;
using Actors.Integration.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Actors.Integration.Tests.Templates;

/// <summary>
/// Templates through the real path: saved over HTTP into PostgreSQL (checked first), previewed for a visitor whose
/// profile comes from their grain, rendered by the host's <see cref="IMessageRenderer"/>, and named by journeys and
/// broadcasts, whose saves refuse a template that does not exist.
/// </summary>
public class TemplatesApiTests(HostFixture host) : IClassFixture<HostFixture>
{
    private readonly HttpClient _marketing = host.Client(HostFixture.MarketingKey);
    private readonly HttpClient _ingest = host.Client();

    private static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..24];

    private static object Email(string subject = "Hello {{ visitor.first_name }}") => new
    {
        channel = "email", subject, html = "<p>Dear {{ visitor.email }}</p><p>{{ cart_count }} items</p>", text = "Dear {{ visitor.email }}",
    };

    private async Task<JsonElement> Problem(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement;
    }

    private static string FirstError(JsonElement problem, string field) =>
        problem.GetProperty("errors").GetProperty(field)[0].GetString()!;

    private Task<HttpResponseMessage> Put(string id, object body, string? ifMatch = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Put, $"/v1/templates/{id}") { Content = JsonContent.Create(body) };
        if (ifMatch is not null) request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        return _marketing.SendAsync(request);
    }

    [Fact]
    public async Task A_template_is_saved_read_listed_changed_with_if_match_and_deleted()
    {
        var id = NewId("welcome");
        var created = await Put(id, Email());
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var firstTag = created.Headers.ETag!.Tag;

        var read = await _marketing.GetAsync($"/v1/templates/{id}");
        Assert.Equal(firstTag, read.Headers.ETag!.Tag);
        var view = await read.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("email", view.GetProperty("channel").GetString());
        Assert.Equal("Hello {{ visitor.first_name }}", view.GetProperty("subject").GetString());

        var changed = await Put(id, Email("Welcome back {{ visitor.first_name }}"), firstTag);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.NotEqual(firstTag, changed.Headers.ETag!.Tag);

        // A change based on the first revision would undo the second: refused.
        var stale = await Problem(await Put(id, Email("Stale"), firstTag), HttpStatusCode.Conflict);
        Assert.Contains("changed meanwhile", stale.GetProperty("detail").GetString());
        Assert.Equal("Welcome back {{ visitor.first_name }}",
            (await _marketing.GetFromJsonAsync<JsonElement>($"/v1/templates/{id}")).GetProperty("subject").GetString());

        var list = await _marketing.GetFromJsonAsync<JsonElement>("/v1/templates");
        Assert.Contains(list.EnumerateArray(), t => t.GetProperty("id").GetString() == id);

        var staleDelete = new HttpRequestMessage(HttpMethod.Delete, $"/v1/templates/{id}");
        staleDelete.Headers.TryAddWithoutValidation("If-Match", firstTag);
        Assert.Equal(HttpStatusCode.Conflict, (await _marketing.SendAsync(staleDelete)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await _marketing.DeleteAsync($"/v1/templates/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _marketing.GetAsync($"/v1/templates/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await _ingest.GetAsync("/v1/templates")).StatusCode);
    }

    [Fact]
    public async Task A_bad_template_gets_400_naming_the_part_and_the_variable_and_is_not_saved()
    {
        var id = NewId("bad");
        var typo = await Problem(await Put(id, new { channel = "email", subject = "Hi", html = "<p>{{ visitor.emial }}</p>" }), HttpStatusCode.BadRequest);
        Assert.Equal("unknown variable 'visitor.emial'; did you mean visitor.email?", FirstError(typo, "html"));
        Assert.Equal(HttpStatusCode.NotFound, (await _marketing.GetAsync($"/v1/templates/{id}")).StatusCode);

        var syntax = await Problem(await _marketing.PostAsJsonAsync("/v1/templates/validate", new { text = "Hi\n{% if visitor.email %}x" }), HttpStatusCode.BadRequest);
        Assert.Contains("at line 2", FirstError(syntax, "text"));

        var valid = await _marketing.PostAsJsonAsync("/v1/templates/validate", Email());
        Assert.Equal(HttpStatusCode.OK, valid.StatusCode);
        Assert.Contains((await valid.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("variables").EnumerateArray(), v => v.GetString() == "visitor.email");

        var bomb = await Problem(await Put(id, new { html = "{% for i in (1..999) %}{% for j in (1..999) %}{% for k in (1..999) %}x{% endfor %}{% endfor %}{% endfor %}" }),
            HttpStatusCode.BadRequest);
        Assert.Contains("cannot be rendered", FirstError(bomb, "html"));
    }

    [Fact]
    public async Task A_preview_renders_the_template_for_a_real_visitor_with_values_html_encoded()
    {
        var visitor = NewId("pv");
        var user = $"u-{visitor}";
        var identify = await _ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/identify",
            new { userId = user, traits = new { email = "ada<b>@example.com", firstName = "Ada" }, messageId = Guid.NewGuid().ToString() });
        Assert.True(identify.IsSuccessStatusCode, await identify.Content.ReadAsStringAsync());
        var id = NewId("preview");
        Assert.Equal(HttpStatusCode.Created, (await Put(id, Email())).StatusCode);

        var saved = await _marketing.PostAsJsonAsync($"/v1/templates/{id}/preview", new { profileId = $"user:{user}" });
        var rendered = await saved.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(saved.StatusCode == HttpStatusCode.OK, rendered.ToString());
        Assert.Equal("Hello Ada", rendered.GetProperty("subject").GetString());
        Assert.Equal("<p>Dear ada&lt;b&gt;@example.com</p><p>0 items</p>", rendered.GetProperty("html").GetString());
        Assert.Equal("Dear ada<b>@example.com", rendered.GetProperty("text").GetString());

        // The device's anonymous id reaches the same profile; an unsaved template is checked, then rendered.
        var inline = await _marketing.PostAsJsonAsync("/v1/templates/preview",
            new { profileId = visitor, template = new { channel = "sms", text = "{{ visitor.first_name }}: {{ unsubscribe_url }}" } });
        var text = (await inline.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("text").GetString();
        Assert.StartsWith("Ada: http", text);
        Assert.EndsWith("/m/u/preview", text); // preview links are not signed: clicking one unsubscribes nobody

        var badInline = await Problem(await _marketing.PostAsJsonAsync("/v1/templates/preview",
            new { profileId = visitor, template = new { text = "{{ visitor.phon }}" } }), HttpStatusCode.BadRequest);
        Assert.Contains("visitor.phone", FirstError(badInline, "template.text"));
        Assert.Equal(HttpStatusCode.NotFound, (await _marketing.PostAsJsonAsync($"/v1/templates/{id}/preview", new { profileId = NewId("nobody") })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _marketing.PostAsJsonAsync("/v1/templates/no-such/preview", new { profileId = visitor })).StatusCode);
    }

    [Fact]
    public async Task The_renderer_serves_a_message_from_the_saved_template_and_sees_changes_within_seconds()
    {
        var renderer = host.Host.App.Services.GetRequiredService<IMessageRenderer>();
        var id = NewId("render");
        Assert.Equal(HttpStatusCode.Created, (await Put(id, new { channel = "email", subject = "v1 {{ message.step }}", text = "{{ cart[0].sku }} {{ unsubscribe_url }}" })).StatusCode);
        var recipient = new MessageRecipient("p-r", null, "r@example.com", null, "lead", new Dictionary<string, string>(), [new CartLine("sku-9", 1)], [], [], null);
        var message = new OutboundMessage("p-r|j|1|s|1", "p-r", "email", id, null, null, "marketing", "j", 1, "s", DateTimeOffset.UtcNow, recipient);

        var first = await renderer.RenderAsync(message, CancellationToken.None);
        Assert.Equal("v1 s", first.Subject);
        Assert.StartsWith("sku-9 http", first.Text);
        Assert.Contains("/m/u/", first.Text); // a signed unsubscribe link for this visitor and message

        Assert.Equal(HttpStatusCode.OK, (await Put(id, new { channel = "email", subject = "v2 {{ message.journey }}", text = "t" })).StatusCode);
        var deadline = DateTime.UtcNow.AddSeconds(15);
        RenderedMessage latest;
        do
        {
            await Task.Delay(250);
            latest = await renderer.RenderAsync(message, CancellationToken.None);
        } while (latest.Subject != "v2 j" && DateTime.UtcNow < deadline);
        Assert.Equal("v2 j", latest.Subject);

        Assert.Equal(HttpStatusCode.NoContent, (await _marketing.DeleteAsync($"/v1/templates/{id}")).StatusCode);
        await Task.Delay(TimeSpan.FromSeconds(4));
        await Assert.ThrowsAsync<TemplateNotFoundException>(() => renderer.RenderAsync(message, CancellationToken.None));
    }

    [Fact]
    public async Task Hostile_input_gets_4xx_never_5xx()
    {
        var id = NewId("hostile");
        async Task<HttpResponseMessage> Raw(HttpMethod method, string path, byte[] body)
        {
            var content = new ByteArrayContent(body);
            content.Headers.ContentType = new("application/json");
            return await _marketing.SendAsync(new HttpRequestMessage(method, path) { Content = content });
        }

        Assert.Contains("NUL", FirstError(await Problem(await Raw(HttpMethod.Put, $"/v1/templates/{id}", """{"html":"a\u0000b"}"""u8.ToArray()), HttpStatusCode.BadRequest), "html"));
        Assert.Contains("surrogate", FirstError(await Problem(await Raw(HttpMethod.Put, $"/v1/templates/{id}", """{"text":"a\ud800b"}"""u8.ToArray()), HttpStatusCode.BadRequest), "text"));
        var invalidUtf8 = await Raw(HttpMethod.Put, $"/v1/templates/{id}", [.. "{\"text\":\""u8, 0xC3, 0x28, .. "\"}"u8]);
        Assert.Equal(HttpStatusCode.BadRequest, invalidUtf8.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await Raw(HttpMethod.Put, $"/v1/templates/{id}",
            Encoding.UTF8.GetBytes($"{{\"html\":\"{new string('x', 3 * 1024 * 1024)}\"}}"))).StatusCode);
        Assert.Contains("at most", FirstError(await Problem(await Put(id, new { html = new string('x', 300 * 1024) }), HttpStatusCode.BadRequest), "html"));
        Assert.Contains("must be a string", FirstError(await Problem(await Put(id, new { subject = 12 }), HttpStatusCode.BadRequest), "subject"));
        Assert.Contains("not a template field", FirstError(await Problem(await Put(id, new { subjet = "x" }), HttpStatusCode.BadRequest), "subjet"));
        Assert.Equal(HttpStatusCode.BadRequest, (await Raw(HttpMethod.Put, $"/v1/templates/{id}", "[1,2]"u8.ToArray())).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Put(id, Email(), "\"not-a-revision\"")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Raw(HttpMethod.Post, "/v1/templates/preview", """{"profileId":"a\u0000b","template":{"text":"x"}}"""u8.ToArray())).StatusCode);

        foreach (var hostileId in new[] { new string('a', 5000), "a%00b", "%ED%A0%80", "UPPER", "..%2F..%2Fetc" })
        {
            foreach (var response in new[]
            {
                await _marketing.GetAsync($"/v1/templates/{hostileId}"),
                await _marketing.DeleteAsync($"/v1/templates/{hostileId}"),
                await Put(hostileId, Email()),
                await _marketing.PostAsJsonAsync($"/v1/templates/{hostileId}/preview", new { profileId = "x" }),
            })
                Assert.True((int)response.StatusCode is >= 400 and < 500, $"{hostileId[..Math.Min(10, hostileId.Length)]}: {(int)response.StatusCode}");
        }
    }

    [Fact]
    public async Task Journeys_and_broadcasts_must_name_existing_templates_and_a_used_template_cannot_be_deleted()
    {
        var template = NewId("jt");
        var missing = NewId("missing");
        object Journey(string second) => new
        {
            name = "Templates check",
            trigger = new { manual = true },
            start = "first",
            steps = new object[]
            {
                new { id = "first", send = new { channel = "email", template }, next = "second" },
                new { id = "second", send = new { channel = "email", template = second } },
            },
        };
        Assert.Equal(HttpStatusCode.Created, (await Put(template, Email())).StatusCode);

        var journeyId = NewId("j");
        var refused = await Problem(await _marketing.PostAsJsonAsync("/v1/journeys", new { id = journeyId, journey = Journey(missing) }), HttpStatusCode.BadRequest);
        Assert.StartsWith($"unknown template '{missing}'", FirstError(refused, "journey.steps[1].send.template"));
        Assert.False(refused.GetProperty("errors").TryGetProperty("journey.steps[0].send.template", out _));
        var validated = await Problem(await _marketing.PostAsJsonAsync("/v1/journeys/validate", new { journey = Journey(missing) }), HttpStatusCode.BadRequest);
        Assert.StartsWith($"unknown template '{missing}'", FirstError(validated, "journey.steps[1].send.template"));

        Assert.Equal(HttpStatusCode.Created, (await _marketing.PostAsJsonAsync("/v1/journeys", new { id = journeyId, journey = Journey(template) })).StatusCode);
        var update = await Problem(await _marketing.PutAsJsonAsync($"/v1/journeys/{journeyId}", new { journey = Journey(missing) }), HttpStatusCode.BadRequest);
        Assert.StartsWith("unknown template", FirstError(update, "journey.steps[1].send.template"));

        // A template for another channel is not one this step can send.
        var sms = NewId("sms");
        Assert.Equal(HttpStatusCode.Created, (await Put(sms, new { channel = "sms", text = "hi" })).StatusCode);
        var mismatch = await Problem(await _marketing.PutAsJsonAsync($"/v1/journeys/{journeyId}", new { journey = Journey(sms) }), HttpStatusCode.BadRequest);
        Assert.Equal($"template '{sms}' is written for sms, not email", FirstError(mismatch, "journey.steps[1].send.template"));

        var inUse = await Problem(await _marketing.DeleteAsync($"/v1/templates/{template}"), HttpStatusCode.Conflict);
        Assert.Contains(journeyId, inUse.GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.OK, (await _marketing.PostAsync($"/v1/journeys/{journeyId}/archive", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await _marketing.DeleteAsync($"/v1/templates/{template}")).StatusCode);

        var segment = NewId("seg");
        Assert.Equal(HttpStatusCode.Created, (await _marketing.PostAsJsonAsync("/v1/segments",
            new { id = segment, name = segment, rule = new { attribute = "plan", equals = "gold" } })).StatusCode);
        var broadcast = await Problem(await _marketing.PostAsJsonAsync("/v1/broadcasts", new { segment, channel = "email", template = missing }), HttpStatusCode.BadRequest);
        Assert.StartsWith($"unknown template '{missing}'", FirstError(broadcast, "template"));
    }
}
