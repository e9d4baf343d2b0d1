using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Actors.Channels.Links;
using Actors.Domain.Segments;
using Actors.Grains.Visitors;
using Actors.Integration.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Actors.Integration.Tests.Channels;

/// <summary>
/// The host with the topics and content types the shop offers, no quiet hours (a journey's message is decided the
/// moment its step is reached) and journeys rechecked every second.
/// </summary>
public sealed class PreferenceCentreHostFixture : HostFixture
{
    public static readonly string[] Topics = ["shoes", "bags", "sale"];
    public static readonly string[] ContentTypes = ["offers", "news"];

    protected override IEnumerable<string> ExtraArguments() =>
    [
        .. Topics.Select((t, i) => $"--Actors:Messages:Topics:{i}={t}"),
        .. ContentTypes.Select((t, i) => $"--Actors:Messages:ContentTypes:{i}={t}"),
        "--Actors:Messages:QuietFrom=00:00", "--Actors:Messages:QuietUntil=00:00", "--Actors:Segments:JourneyRecheckEvery=00:00:01",
    ];
}

/// <summary>Visitors, links and stream reads for the preference centre tests (HTTP and browser).</summary>
public sealed partial class PreferenceCentreKit(HostFixture host)
{
    private readonly HttpClient _ingest = host.Client();
    private readonly HttpClient _marketing = host.Client(HostFixture.MarketingKey);
    private readonly HttpClient _admin = host.Client(HostFixture.AdminKey);

    /// <summary>No API key: what a visitor's browser or a mailbox provider sends. Redirects are not followed, so they can be seen.</summary>
    public HttpClient Visitor() => new(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = host.BaseAddress };

    public async Task Send(string visitor, string name, object? properties = null)
    {
        var response = await _ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events",
            new { @event = name, messageId = $"{visitor}-{Guid.NewGuid():N}", properties = properties ?? new { } });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>A newsletter subscriber who allowed marketing email, with the preferences given (if any).</summary>
    public async Task<string> Subscriber(string prefix, object? preferences = null)
    {
        var visitor = $"{prefix}-{Guid.NewGuid():N}";
        await Send(visitor, "Newsletter Subscribed", new { source = "footer" });
        await TestAddresses.GiveEmailAsync(_ingest, visitor);
        await Send(visitor, "Consent Given", new { channel = "email", purpose = "marketing" });
        if (preferences is not null) await Send(visitor, "Preferences Updated", preferences);
        return visitor;
    }

    public async Task<JsonElement> Profile(string visitor) =>
        await _marketing.GetFromJsonAsync<JsonElement>($"/v1/visitors/{visitor}/profile");

    public async Task<string> ProfileId(string visitor) => (await Profile(visitor)).GetProperty("profileId").GetString()!;

    public MessageLinks Links => host.Host.App.Services.GetRequiredService<MessageLinks>();

    public async Task<string> Token(string visitor, LinkPurpose purpose, string channel = "email", TimeSpan? lifetime = null) =>
        await Links.SignAsync(purpose, await ProfileId(visitor), $"msg-{Guid.NewGuid():N}", channel, lifetime: lifetime);

    public async Task<List<JsonElement>> Events(string visitor, string types) =>
        [.. (await _admin.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/events?type={types}&limit=1000"))
            .GetProperty("items").EnumerateArray()];

    public static string Data(JsonElement e, string name) => e.GetProperty("data").GetProperty(name).ToString();

    /// <summary>Whether the visitor matches a segment template's rule now (the grain evaluates it, nothing stored).</summary>
    public async Task<bool> Matches(string visitor, string templateId)
    {
        var rule = SegmentTemplates.All.Single(t => t.Id == templateId).RuleJson;
        return await host.Grains.GetGrain<IVisitorGrain>(await ProfileId(visitor)).Matches(rule);
    }

    public static async Task<T> Eventually<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            var value = await read();
            if (done(value) || DateTime.UtcNow > deadline) return value;
            await Task.Delay(250);
        }
    }

    /// <summary>
    /// What a browser would submit from a page's form: the hidden nonce and every checked box and radio, with the
    /// changes given (a name mapped to null is dropped; to values, replaced).
    /// </summary>
    public static List<KeyValuePair<string, string>> FormOf(string html, IReadOnlyDictionary<string, string[]?>? changes = null)
    {
        var fields = new List<KeyValuePair<string, string>> { new("nonce", Nonce(html)) };
        foreach (Match m in CheckedInput().Matches(html))
            fields.Add(new(m.Groups["name"].Value, System.Net.WebUtility.HtmlDecode(m.Groups["value"].Value)));
        foreach (var (name, values) in changes ?? new Dictionary<string, string[]?>())
        {
            fields.RemoveAll(f => f.Key == name);
            foreach (var value in values ?? []) fields.Add(new(name, value));
        }
        return fields;
    }

    public static string Nonce(string html) => NonceInput().Match(html) is { Success: true } m ? m.Groups[1].Value : throw new InvalidOperationException("No nonce in the page.");

    [GeneratedRegex("<input type=\"(?:checkbox|radio)\" name=\"(?<name>[a-z_]+)\" id=\"[^\"]*\" value=\"(?<value>[^\"]*)\" checked>")]
    private static partial Regex CheckedInput();

    [GeneratedRegex("name=\"nonce\" value=\"([^\"]+)\"")]
    private static partial Regex NonceInput();
}
