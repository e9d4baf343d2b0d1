using System.Net.Http.Json;

namespace Actors.Integration.Tests.Support;

/// <summary>Journeys and broadcasts name templates that must exist: tests create them first.</summary>
public static class TestTemplates
{
    /// <summary>Saves a simple template (any channel) under each id; saving one that exists changes nothing that matters.</summary>
    public static async Task EnsureAsync(HttpClient marketing, params string[] ids)
    {
        foreach (var id in ids)
        {
            var response = await marketing.PutAsJsonAsync($"/v1/templates/{id}",
                new { subject = $"{id} for {{{{ visitor.first_name | default: 'you' }}}}", text = "Your cart: {{ cart_count }} items. {{ unsubscribe_url }}" });
            Assert.True(response.IsSuccessStatusCode, $"template {id}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }
}
