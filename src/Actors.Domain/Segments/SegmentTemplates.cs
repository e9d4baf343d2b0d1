namespace Actors.Domain.Segments;

/// <summary>A ready-made rule to start a segment from; <see cref="RuleJson"/> always parses.</summary>
public sealed record SegmentTemplate(string Id, string Name, string Description, string RuleJson);

/// <summary>The segments a shop can create on day one.</summary>
public static class SegmentTemplates
{
    public static IReadOnlyList<SegmentTemplate> All { get; } =
    [
        new("cart-abandoners", "Cart abandoners",
            "Left items in the cart at least an hour ago, within the last 3 days, and have not ordered since.",
            """{"cartAbandoned":{"afterHours":1,"withinHours":72}}"""),

        new("interested-in-category", "Interested in a category",
            "Showed interest in one category in the last 14 days: 3 product views, 2 category page views or a cart addition. " +
            "Replace \"shoes\" with the category.",
            """{"any":[{"count":{"event":"product_viewed","category":"shoes","atLeast":3,"withinDays":14}},{"count":{"event":"category_viewed","category":"shoes","atLeast":2,"withinDays":14}},{"count":{"event":"cart_item_added","category":"shoes","atLeast":1,"withinDays":14}}]}"""),

        new("newsletter-leads", "Newsletter leads, not yet customers",
            "Subscribed to the newsletter and never ordered.",
            """{"all":[{"newsletter":true},{"orders":{"atMost":0}}]}"""),

        new("one-time-customers", "One-time customers",
            "Exactly one order so far: the audience for a second-purchase offer.",
            """{"orders":{"atLeast":1,"atMost":1}}"""),

        new("repeat-customers", "Repeat customers",
            "Two orders or more.",
            """{"orders":{"atLeast":2}}"""),

        new("lapsed-90-days", "Lapsed customers (90 days)",
            "Customers whose last order is at least 90 days old.",
            """{"all":[{"orders":{"atLeast":1}},{"noOrderForDays":90}]}"""),

        new("unsubscribed-and-lost", "Unsubscribed and lost",
            "Not (or no longer) subscribed to the newsletter and at risk or lapsed: reach them on other channels, or not at all.",
            """{"all":[{"newsletter":false},{"stage":["at_risk","lapsed"]}]}"""),

        new("recovered-preference-centre", "Kept through the preference centre",
            "Updated their preferences in the last 30 days and are still subscribed with messages not paused: they chose " +
            "to adjust what they get rather than leave. (The profile does not record where an update came from, so any " +
            "preference update counts.)",
            """{"all":[{"lastEvent":{"event":"preferences_updated","withinDays":30}},{"paused":false},{"newsletter":true}]}"""),

        new("anonymous-by-traffic-source", "Anonymous visitors by traffic source",
            "Anonymous visitors with a utm_source attribute; narrow it with {\"attribute\":\"utm_source\",\"equals\":\"google\"}. " +
            "Page context (UTM parameters) is not captured into attributes yet: today only group calls and anonymous " +
            "identify traits set attributes.",
            """{"all":[{"stage":["anonymous"]},{"attribute":"utm_source","exists":true}]}"""),

        new("anonymous-by-category-interest", "Anonymous visitors by category interest",
            "Anonymous visitors who viewed at least 2 products of a category in the last 30 days. Replace \"shoes\" with the category.",
            """{"all":[{"stage":["anonymous"]},{"count":{"event":"product_viewed","category":"shoes","atLeast":2,"withinDays":30}}]}"""),

        new("rfm-champions", "Champions (RFM)",
            "Ordered recently, often and for much: recency, frequency and monetary scores of 4 or 5. Needs RFM thresholds.",
            """{"rfm":{"recency":[4,5],"frequency":[4,5],"monetary":[4,5]}}"""),
    ];
}
