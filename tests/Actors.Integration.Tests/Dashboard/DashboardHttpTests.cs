using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Actors.Integration.Tests.Support;

namespace Actors.Integration.Tests.Dashboard;

/// <summary>
/// The dashboard as the host serves it (no browser): its files come from the assembly, with a policy that lets only
/// this origin's scripts run and this origin's API be called; and the route that tells a key its scope.
/// </summary>
public sealed partial class DashboardHttpTests(HostFixture host) : IClassFixture<HostFixture>
{
    [Fact]
    public async Task Dashboard_files_are_served_with_a_strict_content_security_policy_and_no_inline_script()
    {
        using var anonymous = host.Client(key: null);
        var page = await anonymous.GetAsync("/dashboard/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var policy = string.Join(" ", page.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self';", policy);
        Assert.Contains("connect-src 'self'", policy);
        Assert.Contains("frame-ancestors 'none'", policy);
        Assert.DoesNotContain("unsafe-eval", policy);
        Assert.Equal("DENY", Assert.Single(page.Headers.GetValues("X-Frame-Options")));
        var html = await page.Content.ReadAsStringAsync();
        var scripts = ScriptTag().Matches(html);
        Assert.NotEmpty(scripts);
        Assert.All(scripts, s => Assert.Contains("src=\"/dashboard/", s.Value)); // every script is a file of this origin
        Assert.DoesNotMatch(InlineScript(), html);
        Assert.DoesNotMatch(EventAttribute(), html);

        var echarts = await anonymous.GetAsync("/dashboard/lib/echarts.min.js");
        Assert.Equal(HttpStatusCode.OK, echarts.StatusCode);
        Assert.Equal("text/javascript", echarts.Content.Headers.ContentType?.MediaType);
        Assert.True((await echarts.Content.ReadAsByteArrayAsync()).Length > 500_000, "the vendored ECharts build is embedded whole");
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/dashboard/pages/rfm.js")).StatusCode);

        // A path of the app without a file is the app; a missing file is 404; nothing outside wwwroot is reachable.
        var deep = await anonymous.GetAsync("/dashboard/segments/x");
        Assert.Equal(html, await deep.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync("/dashboard/pages/missing.js")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync("/dashboard/..%2FActors.Dashboard.csproj")).StatusCode);
        foreach (var hostile in new[] { "/dashboard/%00", "/dashboard/a%5C..%5Cb.js", "/dashboard/%E0%A4%A.js", "/dashboard/" + new string('a', 4000) + ".js", "/dashboard/lib/", "/dashboard//etc/passwd" })
        {
            var response = await anonymous.GetAsync(hostile);
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.NotFound or HttpStatusCode.BadRequest, $"{hostile}: {(int)response.StatusCode}");
            if (response.StatusCode == HttpStatusCode.OK) Assert.Equal(html, await response.Content.ReadAsStringAsync()); // only ever the app itself
        }
        var bare = await new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = host.BaseAddress }.GetAsync("/dashboard");
        Assert.Equal("/dashboard/", bare.Headers.Location?.ToString());
    }

    [Theory]
    [InlineData(HostFixture.AdminKey, "admin")]
    [InlineData(HostFixture.MarketingKey, "marketing")]
    [InlineData(HostFixture.IngestKey, "ingest")]
    public async Task Keys_me_tells_any_valid_key_its_name_and_scope(string key, string scope)
    {
        var me = await host.Client(key).GetFromJsonAsync<JsonElement>("/v1/keys/me");
        Assert.Equal(scope, me.GetProperty("scope").GetString());
        Assert.False(string.IsNullOrEmpty(me.GetProperty("name").GetString()));
        Assert.DoesNotContain(key, me.ToString()); // the key is never echoed back
    }

    [Fact]
    public async Task Keys_me_without_a_key_or_with_an_unknown_one_is_401_problem_json()
    {
        foreach (var client in new[] { host.Client(key: null), host.Client("no-such-key-0123456789") })
        {
            var response = await client.GetAsync("/v1/keys/me");
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }

    [GeneratedRegex("<script[^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex ScriptTag();

    [GeneratedRegex(@"<script[^>]*>\s*[^<\s]", RegexOptions.IgnoreCase)]
    private static partial Regex InlineScript();

    [GeneratedRegex(@"<[^>]+\son[a-z]+\s*=", RegexOptions.IgnoreCase)]
    private static partial Regex EventAttribute();
}
