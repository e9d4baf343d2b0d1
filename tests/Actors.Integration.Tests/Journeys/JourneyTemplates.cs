using System.Net.Http.Json;

namespace Actors.Integration.Tests.Journeys;

/// <summary>Message templates that journeys in tests name (a journey may only name templates that exist).</summary>
public static class JourneyTemplates
{
    /// <summary>Saves a plain template with this id (text, html and subject) and returns the id.</summary>
    public static async Task<string> EnsureAsync(HttpClient marketing, string id)
    {
        var response = await marketing.PutAsJsonAsync($"/v1/templates/{id}", new
        {
            subject = "Hello {{ visitor.first_name }}",
            text = "Hello from the shop ({{ message.key }})",
            html = "<p>Hello from the shop</p><p><a href=\"https://shop.example/cart\">Your cart</a></p>",
            url = "https://shop.example/cart",
        });
        // Before templates existed as a resource this route was absent; journeys then named templates freely.
        if (response.StatusCode != System.Net.HttpStatusCode.NotFound && response.StatusCode != System.Net.HttpStatusCode.MethodNotAllowed)
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return id;
    }
}
