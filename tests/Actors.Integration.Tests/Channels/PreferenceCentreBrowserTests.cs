using System.Globalization;
using System.Text.Json;
using Actors.Channels.Links;
using Actors.Integration.Tests.Support;
using OpenQA.Selenium;
using static Actors.Integration.Tests.Channels.PreferenceCentreKit;

namespace Actors.Integration.Tests.Channels;

/// <summary>
/// The visitor's side in a real headless Chromium: links opened, boxes ticked, buttons clicked, and what that recorded
/// read back from the visitor's stream and profile (and judged by the segment templates the choices are meant to fill).
/// </summary>
public sealed class PreferenceCentreBrowserTests(PreferenceCentreHostFixture host) : IClassFixture<PreferenceCentreHostFixture>, IDisposable
{
    private readonly PreferenceCentreKit _kit = new(host);
    private readonly Lazy<IWebDriver> _browser = new(Chromium.Start);

    private IWebDriver Browser => _browser.Value;

    private void Open(string path) => Browser.Navigate().GoToUrl(new Uri(host.BaseAddress, path));

    public void Dispose()
    {
        if (_browser.IsValueCreated) _browser.Value.Quit();
    }

    [ChromiumFact]
    public async Task Unticking_a_topic_choosing_monthly_and_pausing_90_days_is_saved_as_one_preferences_update()
    {
        var visitor = await _kit.Subscriber("pc", new { topics = new[] { "shoes", "bags" }, frequency = "weekly" });
        var token = await _kit.Token(visitor, LinkPurpose.Preferences);
        Open($"/m/p/{token}");

        Assert.Equal("Your preferences", Browser.Title);
        var shoes = Browser.FindElement(By.CssSelector("input[name=topic][value=shoes]"));
        var sale = Browser.FindElement(By.CssSelector("input[name=topic][value=sale]"));
        Assert.True(shoes.Selected);
        Assert.False(sale.Selected);
        Assert.True(Browser.FindElement(By.Id("frequency-weekly")).Selected);
        Assert.True(Browser.FindElement(By.Id("consent-email")).Selected);
        Assert.False(Browser.FindElement(By.Id("consent-sms")).Selected);

        shoes.Click();
        Browser.FindElement(By.Id("frequency-monthly")).Click();
        Browser.FindElement(By.Id("pause-90")).Click();
        var submittedAt = DateTimeOffset.UtcNow;
        Browser.FindElement(By.Id("save")).Click();

        Assert.Contains("saved", Browser.WaitFor(By.Id("notice")).Text);
        Assert.Contains("?saved=1", Browser.Url);
        Assert.False(Browser.FindElement(By.CssSelector("input[name=topic][value=shoes]")).Selected);
        Assert.True(Browser.FindElement(By.Id("frequency-monthly")).Selected);
        Assert.True(Browser.FindElement(By.Id("pause-resume")).Displayed); // paused now: the page offers to resume

        var update = Assert.Single(await _kit.Events(visitor, "preferences_updated"), e => e.GetProperty("messageId").GetString()!.StartsWith("pc:", StringComparison.Ordinal));
        var data = update.GetProperty("data");
        Assert.Equal(["bags"], data.GetProperty("topics").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal("monthly", data.GetProperty("frequency").GetString());
        var pausedUntil = DateTimeOffset.Parse(data.GetProperty("pausedUntil").GetString()!, CultureInfo.InvariantCulture);
        Assert.InRange(pausedUntil, submittedAt.AddDays(90).AddMinutes(-1), submittedAt.AddDays(90).AddMinutes(1));

        var preferences = (await _kit.Profile(visitor)).GetProperty("preferences");
        Assert.Equal(["bags"], preferences.GetProperty("topics").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal("monthly", preferences.GetProperty("frequency").GetString());
        Assert.Empty(await _kit.Events(visitor, "consent_withdrawn,newsletter_unsubscribed")); // untouched boxes record nothing
    }

    [ChromiumFact]
    public async Task Unsubscribe_on_the_landing_records_the_unsubscribe_and_the_withdrawn_consent_and_the_visitor_is_then_lost()
    {
        var visitor = await _kit.Subscriber("lost");
        var control = await _kit.Subscriber("kept"); // subscribed, and as inactive as the other
        var token = await _kit.Token(visitor, LinkPurpose.Unsubscribe);
        Open($"/m/u/{token}");

        Assert.Equal("Unsubscribe", Browser.FindElement(By.Id("unsubscribe")).Text);
        Assert.Equal("Restore my preferences", Browser.FindElement(By.Id("restore")).Text);
        Browser.FindElement(By.Id("unsubscribe")).Click();
        Assert.Contains("unsubscribed", Browser.WaitFor(By.Id("notice")).Text);

        var unsubscribed = Assert.Single(await _kit.Events(visitor, "newsletter_unsubscribed"));
        Assert.Equal("unsubscribe_landing", Data(unsubscribed, "source"));
        var withdrawn = Assert.Single(await _kit.Events(visitor, "consent_withdrawn"));
        Assert.Equal(("email", "marketing"), (Data(withdrawn, "channel"), Data(withdrawn, "purpose")));

        // "Unsubscribed and lost" holds once they are also at risk (3 s of inactivity in this host); the subscriber never.
        var stage = await Eventually(async () => (await _kit.Profile(visitor)).GetProperty("stage").GetString(),
            s => s is "at_risk" or "lapsed", TimeSpan.FromSeconds(60));
        Assert.True(stage is "at_risk" or "lapsed", $"stage {stage}");
        Assert.True(await _kit.Matches(visitor, "unsubscribed-and-lost"));
        await Eventually(async () => (await _kit.Profile(control)).GetProperty("stage").GetString(), s => s is "at_risk" or "lapsed", TimeSpan.FromSeconds(60));
        Assert.False(await _kit.Matches(control, "unsubscribed-and-lost"));
    }

    [ChromiumFact]
    public async Task Restore_my_preferences_clears_the_pause_and_the_visitor_counts_as_kept_through_the_preference_centre()
    {
        var pausedUntil = DateTimeOffset.UtcNow.AddDays(60).ToString("O", CultureInfo.InvariantCulture);
        var visitor = await _kit.Subscriber("restore", new { paused_until = pausedUntil });
        Assert.Equal(JsonValueKind.String, (await _kit.Profile(visitor)).GetProperty("preferences").GetProperty("pausedUntil").ValueKind);
        Assert.False(await _kit.Matches(visitor, "recovered-preference-centre")); // paused: not (yet) kept
        var token = await _kit.Token(visitor, LinkPurpose.Unsubscribe);
        Open($"/m/u/{token}");

        Browser.FindElement(By.Id("restore")).Click();
        Assert.Contains("restored", Browser.WaitFor(By.Id("notice")).Text);

        var restore = Assert.Single(await _kit.Events(visitor, "preferences_updated"), e => e.GetProperty("messageId").GetString()!.StartsWith("mu:", StringComparison.Ordinal));
        Assert.True(restore.GetProperty("data").GetProperty("clearPause").GetBoolean());
        Assert.Equal(JsonValueKind.Null, (await _kit.Profile(visitor)).GetProperty("preferences").GetProperty("pausedUntil").ValueKind);
        Assert.Empty(await _kit.Events(visitor, "newsletter_unsubscribed,consent_withdrawn"));
        Assert.True(await _kit.Matches(visitor, "recovered-preference-centre"));

        // The landing's link opens the preference centre with the same link.
        Browser.FindElement(By.Id("preferences")).Click();
        Browser.WaitFor(By.Id("save"));
        Assert.Equal("Your preferences", Browser.Title);
        Assert.False(Browser.FindElements(By.Id("pause-resume")).Count > 0, "not paused any more: nothing to resume");
    }

    [ChromiumFact]
    public void A_bad_link_shows_the_friendly_page()
    {
        Open("/m/p/not-a-link");
        Assert.Contains("expired or is not valid", Browser.WaitFor(By.Id("problem")).Text);
    }
}
