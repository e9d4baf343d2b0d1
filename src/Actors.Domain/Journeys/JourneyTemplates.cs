namespace Actors.Domain.Journeys;

/// <summary>A ready-made journey to start from; <see cref="Json"/> always parses, and is in canonical form.</summary>
public sealed record JourneyTemplate(string Id, string Name, string Description, string Json);

/// <summary>
/// The journeys a shop expects on day one. The message templates they name have starters (Actors.Channels'
/// StarterTemplates, created by POST /v1/templates/starters; a test keeps the two in step) for the shop to change;
/// segment triggers name the segments of <see cref="Segments.SegmentTemplates"/>, which must exist.
/// </summary>
public static class JourneyTemplates
{
    public static IReadOnlyList<JourneyTemplate> All { get; } =
    [
        new("abandoned-cart", "Abandoned cart",
            "An hour after the cart last changed, a reminder; a day later, a second one if the cart is still waiting. " +
            "While the visitor keeps changing the cart it waits another hour; an emptied cart or an order ends it.",
            """{"name":"Abandoned cart","trigger":{"event":"cart_item_added"},"start":"wait-1h","steps":[{"id":"wait-1h","wait":{"duration":"PT1H"},"next":"cart-state"},{"id":"cart-state","branch":{"arms":[{"name":"abandoned","rule":{"cartAbandoned":{"afterHours":1}},"next":"reminder-1"},{"name":"still shopping","rule":{"any":[{"lastEvent":{"event":"cart_item_added","withinHours":1}},{"lastEvent":{"event":"cart_item_removed","withinHours":1}}]},"next":"wait-1h"}]}},{"id":"reminder-1","send":{"channel":"email","template":"cart-reminder-1","contentType":"cart_reminder","kind":"marketing"},"next":"wait-24h"},{"id":"wait-24h","wait":{"duration":"P1D"},"next":"still-abandoned"},{"id":"still-abandoned","branch":{"arms":[{"name":"abandoned","rule":{"cartAbandoned":{"afterHours":24}},"next":"reminder-2"}]}},{"id":"reminder-2","send":{"channel":"email","template":"cart-reminder-2","contentType":"cart_reminder","kind":"marketing"}}],"goal":{"event":"order_placed","attributionWindow":"P7D"},"reEntry":"onceAtATime"}"""),

        new("browse-abandonment", "Browse abandonment",
            "A known visitor who viewed two products within a day and put nothing in the cart within 4 hours gets a " +
            "reminder of what they looked at. A cart addition hands them over to the abandoned cart journey.",
            """{"name":"Browse abandonment","trigger":{"event":"product_viewed","filter":{"count":{"event":"product_viewed","atLeast":2,"withinHours":24}}},"entryCondition":{"not":{"stage":["anonymous"]}},"start":"wait-for-cart","steps":[{"id":"wait-for-cart","waitForEvent":{"event":"cart_item_added","timeout":"PT4H"},"onTimeout":"browse-reminder"},{"id":"browse-reminder","send":{"channel":"email","template":"browse-reminder","contentType":"recommendations","kind":"marketing"}}],"goal":{"event":"order_placed","attributionWindow":"P3D"},"reEntry":{"afterCoolDown":"P7D"}}"""),

        new("welcome-series", "Welcome series for new leads",
            "Three emails over a week after a newsletter subscription: welcome, what the shop stands for, then a " +
            "first-order offer, or the products they looked at for visitors already browsing. Ends at the first order.",
            """{"name":"Welcome series","trigger":{"event":"newsletter_subscribed"},"start":"welcome-1","steps":[{"id":"welcome-1","send":{"channel":"email","template":"welcome-1","contentType":"welcome","kind":"marketing"},"next":"wait-2d"},{"id":"wait-2d","wait":{"duration":"P2D"},"next":"welcome-2"},{"id":"welcome-2","send":{"channel":"email","template":"welcome-2","contentType":"welcome","kind":"marketing"},"next":"wait-4d"},{"id":"wait-4d","wait":{"duration":"P4D"},"next":"interest"},{"id":"interest","branch":{"arms":[{"name":"browsing","rule":{"count":{"event":"product_viewed","atLeast":3,"withinDays":7}},"next":"viewed-products"}],"otherwise":"first-order-offer"}},{"id":"viewed-products","send":{"channel":"email","template":"welcome-3-viewed","contentType":"recommendations","kind":"marketing"}},{"id":"first-order-offer","send":{"channel":"email","template":"welcome-3-offer","topic":"offers","kind":"marketing"}}],"goal":{"event":"order_placed","attributionWindow":"P14D"},"reEntry":"onceEver"}"""),

        new("post-purchase-cross-sell", "Post-purchase cross-sell",
            "A week after an order, at 10:00 in the visitor's time zone, products that go with it. The order that lets " +
            "the visitor in is not the goal; the next one is.",
            """{"name":"Post-purchase cross-sell","trigger":{"event":"order_placed"},"start":"wait-7d","steps":[{"id":"wait-7d","wait":{"duration":"P7D"},"next":"at-10"},{"id":"at-10","waitUntil":{"time":"10:00"},"next":"cross-sell"},{"id":"cross-sell","send":{"channel":"email","template":"cross-sell","contentType":"recommendations","kind":"marketing"}}],"goal":{"event":"order_placed","attributionWindow":"P14D"},"reEntry":"onceAtATime"}"""),

        new("second-purchase-nudge", "Second-purchase nudge",
            "Three weeks after becoming a one-time customer, an invitation back; two weeks later, an offer. Leaving the " +
            "segment (a second order) ends it. 10% are held out to measure the lift. Needs the one-time-customers segment.",
            """{"name":"Second-purchase nudge","trigger":{"segment":"one-time-customers","on":"enter"},"start":"wait-21d","steps":[{"id":"wait-21d","wait":{"duration":"P21D"},"next":"invite"},{"id":"invite","send":{"channel":"email","template":"second-order-invite","contentType":"recommendations","kind":"marketing"},"next":"wait-14d"},{"id":"wait-14d","wait":{"duration":"P14D"},"next":"offer"},{"id":"offer","send":{"channel":"email","template":"second-order-offer","topic":"offers","kind":"marketing"}}],"goal":{"event":"order_placed","attributionWindow":"P30D"},"reEntry":"onceEver","exitOnLeavingSegment":"one-time-customers","holdoutPercent":10}"""),

        new("win-back", "Win-back for lapsed customers",
            "A customer with no order for 90 days gets a we-miss-you email, a week later an A/B tested offer (a discount " +
            "or free shipping), and two weeks later a last chance. Again at most every 180 days; 10% held out. Needs " +
            "the lapsed-90-days segment.",
            """{"name":"Win-back","trigger":{"segment":"lapsed-90-days","on":"enter"},"start":"miss-you","steps":[{"id":"miss-you","send":{"channel":"email","template":"winback-miss-you","kind":"marketing"},"next":"wait-7d"},{"id":"wait-7d","wait":{"duration":"P7D"},"next":"offer-test"},{"id":"offer-test","split":{"arms":[{"name":"discount","percent":50,"next":"discount"},{"name":"free shipping","percent":50,"next":"free-shipping"}]}},{"id":"discount","send":{"channel":"email","template":"winback-discount","topic":"offers","kind":"marketing"},"next":"wait-14d"},{"id":"free-shipping","send":{"channel":"email","template":"winback-free-shipping","topic":"offers","kind":"marketing"},"next":"wait-14d"},{"id":"wait-14d","wait":{"duration":"P14D"},"next":"last-chance"},{"id":"last-chance","send":{"channel":"email","template":"winback-last-chance","topic":"offers","kind":"marketing"}}],"goal":{"event":"order_placed","attributionWindow":"P30D"},"reEntry":{"afterCoolDown":"P180D"},"exitOnLeavingSegment":"lapsed-90-days","holdoutPercent":10}"""),

        new("preference-rescue", "Preference-centre rescue",
            "On the unsubscribe landing page, an on-site message offers to restore their preferences (fewer emails, " +
            "chosen topics) instead of leaving. Transactional: it answers the visitor's own action. The choice is kept " +
            "in the attribute preference_rescue: restored if they update their preferences within a day, else declined.",
            """{"name":"Preference-centre rescue","trigger":{"event":"newsletter_unsubscribed"},"start":"offer","steps":[{"id":"offer","send":{"channel":"web","template":"restore-my-preferences","kind":"transactional"},"next":"choice"},{"id":"choice","waitForEvent":{"event":"preferences_updated","timeout":"P1D"},"onEvent":"restored","onTimeout":"declined"},{"id":"restored","setAttribute":{"name":"preference_rescue","value":"restored"}},{"id":"declined","setAttribute":{"name":"preference_rescue","value":"declined"}}],"reEntry":{"afterCoolDown":"P30D"}}"""),
    ];
}
