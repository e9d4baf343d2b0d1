using Actors.Domain.Lifecycle;
using Actors.Domain.Segments;
using static Actors.Domain.Tests.Segments.SegmentKit;

namespace Actors.Domain.Tests.Segments;

public class DescribeAndJsonTests
{
    /// <summary>One rule of every kind, as written and as described.</summary>
    public static TheoryData<string, string> Described => new()
    {
        { """{"all":[{"count":{"event":"product_viewed","category":"Shoes","atLeast":3,"withinDays":14}},{"stage":"lead"}]}""",
            "at least 3 product views with category shoes in the last 14 days and stage is lead" },
        { """{"stage":["customer","lead","lapsed"]}""", "stage is lead, customer or lapsed" },
        { """{"not":{"stage":["lead","customer"]}}""", "stage is neither lead nor customer" },
        { """{"leadKind":"account"}""", "lead kind is account" },
        { """{"attribute":"tier","equals":"gold"}""", "attribute tier is gold" },
        { """{"attribute":"tier","in":["gold","silver",3]}""", "attribute tier is one of gold, silver, 3" },
        { """{"attribute":"tier","exists":false}""", "attribute tier is not set" },
        { """{"attribute":"age","lt":30,"gte":18}""", "attribute age is at least 18 and less than 30" },
        { """{"consent":"Email:Marketing"}""", "has consent email:marketing" },
        { """{"not":{"consent":"sms:marketing"}}""", "has no consent sms:marketing" },
        { """{"topic":"shoes"}""", "interested in topic shoes" },
        { """{"contentType":"video"}""", "wants content type video" },
        { """{"frequency":"weekly"}""", "preferred frequency is weekly" },
        { """{"paused":false}""", "messages are not paused" },
        { """{"newsletter":true}""", "subscribed to the newsletter" },
        { """{"count":{"event":"order_placed","atMost":0,"withinDays":30}}""", "no orders in the last 30 days" },
        { """{"count":{"event":"products_searched","atLeast":2,"atMost":5,"withinHours":1}}""", "between 2 and 5 searches in the last hour" },
        { """{"count":{"event":"page_viewed","atLeast":1,"atMost":1,"withinDays":1}}""", "exactly 1 page view in the last day" },
        { """{"not":{"count":{"event":"product_viewed","atLeast":3,"withinDays":7}}}""", "fewer than 3 product views in the last 7 days" },
        { """{"lastEvent":{"event":"order_placed","withinHours":24}}""", "an order in the last 24 hours" },
        { """{"not":{"lastEvent":{"event":"cart_item_added","category":"shoes","withinDays":7}}}""", "no cart addition with category shoes in the last 7 days" },
        { """{"noOrderForDays":90}""", "no order for 90 days" },
        { """{"cartAbandoned":{"afterHours":1,"withinHours":24}}""", "cart with items left unchanged for at least 1 hour but less than 24 hours" },
        { """{"cartAbandoned":{"afterHours":2,"checkoutStarted":true}}""", "cart with items left unchanged for at least 2 hours after starting checkout" },
        { """{"orders":{"atLeast":2}}""", "at least 2 orders" },
        { """{"orders":{"atLeast":1,"atMost":1}}""", "exactly 1 order" },
        { """{"not":{"orders":{"atLeast":1}}}""", "no orders" },
        { """{"ordersTotal":{"atLeast":100,"withinDays":365}}""", "orders worth at least 100 in the last 365 days" },
        { """{"ordersTotal":{"atLeast":50.5,"atMost":500}}""", "orders worth between 50.5 and 500 in total" },
        { """{"rfm":{"recency":[5,4],"frequency":[3,4,5]}}""", "RFM recency 4 to 5 and frequency 3 to 5" },
        { """{"rfm":{"monetary":[1,3,5]}}""", "RFM monetary 1, 3 or 5" },
        { """{"rfmCell":["554","555"]}""", "RFM cell 555 or 554" },
        { """{"any":[{"stage":"lead"},{"all":[{"newsletter":true},{"topic":"shoes"}]}]}""",
            "stage is lead or (subscribed to the newsletter and interested in topic shoes)" },
        { """{"all":[{"any":[{"topic":"a"},{"topic":"b"}]},{"not":{"any":[{"stage":"lead"},{"newsletter":true}]}}]}""",
            "(interested in topic a or interested in topic b) and not (stage is lead or subscribed to the newsletter)" },
    };

    [Theory]
    [MemberData(nameof(Described))]
    public void A_rule_reads_as_english(string json, string english) => Assert.Equal(english, Rule(json).Describe());

    [Theory]
    [MemberData(nameof(Described))]
    public void Canonical_json_parses_back_to_the_same_rule(string json, string english)
    {
        var rule = Rule(json);
        var again = SegmentRule.Parse(rule.ToJson());
        Assert.True(again.IsValid);
        Assert.Equal(rule.ToJson().GetRawText(), again.Rule!.ToJson().GetRawText());
        Assert.Equal(english, again.Rule.Describe());
    }

    [Fact]
    public void Canonical_json_lowers_categories_and_consents_orders_lists_and_writes_stages_as_a_list()
    {
        Assert.Equal(
            """{"all":[{"count":{"event":"product_viewed","category":"shoes","atLeast":3,"withinDays":14}},{"stage":["lead","customer"]},{"consent":"email:marketing"},{"attribute":"age","gte":18,"lt":30},{"rfm":{"recency":[4,5]}},{"rfmCell":["555","554"]}]}""",
            Rule("""
                {"all":[
                  {"count":{"withinDays":14,"atLeast":3,"category":"SHOES","event":"product_viewed"}},
                  {"stage":["customer","lead","customer"]},
                  {"consent":" Email : Marketing "},
                  {"attribute":"age","lt":30,"gte":18},
                  {"rfm":{"recency":[5,4,5]}},
                  {"rfmCell":["554","555"]}
                ]}
                """).ToJson().GetRawText());
    }

    [Fact]
    public void Explain_gives_the_facts_behind_entering_and_leaving()
    {
        var rule = Rule("""{"all":[{"count":{"event":"product_viewed","category":"shoes","atLeast":3,"withinDays":14}},{"stage":"anonymous"}]}""");
        var profile = Profile(Make.View("a", "shoes", T0), Make.View("b", "shoes", T0.AddDays(1)), Make.View("c", "shoes", T0.AddDays(2)));
        Assert.Equal("3 product views with category shoes in the last 14 days and stage is anonymous", rule.Explain(profile, T0.AddDays(2), null));
        // Leaving names only the part that stopped holding.
        Assert.Equal("2 product views with category shoes in the last 14 days", rule.Explain(profile, T0.AddDays(14), null));
        Assert.Equal("no product views with category shoes in the last 14 days", rule.Explain(profile, T0.AddDays(30), null));
    }

    [Fact]
    public void Explain_of_any_names_the_part_that_holds()
    {
        var rule = Rule("""{"any":[{"orders":{"atLeast":1}},{"newsletter":true}]}""");
        Assert.Equal("subscribed to the newsletter", rule.Explain(Profile(Make.Newsletter(T0)), T0, null));
        Assert.Equal("no orders and never subscribed to the newsletter", rule.Explain(Profile(Make.View("a", null, T0)), T0, null));
    }

    [Fact]
    public void Explain_counts_exactly_beyond_the_kept_times_by_day()
    {
        var rule = Rule("""{"count":{"event":"product_viewed","atLeast":10,"withinDays":7}}""");
        var profile = Profile([.. Enumerable.Range(0, 12).Select(i => Make.View($"s{i}", null, T0.AddHours(i)))]);
        Assert.Equal("12 product views in the last 7 days", rule.Explain(profile, T0.AddDays(1), null));
    }

    [Fact]
    public void Explain_does_not_reveal_an_attribute_value_the_rule_does_not_name()
    {
        var rule = Rule("""{"attribute":"tier","equals":"gold"}""");
        Assert.Equal("attribute tier is not gold", rule.Explain(Profile(Attributes(T0, ("tier", "silver"))), T0, null));
        Assert.Equal("attribute tier is gold", rule.Explain(Profile(Attributes(T0, ("tier", "gold"))), T0, null));
        Assert.Equal("attribute tier is not set", rule.Explain(Profile(Make.View("a", null, T0)), T0, null));
    }

    [Fact]
    public void Explain_names_the_stage_the_visitor_is_in()
    {
        var rule = Rule("""{"stage":["at_risk","lapsed"]}""");
        var profile = Profile(StageTo(Stage.Anonymous, Stage.Lapsed, T0));
        Assert.Equal("stage is lapsed", rule.Explain(profile, T0, null));
    }
}
