using System.Net.Http.Json;
using System.Text.Json;
using Actors.Integration.Tests.Support;

namespace Actors.Integration.Tests.Operations;

/// <summary>
/// The embedded server's backup and restore through the host's own commands (pg_dump / pg_restore of the same
/// installation): a backup taken while the host runs, restored into a fresh data folder, read back by a new host.
/// </summary>
public sealed class BackupRestoreTests
{
    private const string Key = "backup-admin-key-0123456789";

    private static async Task<List<string>> MessageIdsAsync(HttpClient client, string visitor)
    {
        var page = await client.GetFromJsonAsync<JsonElement>($"/v1/users/{visitor}/events?type=product_viewed&limit=1000");
        return [.. page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("messageId").GetString()!)];
    }

    [Fact]
    public async Task A_backup_taken_while_the_host_runs_restores_into_a_fresh_data_folder_with_the_same_events()
    {
        var source = TestPostgres.NewDataFolder();
        var target = TestPostgres.NewDataFolder();
        var file = Path.Combine(Path.GetTempPath(), $"actors-backup-{Guid.NewGuid():N}.dump");
        var visitors = Enumerable.Range(0, 5).Select(i => $"bk-{Guid.NewGuid():N}"[..12] + i).ToList();
        var before = new Dictionary<string, List<string>>();
        try
        {
            var (host, client) = await OwnServerHost.StartAsync(source, Key);
            try
            {
                foreach (var v in visitors)
                    for (var i = 0; i < 4; i++)
                    {
                        var r = await client.PostAsJsonAsync($"/v1/visitors/{v}/events", new { @event = "Product Viewed", messageId = $"{v}-{i}", properties = new { product_id = $"sku-{i}" } });
                        Assert.True(r.IsSuccessStatusCode, await r.Content.ReadAsStringAsync());
                    }
                foreach (var v in visitors) before[v] = await MessageIdsAsync(client, v);
                Assert.All(before.Values, ids => Assert.Equal(4, ids.Count));

                var backup = await SiloProcess.RunCommandAsync("backup", file, $"--ACTORS_DATA_DIR={source}");
                Assert.True(backup.ExitCode == 0, backup.Output);
                Assert.True(new FileInfo(file).Length > 0);

                // Restoring under a running host would pull its database from under its grains: refused.
                var refused = await SiloProcess.RunCommandAsync("restore", file, $"--ACTORS_DATA_DIR={source}");
                Assert.True(refused.ExitCode == 1, refused.Output);
                Assert.Contains("stop it before restoring", refused.Output);

                // After the backup: not in what is restored.
                var late = await client.PostAsJsonAsync($"/v1/visitors/{visitors[0]}/events", new { @event = "Product Viewed", messageId = "after-backup", properties = new { product_id = "sku-late" } });
                Assert.True(late.IsSuccessStatusCode);
            }
            finally
            {
                await host.App.StopAsync();
                await host.DisposeAsync();
            }

            // Twice: into a fresh folder, then over the restored database itself (restore replaces, it does not add).
            for (var round = 0; round < 2; round++)
            {
                var restore = await SiloProcess.RunCommandAsync("restore", file, $"--ACTORS_DATA_DIR={target}");
                Assert.True(restore.ExitCode == 0, restore.Output);
            }

            var (restored, restoredClient) = await OwnServerHost.StartAsync(target, Key);
            try
            {
                foreach (var v in visitors)
                    Assert.Equal(before[v], await MessageIdsAsync(restoredClient, v));
                var profile = await restoredClient.GetFromJsonAsync<JsonElement>($"/v1/visitors/{visitors[1]}/profile");
                Assert.Equal(4, profile.GetProperty("version").GetInt64());

                // The restored host takes new events on the restored streams.
                var next = await restoredClient.PostAsJsonAsync($"/v1/visitors/{visitors[1]}/events", new { @event = "Product Viewed", messageId = "after-restore", properties = new { product_id = "sku-new" } });
                Assert.True(next.IsSuccessStatusCode, await next.Content.ReadAsStringAsync());
                Assert.Equal([.. before[visitors[1]], "after-restore"], await MessageIdsAsync(restoredClient, visitors[1]));
            }
            finally
            {
                await restored.App.StopAsync();
                await restored.DisposeAsync();
            }
        }
        finally
        {
            File.Delete(file);
            foreach (var folder in new[] { source, target })
                if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Restore_without_a_file_or_of_a_missing_file_says_so_and_changes_nothing()
    {
        var usage = await SiloProcess.RunCommandAsync("restore");
        Assert.Equal(2, usage.ExitCode);
        Assert.Contains("usage: restore <file>", usage.Output);

        var folder = TestPostgres.NewDataFolder();
        try
        {
            var missing = await SiloProcess.RunCommandAsync("restore", Path.Combine(folder, "no-such.dump"), $"--ACTORS_DATA_DIR={folder}");
            Assert.Equal(2, missing.ExitCode);
            Assert.Contains("no backup at", missing.Output);
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }
}
