using System.Net.Http.Json;
using System.Text.Json;
using Actors.Integration.Tests.Support;

namespace Actors.Integration.Tests.Privacy;

/// <summary>The host with no SMTP server: emails are written as .eml files into a folder of the test's own.</summary>
public sealed class EmailFilePrivacyFixture : HostFixture, IAsyncLifetime // re-implemented, so xUnit calls the DisposeAsync below
{
    public string Folder { get; } = Path.Combine(TestPostgres.NewDataFolder(), "mail");

    protected override IEnumerable<string> ExtraArguments() =>
    [
        $"--Actors:Email:Folder={Folder}",
        "--Actors:Messages:QuietFrom=00:00", "--Actors:Messages:QuietUntil=00:00",
        "--Actors:Channels:PollEvery=00:00:00.200",
    ];

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(Path.GetDirectoryName(Folder)!, recursive: true);
    }
}

public class PrivacyEmailFileTests(EmailFilePrivacyFixture host) : IClassFixture<EmailFilePrivacyFixture>
{
    [Fact]
    public async Task Erasure_deletes_the_email_files_written_for_the_person_and_leaves_others()
    {
        var ingest = host.Client();
        var admin = host.Client(HostFixture.AdminKey);
        var id = Guid.NewGuid().ToString("N")[..10];
        var category = $"cat{id}";
        await DatabaseScan.EmailJourneyAsync(host.Client(HostFixture.MarketingKey), id, category);

        async Task<string> Shopper(string who)
        {
            var visitor = $"{who}-{id}";
            var email = $"{visitor}@example.net";
            foreach (var body in new object[]
            {
                new { type = "identify", messageId = $"{visitor}-1", traits = new { email, firstName = "Zed" + who } },
                new { type = "track", @event = "Consent Given", messageId = $"{visitor}-2", properties = new { channel = "email", purpose = "marketing" } },
                new { type = "track", @event = "Product Added", messageId = $"{visitor}-3", properties = new { product_id = "sku-1", price = 9, quantity = 1, category } },
            })
            {
                var response = await ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/events", body);
                Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
            }
            return email;
        }
        var erasedEmail = await Shopper("gone");
        var keptEmail = await Shopper("kept");

        string[] Files() => Directory.Exists(host.Folder) ? Directory.GetFiles(host.Folder, "*.eml", SearchOption.AllDirectories) : [];
        bool Holds(string file, string text) => File.ReadAllText(file).Contains(text, StringComparison.OrdinalIgnoreCase);
        var deadline = DateTime.UtcNow.AddSeconds(40);
        while (!(Files().Any(f => Holds(f, erasedEmail)) && Files().Any(f => Holds(f, keptEmail))) && DateTime.UtcNow < deadline) await Task.Delay(200);
        Assert.Contains(Files(), f => Holds(f, erasedEmail));

        var erased = await admin.DeleteAsync($"/v1/users/gone-{id}");
        Assert.True(erased.IsSuccessStatusCode, await erased.Content.ReadAsStringAsync());
        Assert.Equal(1, (await erased.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("emailFilesDeleted").GetInt32());
        Assert.DoesNotContain(Files(), f => Holds(f, erasedEmail));
        Assert.Contains(Files(), f => Holds(f, keptEmail));
        Assert.Empty(await DatabaseScan.FindAsync(host.ConnectionString, erasedEmail));
        Assert.NotEmpty(await DatabaseScan.FindAsync(host.ConnectionString, keptEmail));
    }
}
