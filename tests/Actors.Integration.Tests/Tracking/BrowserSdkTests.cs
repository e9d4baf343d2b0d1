using System.Net.Http.Json;
using System.Text.Json;
using Actors.Integration.Tests.Support;
using Actors.Storage.Access;
using Microsoft.Extensions.DependencyInjection;
using OpenQA.Selenium;

namespace Actors.Integration.Tests.Tracking;

/// <summary>
/// The published browser SDKs, unchanged, in headless Chromium on a shop page of another origin (a second loopback
/// port): Segment's analytics.js 2.0 (@segment/analytics-next) told only its write key and cdnURL, RudderStack's v3 SDK
/// told its write key, data plane and configUrl. Each sends a shop session; the customer's stream must then hold every
/// event exactly once, and the page itself reads the visitor's profile with its ingest key (CORS).
/// </summary>
public sealed class BrowserSdkTests(HostFixture host) : IClassFixture<HostFixture>, IAsyncLifetime
{
    private ShopOrigin _shop = null!;
    private IWebDriver? _browser;
    private string _writeKey = "";

    private IWebDriver Browser => _browser ??= Chromium.Start();
    private string Api => host.BaseAddress.GetLeftPart(UriPartial.Authority);

    public async Task InitializeAsync()
    {
        if (Chromium.Missing is not null && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"))) return; // skipped
        _shop = await ShopOrigin.StartAsync();
        // The shop's own write key, allowed in pages of the shop's origin only.
        var created = await host.Host.App.Services.GetRequiredService<ApiKeyStore>().CreateAsync("web-shop", ApiScope.Ingest, [_shop.Origin]);
        _writeKey = created.Key;
    }

    public async Task DisposeAsync()
    {
        _browser?.Quit();
        if (_shop is not null) await _shop.DisposeAsync();
    }

    /// <summary>
    /// The shop page's last step: as its frontend would, it reads the visitor's own profile with the ingest key (a
    /// cross-origin fetch with an Authorization header, so preflighted) until the order has made them a customer.
    /// </summary>
    private const string ReadProfileScript = """
        async function readOwnProfile(api, writeKey, anonymousId) {
          for (let i = 0; i < 100; i++) {
            const response = await fetch(`${api}/v1/visitors/${encodeURIComponent(anonymousId)}/profile`,
              { headers: { Authorization: `Bearer ${writeKey}` } });
            if (!response.ok) throw new Error(`profile read: ${response.status} ${await response.text()}`);
            const profile = await response.json();
            document.getElementById('stage').textContent = profile.stage;
            if (profile.stage === 'customer') return profile;
            await new Promise(r => setTimeout(r, 200));
          }
          throw new Error('the profile never reached the customer stage');
        }
        // The paths the SDK posts to (analytics.js uses fetch), so the test sees which of our routes it used.
        const originalFetch = window.fetch.bind(window);
        window.fetch = (url, init) => {
          if (init && String(init.method).toUpperCase() === 'POST') {
            const line = document.createElement('div');
            line.className = 'posted';
            line.textContent = new URL(String(url)).pathname;
            document.body.appendChild(line);
          }
          return originalFetch(url, init);
        };
        // What the SDKs log (delivery failures) goes into the page, so a failing test can say why.
        for (const level of ['error', 'warn']) {
          const original = console[level].bind(console);
          console[level] = (...args) => {
            const line = document.createElement('div');
            line.className = 'console';
            line.textContent = `${level}: ${args.map(a => a && a.stack || (typeof a === 'object' ? JSON.stringify(a) : String(a))).join(' ')}`;
            document.body.appendChild(line);
            original(...args);
          };
        }
        function fail(e) {
          const box = document.createElement('pre');
          box.id = 'failed';
          box.textContent = String(e && e.stack || e);
          document.body.appendChild(box);
        }
        """;

    private static string SessionParameters(string api, string writeKey, string anonymousId, string userId) =>
        $"api={Uri.EscapeDataString(api)}&key={Uri.EscapeDataString(writeKey)}&anon={anonymousId}&user={userId}";

    [ChromiumFact]
    public Task A_shop_session_sent_by_Segment_analytics_js_from_the_shop_origin_is_stored_once_and_the_page_reads_the_profile() =>
        SegmentSession(batching: false);

    [ChromiumFact]
    public Task A_shop_session_batched_by_Segment_analytics_js_to_its_batch_path_is_stored_once_and_the_page_reads_the_profile() =>
        SegmentSession(batching: true);

    private async Task SegmentSession(bool batching)
    {
        var page = _shop.Page("segment.html", $$"""
            <!doctype html>
            <html><head><title>Shop</title><script src="/sdk/analytics-next.js"></script></head>
            <body><p>stage: <span id="stage"></span></p>
            <script>
            {{ReadProfileScript}}
            (async () => {
              const q = new URLSearchParams(location.search);
              const api = q.get('api'), writeKey = q.get('key'), anonymousId = q.get('anon'), userId = q.get('user');
              // The shop's analytics.js setup; the only changes for us: our write key, and cdnURL set to our host.
              const options = q.get('batching') === '1'
                ? { integrations: { 'Segment.io': { deliveryStrategy: { strategy: 'batching', config: { size: 10, timeout: 1000 } } } } }
                : {};
              const [analytics] = await AnalyticsNext.AnalyticsBrowser.load({ writeKey, cdnURL: api }, options);
              analytics.setAnonymousId(anonymousId);
              await analytics.page('Home', { url: location.href });
              await analytics.track('Product Viewed', { product_id: 'sku-7', category: 'Shoes', price: 89.9 });
              await analytics.track('Product Added', { product_id: 'sku-7', category: 'Shoes', quantity: 1, price: 89.9 });
              await analytics.identify(userId, { email: 'ada@example.com', first_name: 'Ada' });
              await analytics.track('Order Completed', { order_id: `o-${userId}`, total: 89.9, currency: 'EUR',
                products: [{ product_id: 'sku-7', category: 'Shoes', quantity: 1, price: 89.9 }] });
              await readOwnProfile(api, writeKey, anonymousId);
              document.title = 'done';
            })().catch(fail);
            </script></body></html>
            """);

        await RunSession(batching ? new Uri(page + "?batching=1") : page, batching ? "ajs-batch" : "ajs");

        var posted = Browser.FindElements(By.ClassName("posted")).Select(e => e.Text).ToList();
        if (batching)
        {
            Assert.NotEmpty(posted);
            Assert.All(posted, path => Assert.Equal("/v1/b", path));
        }
        else Assert.Equal(["/v1/p", "/v1/t", "/v1/t", "/v1/i", "/v1/t"], posted);
    }

    [ChromiumFact]
    public async Task A_shop_session_sent_by_the_RudderStack_SDK_from_the_shop_origin_is_stored_once_and_the_page_reads_the_profile()
    {
        var page = _shop.Page("rudderstack.html", $$"""
            <!doctype html>
            <html><head><title>Shop</title><script src="/sdk/rudderstack.js"></script></head>
            <body><p>stage: <span id="stage"></span></p>
            <script>
            {{ReadProfileScript}}
            (async () => {
              const q = new URLSearchParams(location.search);
              const api = q.get('api'), writeKey = q.get('key'), anonymousId = q.get('anon'), userId = q.get('user');
              const analytics = new rudderanalytics.RudderAnalytics();
              // The shop's RudderStack setup; the only changes for us: the data plane URL, and configUrl set to our host.
              analytics.load(writeKey, api, { configUrl: api, logLevel: 'ERROR' });
              await new Promise(resolve => analytics.ready(resolve));
              analytics.setAnonymousId(anonymousId);
              analytics.page('Home', { url: location.href });
              analytics.track('Product Viewed', { product_id: 'sku-7', category: 'Shoes', price: 89.9 });
              analytics.track('Product Added', { product_id: 'sku-7', category: 'Shoes', quantity: 1, price: 89.9 });
              analytics.identify(userId, { email: 'ada@example.com', first_name: 'Ada' });
              analytics.track('Order Completed', { order_id: `o-${userId}`, total: 89.9, currency: 'EUR',
                products: [{ product_id: 'sku-7', category: 'Shoes', quantity: 1, price: 89.9 }] });
              await readOwnProfile(api, writeKey, anonymousId);
              document.title = 'done';
            })().catch(fail);
            </script></body></html>
            """);

        await RunSession(page, "rs");
    }

    /// <summary>
    /// A visitor leaves the page while analytics.js still holds events in its batch (a long batch timeout, so only the
    /// unload can send them): the SDK flushes them with a keepalive request as the page goes away, and they arrive.
    /// </summary>
    [ChromiumFact]
    public async Task Events_still_batched_when_the_visitor_leaves_the_page_are_sent_on_unload_and_stored_once()
    {
        var leaving = _shop.Page("leaving.html", $$"""
            <!doctype html>
            <html><head><title>Shop</title><script src="/sdk/analytics-next.js"></script></head>
            <body><script>
            (async () => {
              const q = new URLSearchParams(location.search);
              const api = q.get('api'), writeKey = q.get('key'), anonymousId = q.get('anon');
              const options = { integrations: { 'Segment.io': { deliveryStrategy: { strategy: 'batching', config: { size: 50, timeout: 600000 } } } } };
              const [analytics] = await AnalyticsNext.AnalyticsBrowser.load({ writeKey, cdnURL: api }, options);
              analytics.setAnonymousId(anonymousId);
              await analytics.track('Product Viewed', { product_id: 'sku-1', category: 'Bags' });
              await analytics.track('Product Added', { product_id: 'sku-1', category: 'Bags', quantity: 1, price: 30 });
              location.href = '/pages/elsewhere.html'; // gone before the batch's timer
            })();
            </script></body></html>
            """);
        _shop.Page("elsewhere.html", "<!doctype html><html><head><title>elsewhere</title></head><body>another site</body></html>");
        var anonymousId = $"leave-anon-{Guid.NewGuid():N}";
        Browser.Navigate().GoToUrl(new Uri(leaving, $"?{SessionParameters(Api, _writeKey, anonymousId, "unused")}"));

        var admin = host.Client(HostFixture.AdminKey);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        List<string?> types;
        do
        {
            await Task.Delay(250);
            var events = await admin.GetFromJsonAsync<JsonElement>($"/v1/users/anon:{anonymousId}/events?limit=100");
            types = [.. events.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("type").GetString())];
        }
        while (types.Count < 2 && DateTime.UtcNow < deadline);
        Assert.Equal("elsewhere", Browser.Title); // the visitor did leave
        Assert.Equal(1, types.Count(t => t == "product_viewed"));
        Assert.Equal(1, types.Count(t => t == "cart_item_added"));
    }

    private async Task RunSession(Uri page, string prefix)
    {
        var anonymousId = $"{prefix}-anon-{Guid.NewGuid():N}";
        var userId = $"{prefix}-user-{Guid.NewGuid():N}";
        var query = string.IsNullOrEmpty(page.Query) ? "?" : page.Query + "&";
        Browser.Navigate().GoToUrl(new Uri(page, $"{query}{SessionParameters(Api, _writeKey, anonymousId, userId)}"));
        Assert.NotEqual(host.BaseAddress.Port, page.Port); // a second origin, not the API's

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (Browser.Title != "done")
        {
            if (Browser.FindElements(By.Id("failed")).FirstOrDefault() is { } failed) Assert.Fail($"The shop page failed: {failed.Text}");
            if (DateTime.UtcNow > deadline) Assert.Fail($"The shop page did not finish: {Browser.PageSource}");
            await Task.Delay(200);
        }
        Assert.Equal("customer", Browser.FindElement(By.Id("stage")).Text);

        var admin = host.Client(HostFixture.AdminKey);
        var profile = await admin.GetFromJsonAsync<JsonElement>($"/v1/visitors/{anonymousId}/profile");
        Assert.Equal($"user:{userId}", profile.GetProperty("profileId").GetString());
        // The page read "customer" above; the fixture's at-risk threshold is 3 s, so a starved machine may show the
        // visitor moved on for inactivity by now.
        Assert.Contains(profile.GetProperty("stage").GetString(), new[] { "customer", "at_risk", "lapsed" });
        Assert.Equal("ada@example.com", profile.GetProperty("attributes").GetProperty("email").GetString());

        // Give any retry the SDK might still send a moment to land, then count: every event exactly once.
        await Task.Delay(TimeSpan.FromSeconds(1));
        var events = await admin.GetFromJsonAsync<JsonElement>($"/v1/users/user:{userId}/events?limit=100");
        var items = events.GetProperty("items").EnumerateArray().ToList();
        var types = items.Select(i => i.GetProperty("type").GetString()).ToList();
        foreach (var type in new[] { "page_viewed", "product_viewed", "cart_item_added", "identified", "order_placed" })
            Assert.True(types.Count(t => t == type) == 1, $"{type} is in the stream {types.Count(t => t == type)} times: {string.Join(", ", types)}");
        var messageIds = items.Select(i => i.GetProperty("messageId").GetString()).ToList();
        Assert.Equal(messageIds.Count, messageIds.Distinct().Count());
        var order = items.Single(i => i.GetProperty("type").GetString() == "order_placed");
        Assert.Contains($"o-{userId}", order.GetProperty("data").GetRawText());
    }
}
