using System.Text.Json;
using Actors.Domain.Journeys;
using Actors.Domain.Segments;
using static Actors.Domain.Tests.Journeys.JourneyKit;

namespace Actors.Domain.Tests.Journeys;

public class JourneyTemplatesTests
{
    public static TheoryData<string> TemplateIds => [.. JourneyTemplates.All.Select(t => t.Id)];

    [Theory]
    [MemberData(nameof(TemplateIds))]
    public void Every_template_parses_with_no_error_and_is_canonical(string id)
    {
        var template = JourneyTemplates.All.Single(t => t.Id == id);
        var journey = Journey(template.Json);
        Assert.False(string.IsNullOrWhiteSpace(template.Name));
        Assert.False(string.IsNullOrWhiteSpace(template.Description));
        Assert.False(string.IsNullOrWhiteSpace(journey.Describe()));
        // Written in canonical form, so what a shop sees is what gets stored.
        using var doc = JsonDocument.Parse(template.Json);
        Assert.Equal(doc.RootElement.GetRawText(), journey.ToJson().GetRawText());
    }

    [Fact]
    public void The_day_one_set_is_there_with_unique_ids()
    {
        var ids = JourneyTemplates.All.Select(t => t.Id).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Subset(new HashSet<string>(ids), new HashSet<string>
        {
            "abandoned-cart", "browse-abandonment", "welcome-series", "post-purchase-cross-sell", "second-purchase-nudge", "win-back",
            "preference-rescue",
        });
    }

    [Fact]
    public void Segments_named_by_templates_are_segment_templates()
    {
        var segments = SegmentTemplates.All.Select(s => s.Id).ToHashSet();
        foreach (var template in JourneyTemplates.All)
        {
            var journey = Journey(template.Json);
            if (journey.Trigger is SegmentTrigger trigger) Assert.Contains(trigger.SegmentId, segments);
            if (journey.ExitOnLeavingSegment is { } leaving) Assert.Contains(leaving, segments);
        }
    }

    [Fact]
    public void Abandoned_cart_reminds_after_an_hour_then_a_day_and_ends_on_an_order()
    {
        var j = Journey(JourneyTemplates.All.Single(t => t.Id == "abandoned-cart").Json);
        Assert.Equal(new EventTrigger("cart_item_added", null, null), j.Trigger);
        Assert.Equal(TimeSpan.FromHours(1), Assert.IsType<WaitStep>(j.Steps[j.FirstStep]).Duration);
        Assert.Equal(TimeSpan.FromDays(1), Assert.IsType<WaitStep>(j.Steps["wait-24h"]).Duration);
        Assert.Equal(new JourneyGoal("order_placed", null, TimeSpan.FromDays(7)), j.Goal);
    }

    [Fact]
    public void Preference_rescue_records_the_choice_in_an_attribute()
    {
        var j = Journey(JourneyTemplates.All.Single(t => t.Id == "preference-rescue").Json);
        var offer = Assert.IsType<SendStep>(j.Steps[j.FirstStep]);
        Assert.Equal(("web", MessageKind.Transactional), (offer.Channel, offer.Kind));
        var choice = Assert.IsType<WaitForEventStep>(j.Steps[offer.Next!]);
        Assert.Equal(new SetAttributeStep("restored", "preference_rescue", "restored", null), j.Steps[choice.OnEvent!]);
        Assert.Equal(new SetAttributeStep("declined", "preference_rescue", "declined", null), j.Steps[choice.OnTimeout!]);
    }
}

public class ReadmeJourneyTests
{
    [Fact]
    public void The_example_in_the_readme_parses()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "README.md"))) dir = dir.Parent;
        Assert.NotNull(dir);
        var readme = File.ReadAllText(Path.Combine(dir.FullName, "README.md"));
        var section = readme[readme.IndexOf("## Journeys: the language", StringComparison.Ordinal)..];
        var start = section.IndexOf("```json", StringComparison.Ordinal) + "```json".Length;
        var json = section[start..section.IndexOf("```", start, StringComparison.Ordinal)];
        var journey = JourneyKit.Journey(json);
        Assert.StartsWith("When a visitor adds to the cart: [wait-1h] wait 1 hour, if ", journey.Describe());
    }
}
