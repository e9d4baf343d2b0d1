using System.Text.Json;
using Actors.Api.Templates;
using Actors.Channels.Templates;
using Actors.Domain.Channels;
using Actors.Domain.Journeys;
using Actors.Domain.Profiles;

namespace Actors.Integration.Tests.Templates;

/// <summary>
/// The starter templates without a database: each passes the checks every saved template passes, there is one for
/// every template a ready-made journey names (written for that step's channel), and the products a visitor viewed and
/// their recommendations render in loops.
/// </summary>
public class StarterTemplateTests
{
    private static readonly TemplateVariables.MessageContext Message =
        new("key-1", "browse", 1, "remind", "email", "browse-reminder", "https://shop.example/m/u/t", "https://shop.example/m/p/t");

    private static MessageRecipient Shopper(IReadOnlyList<ViewedProduct>? viewed = null, IReadOnlyList<RecommendedProduct>? recommended = null) => new(
        "p-1", "u-1", "ada@example.com", null, "customer", new Dictionary<string, string> { ["firstName"] = "Ada" },
        [new CartLine("boot-1", 1)], ["shoes"], [], null)
    {
        RecentProducts = viewed ?? [new ViewedProduct("loafer-2", "shoes", DateTimeOffset.UnixEpoch), new ViewedProduct("scarf-9", null, DateTimeOffset.UnixEpoch)],
        Recommendations = recommended ?? [new RecommendedProduct("sneaker-3", "shoes", 12), new RecommendedProduct("sandal-<4>", "shoes", 5)],
    };

    private static IEnumerable<(string Journey, string Path, string Template, string? Channel)> NamedByJourneys() =>
        JourneyTemplates.All.SelectMany(j =>
        {
            using var json = JsonDocument.Parse(j.Json);
            return TemplateReferences.InJourney(json.RootElement).Select(s => (j.Id, s.Path, s.Template, s.Channel)).ToList();
        });

    [Fact]
    public async Task Every_starter_passes_the_checks_a_saved_template_passes()
    {
        Assert.NotEmpty(StarterTemplates.All);
        Assert.Equal(StarterTemplates.All.Count, StarterTemplates.All.Select(t => t.Id).Distinct().Count());
        foreach (var starter in StarterTemplates.All)
        {
            Assert.True(TemplatesApi.IsTemplateId(starter.Id), starter.Id);
            var (template, errors) = await TemplateCheck.CheckAsync(starter.Source, starter.Id);
            Assert.True(template is not null, $"{starter.Id}: {string.Join("; ", errors.Select(e => $"{e.Path}: {e.Message}"))}");
        }
    }

    [Fact]
    public void Every_template_a_ready_made_journey_names_has_a_starter_for_its_channel_and_every_starter_is_named()
    {
        var named = NamedByJourneys().ToList();
        Assert.NotEmpty(named);
        foreach (var (journey, path, id, channel) in named)
        {
            var starter = StarterTemplates.Find(id);
            Assert.True(starter is not null, $"{journey} {path}: no starter template '{id}'");
            if (channel is not null) Assert.True(starter.Channel == channel, $"{journey} {path}: '{id}' is written for {starter.Channel}, the step sends {channel}");
        }
        Assert.Equal(named.Select(n => n.Template).ToHashSet(), StarterTemplates.All.Select(t => t.Id).ToHashSet());
        Assert.Equal(named.Select(n => n.Template).ToHashSet(), StarterTemplatesApi.NamedByReadyMadeJourneys());
        Assert.Equal(["abandoned-cart"], StarterTemplatesApi.JourneysNaming("cart-reminder-1"));
    }

    [Fact]
    public async Task Every_starter_email_offers_the_preference_centre_and_unsubscribe_in_both_parts_and_greets_by_name()
    {
        foreach (var starter in StarterTemplates.All.Where(t => t.Channel == "email"))
        {
            var (template, _) = await TemplateCheck.CheckAsync(starter.Source, starter.Id);
            var rendered = await template!.RenderAsync(Shopper(), Message);
            foreach (var part in new[] { rendered.Html!, rendered.Text! })
            {
                Assert.Contains("https://shop.example/m/u/t", part);
                Assert.Contains("https://shop.example/m/p/t", part);
                Assert.Contains("Ada", part);
            }
            Assert.False(string.IsNullOrWhiteSpace(rendered.Subject), starter.Id);
            Assert.DoesNotContain("{{", rendered.Html);
        }
    }

    [Fact]
    public async Task Recommendations_and_recent_products_render_in_loops_html_encoded_and_their_members_are_checked()
    {
        var (template, errors) = await TemplateCheck.CheckAsync(new TemplateSource("email", "For you",
            "{% for p in recommendations %}{{ forloop.index }}.{{ p.sku }}/{{ p.category }}/{{ p.score }};{% endfor %}|{{ recommendations.first.sku }}" +
            "|{% for p in recent_products %}{{ p.sku }}({{ p.category | default: '-' }}){% endfor %}|{{ recent_products.size }}", null, null), "t");
        Assert.True(template is not null, string.Join("; ", errors.Select(e => e.Message)));

        var rendered = await template.RenderAsync(Shopper(), Message);
        Assert.Equal("1.sneaker-3/shoes/12;2.sandal-&lt;4&gt;/shoes/5;|sneaker-3|loafer-2(shoes)scarf-9(-)|2", rendered.Html);

        var nothing = await template.RenderAsync(Shopper(viewed: [], recommended: []), Message);
        Assert.Equal("|||0", nothing.Html);

        var (refused, problems) = await TemplateCheck.CheckAsync(new TemplateSource(null, null, "{% for p in recommendations %}{{ p.price }}{% endfor %}", null, null), "t");
        Assert.Null(refused);
        Assert.Contains("'p.price'", Assert.Single(problems, e => e.Path == "html").Message);
        var (typo, typos) = await TemplateCheck.CheckAsync(new TemplateSource(null, null, "{{ recomendations.first.sku }}", null, null), "t");
        Assert.Null(typo);
        Assert.Contains("did you mean recommendations", Assert.Single(typos).Message);
    }

    [Fact]
    public async Task The_browse_reminder_starter_lists_what_was_viewed_and_what_is_popular()
    {
        var (template, _) = await TemplateCheck.CheckAsync(StarterTemplates.Find("browse-reminder")!.Source, "browse-reminder");
        var rendered = await template!.RenderAsync(Shopper(), Message);
        Assert.Contains("<li>loafer-2 (shoes)</li>", rendered.Html);
        Assert.Contains("<li>scarf-9</li>", rendered.Html);
        Assert.Contains("<li>sneaker-3 (shoes)</li>", rendered.Html);
        Assert.Contains("- sandal-<4> (shoes)", rendered.Text);

        // Nothing popular yet: no empty "You might also like" heading.
        var quiet = await template.RenderAsync(Shopper(recommended: []), Message);
        Assert.DoesNotContain("You might also like", quiet.Html);
    }
}
