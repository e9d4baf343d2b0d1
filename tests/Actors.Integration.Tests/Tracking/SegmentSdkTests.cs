using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Integration.Tests.Support;

namespace Actors.Integration.Tests.Tracking;

/// <summary>The official Segment Node SDK (npm @segment/analytics-node), pointed at our host, changes nothing else.</summary>
public class SegmentSdkTests(HostFixture host) : IClassFixture<HostFixture>
{
    private static readonly string SdkFolder = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../segment-sdk"));

    private static async Task<(int Code, string Output)> Run(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { WorkingDirectory = SdkFolder, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output + await error);
    }

    [Fact]
    public async Task A_session_sent_by_the_Segment_SDK_lands_and_is_identified()
    {
        if (!Directory.Exists(Path.Combine(SdkFolder, "node_modules", "@segment")))
        {
            var install = await Run("npm", "ci", "--no-audit", "--no-fund");
            Assert.True(install.Code == 0, $"npm ci failed in {SdkFolder}: {install.Output}");
        }

        var anonymousId = $"sdk-{Guid.NewGuid():N}";
        var userId = $"sdk-user-{Guid.NewGuid():N}";
        var sent = await Run("node", "send-session.mjs", host.BaseAddress.ToString().TrimEnd('/'), HostFixture.IngestKey, anonymousId, userId);
        Assert.True(sent.Code == 0, sent.Output);

        var admin = host.Client(HostFixture.AdminKey);
        var profile = await admin.GetFromJsonAsync<JsonElement>($"/v1/visitors/{anonymousId}/profile");
        Assert.Equal($"user:{userId}", profile.GetProperty("profileId").GetString());
        Assert.Equal("ada@example.com", profile.GetProperty("attributes").GetProperty("email").GetString());
        // The order made the visitor a customer. The fixture's at-risk threshold is 3 s (so other tests can watch
        // inactivity): on a starved machine the visitor may have moved on by the time the profile is read (seen in CI).
        var changes = await admin.GetFromJsonAsync<JsonElement>($"/v1/users/user:{userId}/events?type=stage_changed");
        Assert.Contains(changes.GetProperty("items").EnumerateArray(), c =>
            c.GetProperty("data").GetProperty("to").GetString() == "customer" && c.GetProperty("data").GetProperty("reason").GetString() == "first_order");
        Assert.Contains(profile.GetProperty("stage").GetString(), new[] { "customer", "at_risk", "lapsed" });

        var events = await admin.GetFromJsonAsync<JsonElement>($"/v1/users/user:{userId}/events?limit=100");
        var types = events.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("type").GetString()).ToList();
        Assert.Contains("page_viewed", types);
        Assert.Contains("product_viewed", types);
        Assert.Contains("cart_item_added", types);
        Assert.Contains("identified", types);
        Assert.Contains("order_placed", types);
    }

    [Fact]
    public async Task Two_customers_on_one_till_sent_by_the_Segment_SDK_stay_two_customers()
    {
        if (!Directory.Exists(Path.Combine(SdkFolder, "node_modules", "@segment")))
        {
            var install = await Run("npm", "ci", "--no-audit", "--no-fund");
            Assert.True(install.Code == 0, $"npm ci failed in {SdkFolder}: {install.Output}");
        }

        var till = $"till-{Guid.NewGuid():N}";
        var (alice, bob) = ($"alice-{Guid.NewGuid():N}", $"bob-{Guid.NewGuid():N}");
        var sent = await Run("node", "send-shared-till.mjs", host.BaseAddress.ToString().TrimEnd('/'), HostFixture.IngestKey, till, alice, bob);
        Assert.True(sent.Code == 0, sent.Output);

        var admin = host.Client(HostFixture.AdminKey);
        var first = await admin.GetFromJsonAsync<JsonElement>($"/v1/visitors/user:{alice}/profile");
        var second = await admin.GetFromJsonAsync<JsonElement>($"/v1/visitors/user:{bob}/profile");
        Assert.Equal($"user:{alice}", first.GetProperty("profileId").GetString());
        Assert.Equal($"{alice}@example.com", first.GetProperty("attributes").GetProperty("email").GetString());
        Assert.Equal(40m, first.GetProperty("orders").GetProperty("total").GetDecimal());
        Assert.Equal($"user:{bob}", second.GetProperty("profileId").GetString());
        Assert.Equal($"{bob}@example.com", second.GetProperty("attributes").GetProperty("email").GetString());
        Assert.Equal(15m, second.GetProperty("orders").GetProperty("total").GetDecimal());
        // The till's last event, with no user id, is the second customer's.
        Assert.Equal($"user:{bob}", (await admin.GetFromJsonAsync<JsonElement>($"/v1/visitors/{till}/profile")).GetProperty("profileId").GetString());
    }
}
