using System.Net.Http.Json;

namespace Actors.Integration.Tests.Support;

/// <summary>
/// Gives a visitor an email address (Segment identify traits, no user id: the visitor stays who it was). A journey
/// suppresses a message at decision when the visitor has no address on its channel ("no_email_address").
/// </summary>
public static class TestAddresses
{
    public static async Task GiveEmailAsync(HttpClient ingest, string visitor, string? email = null)
    {
        var response = await ingest.PostAsJsonAsync($"/v1/visitors/{visitor}/identify",
            new { messageId = $"{visitor}-email-{Guid.NewGuid():N}", traits = new { email = email ?? $"{visitor}@example.test" } });
        Assert.True(response.IsSuccessStatusCode, $"identify {visitor}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }
}
