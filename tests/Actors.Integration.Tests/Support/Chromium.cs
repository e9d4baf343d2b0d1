using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;

namespace Actors.Integration.Tests.Support;

/// <summary>
/// Debian's headless Chromium driven by its chromedriver (apt-get install chromium chromium-driver; .ci/run installs
/// them). Without them a browser test fails, naming the install command: a skipped test would prove nothing.
/// </summary>
public static class Chromium
{
    public const string Browser = "/usr/bin/chromium";
    public const string Driver = "/usr/bin/chromedriver";

    public static string? Missing =>
        File.Exists(Browser) && File.Exists(Driver) ? null
        : $"Browser tests need Debian's chromium and chromium-driver ({Browser}, {Driver}): apt-get install -y chromium chromium-driver";

    public static IWebDriver Start()
    {
        if (Missing is { } missing) throw new InvalidOperationException(missing);
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(Driver)!, Path.GetFileName(Driver));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        var options = new ChromeOptions { BinaryLocation = Browser };
        // --no-sandbox: the tests run as root; the rest keeps Chromium small on a shared machine.
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-extensions",
            "--no-first-run", "--window-size=1024,1400");
        var driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
        driver.Manage().Timeouts().PageLoad = TimeSpan.FromSeconds(30);
        return driver;
    }

    /// <summary>Waits for an element (a page after a form post) and returns it.</summary>
    public static IWebElement WaitFor(this IWebDriver driver, By by, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(15));
        while (true)
        {
            if (driver.FindElements(by).FirstOrDefault(e => e.Displayed) is { } found) return found;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"No {by} on {driver.Url}: {driver.PageSource}");
            Thread.Sleep(100);
        }
    }
}

/// <summary>A test that drives the browser; without Chromium it fails (see <see cref="Chromium.Start"/>), it is never skipped.</summary>
public sealed class ChromiumFactAttribute : FactAttribute;
