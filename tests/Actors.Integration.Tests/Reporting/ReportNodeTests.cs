using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Actors.Integration.Tests.Support;
using Actors.Silo.Commands;

namespace Actors.Integration.Tests.Reporting;

public sealed class NoDaemonHostFixture : HostFixture
{
    protected override IEnumerable<string> ExtraArguments() => ["--Actors:EventStore:RunProjections=false"];
}

/// <summary>
/// A node configured not to run the reporting daemon: it serves reports, but they do not advance, and says so; the
/// command line's rebuild brings them up to the log.
/// </summary>
public class ReportNodeTests(NoDaemonHostFixture host) : IClassFixture<NoDaemonHostFixture>
{
    [Fact]
    public async Task Without_the_daemon_node_the_status_says_stopped_names_no_node_and_refuses_a_rebuild_which_the_command_line_does()
    {
        var ingest = host.Client();
        var marketing = host.Client(HostFixture.MarketingKey);
        var visitor = $"nd-{Guid.NewGuid():N}";
        var sent = await ingest.PostAsJsonAsync("/v1/batch", new { batch = new[] { new { type = "page", anonymousId = visitor, messageId = $"{visitor}-1", properties = new { url = "https://shop.example/?utm_source=google" } } } });
        Assert.Equal(HttpStatusCode.OK, sent.StatusCode);

        await Task.Delay(TimeSpan.FromSeconds(3)); // a daemon would have caught up by now
        var status = await marketing.GetFromJsonAsync<JsonElement>("/v1/reports/status");
        Assert.Equal(JsonValueKind.Null, status.GetProperty("daemonNode").ValueKind);
        foreach (var p in status.GetProperty("projections").EnumerateArray())
        {
            Assert.Equal("stopped", p.GetProperty("state").GetString());
            Assert.Equal(0, p.GetProperty("position").GetInt64());
            Assert.True(p.GetProperty("highWater").GetInt64() > 0);
        }
        var funnel = await marketing.GetFromJsonAsync<JsonElement>("/v1/reports/funnel/visitors?stage=anonymous");
        Assert.Equal(0, funnel.GetProperty("total").GetInt32());

        var rebuild = await host.Client(HostFixture.AdminKey).PostAsync("/v1/reports/rebuild", null);
        Assert.Equal(HttpStatusCode.Conflict, rebuild.StatusCode);
        Assert.Equal("application/problem+json", rebuild.Content.Headers.ContentType?.MediaType);

        // The command line rebuilds them from the log on a node without the daemon (the ops path with the host stopped).
        Assert.Equal(0, await AdminCommands.RunAsync(["reports", "rebuild", $"--ConnectionStrings:Postgres={host.ConnectionString}"]));
        var after = await marketing.GetFromJsonAsync<JsonElement>("/v1/reports/status");
        foreach (var p in after.GetProperty("projections").EnumerateArray())
            Assert.Equal(p.GetProperty("highWater").GetInt64(), p.GetProperty("position").GetInt64());
        var visitors = await marketing.GetFromJsonAsync<JsonElement>("/v1/reports/anonymous/visitors?source=google&category=none");
        Assert.Equal($"anon:{visitor}", Assert.Single(visitors.GetProperty("visitors").EnumerateArray()).GetProperty("profileId").GetString());
    }
}
