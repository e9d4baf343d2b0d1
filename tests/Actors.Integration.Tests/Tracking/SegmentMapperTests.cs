using System.Text.Json;
using Actors.Api.Tracking;
using Actors.Domain.Tracking;

namespace Actors.Integration.Tests.Tracking;

public class SegmentMapperTests
{
    private static readonly DateTimeOffset Received = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private static MappingResult Map(string json, string? type = "track", string prefix = "")
    {
        using var document = JsonDocument.Parse(json);
        return SegmentMapper.Map(document.RootElement, type, Received, prefix);
    }

    /// <summary>A track message from anonymous visitor "a1" with the given event name and properties.</summary>
    private static MappingResult Track(string @event, string properties = "{}") =>
        Map($$"""{ "anonymousId": "a1", "messageId": "m1", "event": {{JsonSerializer.Serialize(@event)}}, "properties": {{properties}} }""");

    private static T Single<T>(MappingResult result) where T : VisitorEvent
    {
        Assert.True(result.IsValid, string.Join("; ", result.Errors.Select(e => $"{e.Field}: {e.Message}")));
        var only = Assert.Single(result.Message!.Events);
        return Assert.IsType<T>(only);
    }

    private static void RefusedFor(MappingResult result, params string[] fields)
    {
        Assert.False(result.IsValid);
        Assert.Null(result.Message);
        Assert.Equal(fields.Order(StringComparer.Ordinal), result.Errors.Select(e => e.Field).Order(StringComparer.Ordinal));
    }

    // ---- e-commerce v2 ----

    [Fact]
    public void Product_viewed_becomes_a_product_view_with_sku_category_brand_and_price()
    {
        var viewed = Single<ProductViewed>(Track("Product Viewed",
            """{ "product_id": "507f1f77", "sku": "G-32", "category": "Games", "brand": "Hasbro", "price": 18.99 }"""));

        Assert.Equal(new ProductViewed("G-32", "Games", "Hasbro", 18.99m) { MessageId = "m1", EventTime = Received, ReceivedTime = Received }, viewed);
    }

    [Fact]
    public void Product_viewed_uses_a_numeric_product_id_when_there_is_no_sku()
    {
        var viewed = Single<ProductViewed>(Track("Product Viewed", """{ "product_id": 9714107479, "price": "12.50" }"""));

        Assert.Equal("9714107479", viewed.Sku);
        Assert.Equal(12.50m, viewed.Price);
    }

    [Fact]
    public void Product_viewed_without_product_id_or_sku_is_refused_naming_product_id()
    {
        var result = Track("Product Viewed", """{ "sku": "  ", "price": 3 }""");

        RefusedFor(result, "properties.product_id");
    }

    [Fact]
    public void Product_list_viewed_with_a_category_becomes_a_category_view()
    {
        var viewed = Single<CategoryViewed>(Track("Product List Viewed", """{ "list_id": "hot_deals_1", "category": "Deals", "products": [] }"""));

        Assert.Equal("Deals", viewed.Category);
    }

    [Fact]
    public void Product_list_viewed_without_a_category_is_kept_as_behaviour()
    {
        var tracked = Single<BehaviourTracked>(Track("Product List Viewed", """{ "list_id": "search_results" }"""));

        Assert.Equal("Product List Viewed", tracked.Name);
        Assert.Equal("search_results", tracked.Properties["list_id"]);
    }

    [Fact]
    public void Products_searched_needs_a_query()
    {
        Assert.Equal("blue roses", Single<ProductsSearched>(Track("Products Searched", """{ "query": "blue roses" }""")).Query);
        RefusedFor(Track("Products Searched", """{ "query": "" }"""), "properties.query");
    }

    [Fact]
    public void Product_added_defaults_the_quantity_to_one_and_reads_numeric_strings()
    {
        var withoutQuantity = Single<CartItemAdded>(Track("Product Added", """{ "sku": "G-32", "category": "Games", "price": "18.99" }"""));
        var withQuantity = Single<CartItemAdded>(Track("Product Added", """{ "sku": "G-32", "quantity": "3" }"""));

        Assert.Equal(new CartItemAdded("G-32", "Games", 1, 18.99m) { MessageId = "m1", EventTime = Received, ReceivedTime = Received }, withoutQuantity);
        Assert.Equal(3, withQuantity.Quantity);
        Assert.Null(withQuantity.Price);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("2.5")]
    [InlineData("\"two\"")]
    [InlineData("true")]
    public void Product_added_with_a_quantity_that_is_not_a_positive_whole_number_is_refused(string quantity)
    {
        RefusedFor(Track("Product Added", $$"""{ "sku": "G-32", "quantity": {{quantity}} }"""), "properties.quantity");
    }

    [Fact]
    public void Product_removed_becomes_a_cart_removal()
    {
        var removed = Single<CartItemRemoved>(Track("Product Removed", """{ "product_id": "p-1", "quantity": 2.0 }"""));

        Assert.Equal(new CartItemRemoved("p-1", 2) { MessageId = "m1", EventTime = Received, ReceivedTime = Received }, removed);
    }

    [Fact]
    public void Checkout_started_falls_back_to_order_id_and_revenue()
    {
        var started = Single<CheckoutStarted>(Track("Checkout Started", """{ "order_id": "o-1", "value": 30, "revenue": 25.00, "currency": "eur" }"""));

        Assert.Equal(new CheckoutStarted("o-1", 25.00m, "EUR") { MessageId = "m1", EventTime = Received, ReceivedTime = Received }, started);
    }

    [Fact]
    public void Order_completed_becomes_an_order_with_its_lines()
    {
        var order = Single<OrderPlaced>(Track("Order Completed", """
            {
              "checkout_id": "c-1", "order_id": "o-1", "total": 27.50, "revenue": 25.00, "currency": "usd",
              "products": [
                { "product_id": "507f1f77", "sku": "45790-32", "price": 19, "quantity": 1, "category": "Games" },
                { "product_id": "505bd767", "price": "3", "quantity": 2 }
              ]
            }
            """));

        Assert.Equal("o-1", order.OrderId);
        Assert.Equal(27.50m, order.Total);
        Assert.Equal("USD", order.Currency);
        Assert.Equal(SalesChannel.Online, order.Channel);
        Assert.Equal([new OrderLine("45790-32", "Games", 1, 19m), new OrderLine("505bd767", null, 2, 3m)], order.Lines);
    }

    [Fact]
    public void Order_completed_without_total_adds_up_its_lines_in_US_dollars()
    {
        var order = Single<OrderPlaced>(Track("Order Completed", """
            { "order_id": 1001, "products": [ { "sku": "a", "price": 10.5, "quantity": 2 }, { "sku": "b" }, { "sku": "c", "price": 4 } ] }
            """));

        Assert.Equal("1001", order.OrderId);
        Assert.Equal(25m, order.Total);
        Assert.Equal("USD", order.Currency);
        Assert.Equal(0m, order.Lines[1].Price);
    }

    [Theory]
    [InlineData("store", SalesChannel.Store)]
    [InlineData("Offline", SalesChannel.Store)]
    [InlineData("POS", SalesChannel.Store)]
    [InlineData("web", SalesChannel.Online)]
    public void Order_completed_in_a_store_is_a_store_order(string channel, SalesChannel expected)
    {
        var order = Single<OrderPlaced>(Track("Order Completed", $$"""{ "order_id": "o-1", "total": 5, "channel": "{{channel}}" }"""));

        Assert.Equal(expected, order.Channel);
    }

    [Fact]
    public void Order_completed_reports_every_bad_field_with_its_full_path()
    {
        var result = Track("Order Completed", """
            {
              "total": "12,50", "currency": "euro",
              "products": [ { "sku": "a", "price": "abc" }, { "sku": "b", "quantity": 0 }, { "name": "no id" }, 7 ]
            }
            """);

        RefusedFor(result,
            "properties.order_id", "properties.total", "properties.currency",
            "properties.products[0].price", "properties.products[1].quantity", "properties.products[2].product_id", "properties.products[3]");
    }

    [Fact]
    public void Order_refunded_takes_the_amount_from_total_revenue_or_value()
    {
        var refund = Single<OrderRefunded>(Track("Order Refunded", """{ "order_id": "o-1", "value": "30", "currency": "GBP" }"""));

        Assert.Equal(new OrderRefunded("o-1", 30m, "GBP") { MessageId = "m1", EventTime = Received, ReceivedTime = Received }, refund);
        var whole = Single<OrderRefunded>(Track("Order Refunded", """{ "order_id": "o-1" }"""));
        Assert.Null(whole.Amount); // the whole order, as the spec allows
        RefusedFor(Track("Order Refunded", """{ "total": -5 }"""), "properties.order_id", "properties.total");
    }

    [Theory]
    [InlineData("order completed")]
    [InlineData("  ORDER COMPLETED ")]
    [InlineData("Completed Order")]
    public void Event_names_match_regardless_of_case_spaces_and_the_v1_alias(string name)
    {
        Assert.Equal("o-1", Single<OrderPlaced>(Track(name, """{ "order_id": "o-1" }""")).OrderId);
    }

    // ---- our own vocabulary ----

    [Fact]
    public void Sign_up_and_newsletter_events_map_to_our_vocabulary()
    {
        Assert.Equal(RegistrationKind.Account, Single<Registered>(Track("Signed Up")).Kind);
        Assert.Equal("footer", Single<NewsletterSubscribed>(Track("Newsletter Subscribed", """{ "source": "footer" }""")).Source);
        var unsubscribed = Single<NewsletterUnsubscribed>(Track("Newsletter Unsubscribed", """{ "reason": "too many", "source": "email" }"""));
        Assert.Equal(("too many", "email"), (unsubscribed.Reason, unsubscribed.Source));
    }

    [Fact]
    public void Preferences_updated_reads_topics_content_types_frequency_and_pause()
    {
        var updated = Single<PreferencesUpdated>(Track("Preferences Updated", """
            { "topics": ["shoes", " bags "], "frequency": "weekly", "paused_until": "2025-04-01", "clear_pause": "false" }
            """));

        Assert.Equal(["shoes", "bags"], updated.Topics!);
        Assert.Null(updated.ContentTypes);
        Assert.Equal("weekly", updated.Frequency);
        Assert.Equal(new DateTimeOffset(2025, 4, 1, 0, 0, 0, TimeSpan.Zero), updated.PausedUntil);
        Assert.False(updated.ClearPause);
        Assert.True(Single<PreferencesUpdated>(Track("Preferences Updated", """{ "clear_pause": true }""")).ClearPause);
    }

    [Fact]
    public void Preferences_updated_names_each_bad_element()
    {
        var result = Track("Preferences Updated", """{ "topics": ["shoes", 3], "content_types": "blog", "paused_until": "soon", "clear_pause": 1 }""");

        RefusedFor(result, "properties.topics[1]", "properties.content_types", "properties.paused_until", "properties.clear_pause");
    }

    [Fact]
    public void Consent_needs_a_channel_and_a_purpose()
    {
        var given = Single<ConsentGiven>(Track("Consent Given", """{ "channel": "email", "purpose": "marketing" }"""));
        var withdrawn = Single<ConsentWithdrawn>(Track("consent withdrawn", """{ "channel": "sms", "purpose": "marketing" }"""));

        Assert.Equal(("email", "marketing"), (given.Channel, given.Purpose));
        Assert.Equal(("sms", "marketing"), (withdrawn.Channel, withdrawn.Purpose));
        RefusedFor(Track("Consent Given"), "properties.channel", "properties.purpose");
    }

    [Fact]
    public void Other_events_are_kept_as_behaviour_with_flattened_properties()
    {
        var tracked = Single<BehaviourTracked>(Track("Coupon Applied", """
            { "coupon": { "id": "MAY", "value": 2.50 }, "cart": [1, 2], "first": true, "count": 3, "gone": null }
            """));

        Assert.Equal("Coupon Applied", tracked.Name);
        Assert.Equal(
            new Dictionary<string, string> { ["coupon.id"] = "MAY", ["coupon.value"] = "2.50", ["cart"] = "[1, 2]", ["first"] = "true", ["count"] = "3" },
            tracked.Properties);
    }

    // ---- identify, page, screen, alias, group ----

    [Fact]
    public void Identify_with_a_user_id_becomes_identified_with_flattened_traits_without_nulls()
    {
        var identified = Single<Identified>(Map("""
            { "anonymousId": "a1", "userId": " u-7 ", "messageId": "m1",
              "traits": { "email": "ann@example.com", "address": { "city": "Ghent" }, "age": 41, "nickname": null } }
            """, "identify"));

        Assert.Equal("u-7", identified.UserId);
        Assert.Equal(new Dictionary<string, string> { ["email"] = "ann@example.com", ["address.city"] = "Ghent", ["age"] = "41" }, identified.Traits);
    }

    [Fact]
    public void Identify_from_RudderStack_takes_its_traits_from_context_traits_and_root_traits_win_when_both_are_there()
    {
        // As RudderStack's browser SDK sends it: {type: 'identify', context: {traits}}.
        var rudder = Single<Identified>(Map("""
            { "anonymousId": "a1", "userId": "u-7", "messageId": "m1", "channel": "web",
              "context": { "traits": { "email": "ann@example.com" }, "library": { "name": "RudderLabs JavaScript SDK" } } }
            """, "identify"));
        Assert.Equal(new Dictionary<string, string> { ["email"] = "ann@example.com" }, rudder.Traits);

        var both = Single<Identified>(Map("""
            { "anonymousId": "a1", "userId": "u-7", "messageId": "m2", "traits": { "email": "root@example.com" },
              "context": { "traits": { "email": "context@example.com", "plan": "gold" } } }
            """, "identify"));
        Assert.Equal(new Dictionary<string, string> { ["email"] = "root@example.com" }, both.Traits);

        // On a track, context.traits are only the SDK's memory of the user: no attribute change comes of them.
        var viewed = Single<ProductViewed>(Map("""
            { "anonymousId": "a1", "messageId": "m3", "event": "Product Viewed", "properties": { "product_id": "sku-1" },
              "context": { "traits": { "email": "ann@example.com" } } }
            """));
        Assert.Equal("sku-1", viewed.Sku);
    }

    [Fact]
    public void Identify_without_a_user_id_updates_attributes_and_keeps_nulls_as_removals()
    {
        var result = Map("""{ "type": "identify", "anonymousId": "a1", "traits": { "plan": "gold", "nickname": null } }""", type: null);

        var updated = Single<AttributesUpdated>(result);
        Assert.Equal("identify", updated.Source);
        Assert.Equal(new Dictionary<string, string?> { ["plan"] = "gold", ["nickname"] = null }, updated.Attributes);
        Assert.Equal(("identify", "a1", null), (result.Message!.Type, result.Message.AnonymousId, result.Message.UserId));
    }

    [Theory]
    [InlineData("page")]
    [InlineData("screen")]
    public void Page_and_screen_become_page_views(string type)
    {
        var page = Single<PageViewed>(Map("""
            { "anonymousId": "a1", "messageId": "m1", "name": "Pricing", "category": "Docs",
              "properties": { "url": "https://shop.example/pricing", "referrer": "https://google.com" } }
            """, type));

        Assert.Equal(new PageViewed("Pricing", "Docs", "https://shop.example/pricing", "https://google.com") { MessageId = "m1", EventTime = Received, ReceivedTime = Received }, page);
    }

    [Fact]
    public void Alias_needs_a_user_id_and_a_previous_id_and_yields_no_event()
    {
        var result = Map("""{ "previousId": "a1", "userId": 42 }""", "alias");

        Assert.True(result.IsValid);
        Assert.Equal(("alias", null, "42", "a1"), (result.Message!.Type, result.Message.AnonymousId, result.Message.UserId, result.Message.PreviousId));
        Assert.Empty(result.Message.Events);
        RefusedFor(Map("""{ "anonymousId": "a1" }""", "alias"), "previousId", "userId");
        RefusedFor(Map("""{ "anonymousId": true, "previousId": "a1" }""", "alias"), "anonymousId", "userId");
    }

    [Fact]
    public void Group_becomes_attributes_prefixed_with_group()
    {
        var updated = Single<AttributesUpdated>(Map("""
            { "userId": "u1", "groupId": 123, "traits": { "name": "Initech", "address": { "city": "Austin" }, "plan": null } }
            """, "group"));

        Assert.Equal("group", updated.Source);
        Assert.Equal(
            new Dictionary<string, string?> { ["group_id"] = "123", ["group.name"] = "Initech", ["group.address.city"] = "Austin", ["group.plan"] = null },
            updated.Attributes);
        RefusedFor(Map("""{ "userId": "u1" }""", "group"), "groupId");
    }

    // ---- common fields ----

    [Fact]
    public void A_message_needs_an_anonymous_id_or_a_user_id()
    {
        RefusedFor(Map("""{ "event": "Signed Up", "anonymousId": "", "userId": null }"""), "anonymousId");
    }

    [Fact]
    public void Ids_may_be_numbers_are_trimmed_and_are_at_most_200_characters()
    {
        var result = Map("""{ "anonymousId": 12345, "userId": "  u1  ", "event": "Signed Up" }""");
        Assert.Equal(("12345", "u1"), (result.Message!.AnonymousId, result.Message.UserId));

        var tooLong = new string('x', 201);
        RefusedFor(Map($$"""{ "anonymousId": "{{tooLong}}", "messageId": "{{tooLong}}", "event": "Signed Up" }"""), "anonymousId", "messageId");
        RefusedFor(Map("""{ "anonymousId": { "id": 1 }, "event": "Signed Up" }"""), "anonymousId");
    }

    [Fact]
    public void A_message_without_a_message_id_gets_a_generated_one()
    {
        var registered = Single<Registered>(Map("""{ "anonymousId": "a1", "event": "Signed Up", "messageId": "" }"""));

        Assert.StartsWith("gen-", registered.MessageId);
        Assert.Equal(36, registered.MessageId.Length);
    }

    [Fact]
    public void Event_time_is_the_timestamp_else_the_original_timestamp_else_the_time_received()
    {
        static DateTimeOffset TimeOf(string fields) =>
            Single<Registered>(Map($$"""{ "anonymousId": "a1", "event": "Signed Up" {{fields}} }""")).EventTime;

        Assert.Equal(new DateTimeOffset(2025, 2, 1, 10, 0, 0, TimeSpan.Zero),
            TimeOf(""", "timestamp": "2025-02-01T10:00:00Z", "originalTimestamp": "2025-01-01T00:00:00Z" """));
        Assert.Equal(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero), TimeOf(""", "timestamp": "", "originalTimestamp": "2025-01-01T01:00:00+01:00" """));
        Assert.Equal(Received, TimeOf(""));
    }

    [Theory]
    [InlineData("2025-02-01T10:00:00.123Z", 1_230_000)]
    [InlineData("2025-02-01T10:00:00.123456789Z", 1_234_567)]
    [InlineData("2025-02-01T11:00:00.123+0100", 1_230_000)]
    [InlineData("2025-02-01 10:00:00.123+00:00", 1_230_000)]
    [InlineData("2025-02-01T10:00:00.123", 1_230_000)]
    [InlineData("2025-02-01T10:00:00Z", 0)]
    public void Timestamps_parse_in_the_iso_forms_sdks_send(string timestamp, long ticksIntoTheSecond)
    {
        var registered = Single<Registered>(Map($$"""{ "anonymousId": "a1", "event": "Signed Up", "timestamp": "{{timestamp}}" }"""));

        Assert.Equal(new DateTimeOffset(2025, 2, 1, 10, 0, 0, TimeSpan.Zero).AddTicks(ticksIntoTheSecond), registered.EventTime);
    }

    [Theory]
    [InlineData("\"yesterday\"")]
    [InlineData("\"01/02/2025\"")]
    [InlineData("1738404000000")]
    public void A_timestamp_that_does_not_parse_is_refused(string timestamp)
    {
        RefusedFor(Map($$"""{ "anonymousId": "a1", "event": "Signed Up", "timestamp": {{timestamp}} }"""), "timestamp");
    }

    [Fact]
    public void Context_properties_and_traits_must_be_objects_and_track_needs_an_event()
    {
        var result = Map("""{ "anonymousId": "a1", "context": "web", "properties": [1], "traits": 3 }""");

        RefusedFor(result, "context", "properties", "traits", "event");
    }

    [Fact]
    public void Batch_items_need_a_known_type_and_their_errors_carry_the_batch_prefix()
    {
        RefusedFor(Map("""{ "anonymousId": "a1", "event": "Signed Up" }""", type: null, prefix: "batch[3]."), "batch[3].type");
        RefusedFor(Map("""{ "type": "purchase", "anonymousId": "a1" }""", type: null, prefix: "batch[0]."), "batch[0].type");
        RefusedFor(Map("""{ "type": "TRACK", "userId": "u1", "event": "Order Completed", "properties": { "products": [{}] } }""", type: null, prefix: "batch[3]."),
            "batch[3].properties.order_id", "batch[3].properties.products[0].product_id");
        RefusedFor(Map("[1, 2]", type: null, prefix: "batch[7]."), "batch[7]");
    }
}
