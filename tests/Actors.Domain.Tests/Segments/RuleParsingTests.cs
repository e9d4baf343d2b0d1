using System.Text.Json;
using Actors.Domain.Segments;
using static Actors.Domain.Tests.Segments.SegmentKit;

namespace Actors.Domain.Tests.Segments;

public class RuleParsingTests
{
    private static RuleError SingleError(string json)
    {
        var result = Parse(json);
        Assert.False(result.IsValid);
        Assert.Null(result.Rule);
        return Assert.Single(result.Errors);
    }

    [Fact]
    public void An_unknown_condition_is_named_by_its_path_with_the_valid_ones_and_a_suggestion()
    {
        var error = SingleError("""{"all":[{"stage":"lead"},{"cout":{"event":"product_viewed","atLeast":3,"withinDays":14}}]}""");
        Assert.Equal("all[1].cout", error.Path);
        Assert.StartsWith("unknown condition; expected one of all, any, not, stage,", error.Message);
        Assert.EndsWith("; did you mean count?", error.Message);
    }

    [Theory]
    [InlineData("""{"attribute":"tier","equals":"go\u0000ld"}""", "equals")]
    [InlineData("""{"attribute":"ti\u0000er","exists":true}""", "attribute")]
    [InlineData("""{"topic":"sh\ud800oes"}""", "topic")]
    [InlineData("""{"all":[{"count":{"event":"product_viewed","category":"a\u0001b","atLeast":1,"withinDays":3}}]}""", "all[0].count.category")]
    public void Text_that_cannot_be_stored_is_refused_at_its_path(string json, string path)
    {
        var error = SingleError(json);
        Assert.Equal(path, error.Path);
    }

    [Fact]
    public void A_wrong_type_points_at_the_field()
    {
        var error = SingleError("""{"all":[{"count":{"event":"product_viewed","atLeast":"three","withinDays":14}}]}""");
        Assert.Equal(new RuleError("all[0].count.atLeast", "must be a whole number ≥ 1"), error);
    }

    [Theory]
    [InlineData("""{"count":{"event":"product_viewed","atLeast":0,"withinDays":14}}""", "count.atLeast", "must be a whole number ≥ 1")]
    [InlineData("""{"count":{"event":"product_viewed","atLeast":2.5,"withinDays":14}}""", "count.atLeast", "must be a whole number ≥ 1")]
    [InlineData("""{"count":{"event":"product_viewed","atLeast":3,"withinDays":0}}""", "count.withinDays", "must be a whole number ≥ 1")]
    [InlineData("""{"count":{"event":"product_viewed","atLeast":3,"withinDays":500}}""", "count.withinDays", "must be at most 400 (day counts are kept for 400 days)")]
    [InlineData("""{"count":{"event":"product_viewed","atLeast":3}}""", "count", "needs withinDays or withinHours")]
    [InlineData("""{"count":{"event":"product_viewed","withinDays":3}}""", "count", "needs atLeast or atMost")]
    [InlineData("""{"count":{"event":"product_viewed","atLeast":3,"withinDays":3,"withinHours":3}}""", "count.withinHours", "use either withinDays or withinHours")]
    [InlineData("""{"count":{"event":"product_viewed","atLeast":3,"atMost":2,"withinDays":3}}""", "count.atMost", "must be at least atLeast")]
    [InlineData("""{"count":{"event":"product_viewed","atLeast":3,"withinDays":3,"withinDay":3}}""", "count.withinDay", "unknown field; expected event, category, atLeast, atMost, withinDays, withinHours; did you mean withinDays?")]
    [InlineData("""{"count":"product_viewed"}""", "count", "must be an object like {\"event\":\"product_viewed\",\"atLeast\":3,\"withinDays\":14}")]
    [InlineData("""{"any":[]}""", "any", "must list at least one condition")]
    [InlineData("""{"all":{"stage":"lead"}}""", "all", "must be an array of conditions")]
    [InlineData("""{}""", "", "empty condition; expected one of all, any, not, stage, leadKind, attribute, consent, topic, contentType, frequency, paused, newsletter, count, lastEvent, noOrderForDays, cartAbandoned, orders, ordersTotal, rfm, rfmCell, profiles")]
    [InlineData("""["stage"]""", "", "must be a condition object, e.g. {\"stage\":[\"lead\"]}")]
    [InlineData("""{"not":[{"stage":"lead"}]}""", "not", "must be a condition object, e.g. {\"stage\":[\"lead\"]}")]
    [InlineData("""{"stage":"lead","newsletter":true}""", "newsletter", "unexpected next to stage: an object holds one condition; combine several with all or any")]
    [InlineData("""{"stage":["lead","leed"]}""", "stage[1]", "unknown stage 'leed'; expected one of anonymous, lead, customer, repeat_customer, at_risk, lapsed; did you mean lead?")]
    [InlineData("""{"stage":[]}""", "stage", "must list at least one stage")]
    [InlineData("""{"leadKind":"vip"}""", "leadKind", "unknown lead kind 'vip'; expected newsletter or account")]
    [InlineData("""{"consent":"email"}""", "consent", "must be \"channel:purpose\", e.g. \"email:marketing\"")]
    [InlineData("""{"newsletter":"yes"}""", "newsletter", "must be true or false")]
    [InlineData("""{"topic":""}""", "topic", "must be a non-empty string")]
    [InlineData("""{"noOrderForDays":-1}""", "noOrderForDays", "must be a whole number ≥ 1")]
    [InlineData("""{"cartAbandoned":{"withinHours":24}}""", "cartAbandoned.afterHours", "required: hours since the cart last changed, e.g. 1")]
    [InlineData("""{"cartAbandoned":{"afterHours":24,"withinHours":24}}""", "cartAbandoned.withinHours", "must be more than afterHours")]
    [InlineData("""{"ordersTotal":{"atLeast":-5}}""", "ordersTotal.atLeast", "must be a number ≥ 0")]
    [InlineData("""{"orders":{}}""", "orders", "needs atLeast or atMost")]
    [InlineData("""{"rfm":{"recency":[4,6]}}""", "rfm.recency[1]", "must be a score from 1 to 5")]
    [InlineData("""{"rfm":{}}""", "rfm", "needs recency, frequency or monetary scores")]
    [InlineData("""{"rfmCell":"560"}""", "rfmCell", "must be a cell of three scores from 1 to 5 (recency, frequency, monetary), e.g. \"555\"")]
    [InlineData("""{"attribute":"tier"}""", "", "an attribute condition needs equals, in, exists or a range (gt, gte, lt, lte)")]
    [InlineData("""{"attribute":"tier","equals":"gold","exists":true}""", "exists", "cannot be combined with equals; use one of equals, in, exists or a range (gt, gte, lt, lte)")]
    [InlineData("""{"attribute":"age","gt":1,"gte":2}""", "gte", "use only one of gt and gte")]
    [InlineData("""{"attribute":"age","gte":30,"lt":18}""", "", "the range is empty: the lower bound is above the upper one")]
    [InlineData("""{"attribute":"age","gte":"18"}""", "gte", "must be a number")]
    [InlineData("""{"attribute":"tier","in":[]}""", "in", "must be a non-empty array of values")]
    [InlineData("""{"attribute":"tier","equals":{"a":1}}""", "equals", "must be a string or a number")]
    [InlineData("""{"attribute":"tier","equals":"gold","like":"g%"}""", "like", "unknown field; an attribute condition takes attribute and one of equals, in, exists or a range (gt, gte, lt, lte)")]
    public void Each_mistake_is_reported_at_its_path(string json, string path, string message) =>
        Assert.Equal(new RuleError(path, message), SingleError(json));

    [Fact]
    public void An_attribute_lists_at_most_100_values()
    {
        var values = string.Join(",", Enumerable.Range(0, 101).Select(i => $"\"v{i}\""));
        Assert.Equal(new RuleError("in", "must list at most 100 values"), SingleError($$"""{"attribute":"tier","in":[{{values}}]}"""));
    }

    [Fact]
    public void An_unknown_event_lists_the_stored_names_and_suggests_the_nearest()
    {
        var error = SingleError("""{"count":{"event":"product_view","atLeast":1,"withinDays":1}}""");
        Assert.Equal("count.event", error.Path);
        Assert.StartsWith("unknown event 'product_view'; expected one of page_viewed, product_viewed, category_viewed,", error.Message);
        Assert.EndsWith("; did you mean product_viewed?", error.Message);
    }

    [Fact]
    public void A_segment_spec_event_name_is_refused_with_the_stored_name_to_use()
    {
        var error = SingleError("""{"lastEvent":{"event":"Order Completed","withinDays":30}}""");
        Assert.Equal(new RuleError("lastEvent.event", "'Order Completed' is a Segment spec name; rules use stored event names: order_placed"), error);
    }

    [Fact]
    public void A_category_on_an_event_not_counted_by_category_is_refused()
    {
        var error = SingleError("""{"count":{"event":"products_searched","category":"shoes","atLeast":1,"withinDays":1}}""");
        Assert.Equal("count.category", error.Path);
        Assert.Equal("products_searched is not counted by category; only page_viewed, product_viewed, category_viewed, cart_item_added, order_placed, behaviour_tracked are", error.Message);
    }

    [Fact]
    public void Every_mistake_is_reported_not_only_the_first()
    {
        var result = Parse("""
            {"all":[
              {"stage":"leed"},
              {"any":[{"newsletter":1},{"count":{"event":"product_viewed","atLeast":3,"withinDays":0}}]},
              {"not":{"consent":"sms"}}
            ]}
            """);
        Assert.Null(result.Rule);
        Assert.Equal(["all[0].stage", "all[1].any[0].newsletter", "all[1].any[1].count.withinDays", "all[2].not.consent"], result.Errors.Select(e => e.Path));
    }

    [Fact]
    public void Combinations_nest_ten_levels_deep_and_no_more()
    {
        static string Nest(int levels) => string.Concat(Enumerable.Repeat("""{"not":""", levels)) + """{"stage":"lead"}""" + new string('}', levels);
        Assert.True(Parse(Nest(10)).IsValid);
        var error = SingleError(Nest(11));
        Assert.Equal(string.Join(".", Enumerable.Repeat("not", 11)), error.Path);
        Assert.Equal("nested too deeply: at most 10 levels of all, any and not", error.Message);

        var mixed = """{"all":[{"any":[{"not":{"all":[{"any":[{"all":[{"any":[{"not":{"all":[{"any":[{"all":[{"stage":"lead"}]}]}]}}]}]}]}]}}]}]}""";
        Assert.Equal("all[0].any[0].not.all[0].any[0].all[0].any[0].not.all[0].any[0].all", SingleError(mixed).Path);
    }

    [Fact]
    public void A_rule_holds_at_most_200_conditions()
    {
        var many = """{"any":[""" + string.Join(",", Enumerable.Repeat("""{"stage":"lead"}""", 200)) + "]}";
        var error = SingleError(many);
        Assert.Equal(new RuleError("any[199]", "too many conditions: a rule holds at most 200"), error);
    }

    [Theory]
    [InlineData("null")]
    [InlineData("42")]
    [InlineData("\"stage\"")]
    [InlineData("""{"all":[null]}""")]
    [InlineData("""{"attribute":null,"equals":null}""")]
    [InlineData("""{"count":{"event":null,"category":7,"atLeast":1e400,"withinHours":-0.0}}""")]
    [InlineData("""{"rfm":{"recency":[[]],"frequency":{},"monetary":"5"}}""")]
    [InlineData("""{"rfmCell":[1,"55",""]}""")]
    [InlineData("""{"stage":{"lead":true}}""")]
    [InlineData("""{"ordersTotal":{"atLeast":79228162514264337593543950336}}""")]
    [InlineData("""{"cartAbandoned":{"afterHours":true,"checkoutStarted":"yes"}}""")]
    public void Bad_input_never_throws_and_always_says_why(string json)
    {
        var result = Parse(json);
        Assert.False(result.IsValid);
        Assert.NotEmpty(result.Errors);
        Assert.All(result.Errors, e => Assert.False(string.IsNullOrWhiteSpace(e.Message)));
    }

    [Fact]
    public void An_undefined_element_is_refused_without_throwing()
    {
        var result = SegmentRule.Parse(default);
        Assert.False(result.IsValid);
        Assert.Equal("", Assert.Single(result.Errors).Path);
    }

    [Fact]
    public void A_parsed_rule_does_not_depend_on_the_document_it_came_from()
    {
        SegmentRule rule;
        using (var doc = JsonDocument.Parse("""{"topic":"shoes"}""")) rule = SegmentRule.Parse(doc.RootElement).Rule!;
        Assert.Equal("""{"topic":"shoes"}""", rule.ToJson().GetRawText());
        Assert.Equal("interested in topic shoes", rule.Describe());
    }
}
