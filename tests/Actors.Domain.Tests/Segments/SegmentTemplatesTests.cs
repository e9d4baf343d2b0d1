using System.Text.Json;
using Actors.Domain.Lifecycle;
using Actors.Domain.Profiles;
using Actors.Domain.Segments;
using Actors.Domain.Tracking;
using static Actors.Domain.Tests.Segments.SegmentKit;

namespace Actors.Domain.Tests.Segments;

public class SegmentTemplatesTests
{
    public static TheoryData<string> TemplateIds => [.. SegmentTemplates.All.Select(t => t.Id)];

    private static SegmentRule TemplateRule(string id) => Rule(SegmentTemplates.All.Single(t => t.Id == id).RuleJson);

    [Theory]
    [MemberData(nameof(TemplateIds))]
    public void Every_template_parses_and_round_trips(string id)
    {
        var template = SegmentTemplates.All.Single(t => t.Id == id);
        var rule = Rule(template.RuleJson);
        Assert.False(string.IsNullOrWhiteSpace(template.Name));
        Assert.False(string.IsNullOrWhiteSpace(template.Description));
        Assert.False(string.IsNullOrWhiteSpace(rule.Describe()));
        Assert.Equal(rule.ToJson().GetRawText(), SegmentRule.Parse(rule.ToJson()).Rule!.ToJson().GetRawText());
        // Templates are written in canonical form, so what a shop sees is what gets stored.
        using var doc = JsonDocument.Parse(template.RuleJson);
        Assert.Equal(doc.RootElement.GetRawText(), rule.ToJson().GetRawText());
    }

    [Fact]
    public void Template_ids_are_unique_and_the_day_one_set_is_there()
    {
        var ids = SegmentTemplates.All.Select(t => t.Id).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Subset(new HashSet<string>(ids), new HashSet<string>
        {
            "cart-abandoners", "interested-in-category", "newsletter-leads", "one-time-customers", "repeat-customers",
            "lapsed-90-days", "unsubscribed-and-lost", "recovered-preference-centre", "anonymous-by-traffic-source",
            "anonymous-by-category-interest",
        });
    }

    [Fact]
    public void Templates_pick_out_the_visitors_they_are_named_after()
    {
        var now = T0.AddDays(1);
        var abandoner = Profile(CartAdd("a", T0.AddHours(20)));
        Assert.True(TemplateRule("cart-abandoners").Matches(abandoner, now, null));

        var lead = Profile(Make.Newsletter(T0));
        Assert.True(TemplateRule("newsletter-leads").Matches(lead, now, null));
        lead.Apply(Make.Order("o1", 30, T0.AddHours(1)));
        Assert.False(TemplateRule("newsletter-leads").Matches(lead, now, null));
        Assert.True(TemplateRule("one-time-customers").Matches(lead, now, null));
        lead.Apply(Make.Order("o2", 30, T0.AddHours(2)));
        Assert.True(TemplateRule("repeat-customers").Matches(lead, now, null));
        Assert.Equal(T0.AddHours(2).AddDays(90), TemplateRule("lapsed-90-days").NextChange(lead, now, null));

        var lost = Profile(Make.Newsletter(T0), Unsubscribe(T0.AddDays(1)), StageTo(Stage.Lead, Stage.Lapsed, T0.AddDays(130)));
        Assert.True(TemplateRule("unsubscribed-and-lost").Matches(lost, T0.AddDays(130), null));

        var kept = Profile(Make.Newsletter(T0), Preferences(T0.AddDays(1), frequency: "monthly", clearPause: true));
        Assert.True(TemplateRule("recovered-preference-centre").Matches(kept, T0.AddDays(2), null));
        Assert.Equal(T0.AddDays(31), TemplateRule("recovered-preference-centre").NextChange(kept, T0.AddDays(2), null));

        var campaign = Profile(Attributes(T0, ("utm_source", "google")), Make.View("a", "shoes", T0), Make.View("b", "shoes", T0.AddMinutes(1)));
        Assert.True(TemplateRule("anonymous-by-traffic-source").Matches(campaign, now, null));
        Assert.True(TemplateRule("anonymous-by-category-interest").Matches(campaign, now, null));
        Assert.False(TemplateRule("interested-in-category").Matches(campaign, now, null));
        campaign.Apply(CartAdd("c", T0.AddMinutes(2), "shoes"));
        Assert.True(TemplateRule("interested-in-category").Matches(campaign, now, null));
    }

    [Fact]
    public void Evaluating_a_hundred_segments_allocates_nothing_when_no_membership_changes()
    {
        var profile = Profile(
            Make.View("a", "shoes", T0), Make.View("b", "shoes", T0.AddHours(1)), Make.View("c", "bags", T0.AddHours(2)),
            CartAdd("a", T0.AddHours(3), "shoes"), Make.Order("o1", 120, T0.AddHours(4)), Make.Newsletter(T0),
            Attributes(T0, ("tier", "gold"), ("score", "42")), Consent("email", "marketing", T0),
            Preferences(T0, topics: ["shoes"], pausedUntil: T0.AddDays(3)));
        var rfm = new RfmThresholds([7, 30, 75, 180], [1, 1, 2, 4], [20, 60, 110, 400], T0);
        var extra = new[]
        {
            """{"attribute":"score","gte":10,"lt":100}""", """{"attribute":"tier","in":["gold","silver"]}""", """{"consent":"email:marketing"}""",
            """{"count":{"event":"product_viewed","atLeast":20,"withinDays":30}}""", """{"ordersTotal":{"atLeast":100,"withinDays":30}}""",
            """{"rfmCell":["555","455"]}""", """{"paused":true}""", """{"not":{"topic":"hats"}}""",
        };
        var rules = SegmentTemplates.All.Select(t => t.RuleJson).Concat(extra).Select(Rule).ToList();
        var definitions = Enumerable.Range(0, 100).Select(i => new SegmentDefinition($"s{i}", $"S{i}", 1, rules[i % rules.Count])).ToList();
        var now = T0.AddHours(5);

        // Bring the profile's memberships up to date, then ask again and again: nothing changes, nothing is allocated.
        profile.Apply(SegmentEntered0(definitions, profile, now, rfm));
        var changes = 0;
        void Round()
        {
            changes += SegmentMembership.Evaluate(profile, definitions, now, "m", rfm).Count;
            SegmentMembership.NextChange(profile, definitions, now, rfm);
        }
        for (var i = 0; i < 50; i++) Round();
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++) Round();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, changes);
        Assert.Equal(0, allocated);
    }

    // Applies the entries of the first evaluation one by one and returns a harmless last event to apply.
    private static VisitorEvent SegmentEntered0(List<SegmentDefinition> definitions, VisitorProfile profile, DateTimeOffset now, RfmThresholds rfm)
    {
        var events = SegmentMembership.Evaluate(profile, definitions, now, "setup", rfm);
        Assert.NotEmpty(events);
        for (var i = 0; i < events.Count - 1; i++) profile.Apply(events[i]);
        return events[^1];
    }
}
