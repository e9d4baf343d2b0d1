using Actors.Domain.Channels;
using Actors.Domain.Lifecycle;
using Actors.Domain.Profiles;

namespace Actors.Channels.Templates;

/// <summary>The shape of a value a template can reach: what members it has, what its items are.</summary>
internal abstract record Shape
{
    /// <summary>Text or a number: only <c>.size</c> below it.</summary>
    public sealed record Scalar : Shape;

    /// <summary>Fixed members (visitor, message, a cart line).</summary>
    public sealed record Object(IReadOnlyDictionary<string, Shape> Members) : Shape;

    /// <summary>Any member name, each a scalar (the visitor's attributes).</summary>
    public sealed record Map : Shape;

    /// <summary>A list: <c>.size</c>, <c>.first</c>, <c>.last</c>, <c>[i]</c> and for loops.</summary>
    public sealed record List(Shape Item) : Shape;

    /// <summary>A template's own variable (assign, capture, increment): anything goes below it.</summary>
    public sealed record Any : Shape;

    public static readonly Scalar Text = new();
    public static readonly Any Anything = new();
}

/// <summary>
/// What templates may use, in one place: the names the save-time check accepts, the values a render gets, and a
/// sample visitor who has every one of them (so a save renders each part once before any visitor sees it).
/// </summary>
public static class TemplateVariables
{
    /// <summary>The documented variables, as a template writes them.</summary>
    public static readonly IReadOnlyList<string> Documented =
    [
        "visitor.email", "visitor.phone", "visitor.user_id", "visitor.profile_id", "visitor.stage", "visitor.first_name",
        "visitor.last_name", "visitor.time_zone", "visitor.attributes.<name>",
        "cart", "cart[i].sku", "cart[i].quantity", "cart_count", "categories",
        "recent_products", "recent_products[i].sku", "recent_products[i].category",
        "recommendations", "recommendations[i].sku", "recommendations[i].category", "recommendations[i].score",
        "message.key", "message.journey", "message.journey_version", "message.step", "message.channel", "message.template",
        "unsubscribe_url", "preferences_url",
    ];

    private static readonly Shape.Object CartLineShape = new(new Dictionary<string, Shape>(StringComparer.Ordinal)
    {
        ["sku"] = Shape.Text, ["quantity"] = Shape.Text,
    });

    private static readonly Shape.Object RecentProductShape = new(new Dictionary<string, Shape>(StringComparer.Ordinal)
    {
        ["sku"] = Shape.Text, ["category"] = Shape.Text,
    });

    private static readonly Shape.Object RecommendationShape = new(new Dictionary<string, Shape>(StringComparer.Ordinal)
    {
        ["sku"] = Shape.Text, ["category"] = Shape.Text, ["score"] = Shape.Text,
    });

    internal static readonly IReadOnlyDictionary<string, Shape> Roots = new Dictionary<string, Shape>(StringComparer.Ordinal)
    {
        ["visitor"] = new Shape.Object(new Dictionary<string, Shape>(StringComparer.Ordinal)
        {
            ["email"] = Shape.Text, ["phone"] = Shape.Text, ["user_id"] = Shape.Text, ["profile_id"] = Shape.Text, ["stage"] = Shape.Text,
            ["first_name"] = Shape.Text, ["last_name"] = Shape.Text, ["time_zone"] = Shape.Text, ["attributes"] = new Shape.Map(),
        }),
        ["cart"] = new Shape.List(CartLineShape),
        ["cart_count"] = Shape.Text,
        ["categories"] = new Shape.List(Shape.Text),
        ["recent_products"] = new Shape.List(RecentProductShape),
        ["recommendations"] = new Shape.List(RecommendationShape),
        ["message"] = new Shape.Object(new Dictionary<string, Shape>(StringComparer.Ordinal)
        {
            ["key"] = Shape.Text, ["journey"] = Shape.Text, ["journey_version"] = Shape.Text, ["step"] = Shape.Text,
            ["channel"] = Shape.Text, ["template"] = Shape.Text,
        }),
        ["unsubscribe_url"] = Shape.Text,
        ["preferences_url"] = Shape.Text,
    };

    /// <summary>Inside a for loop: Liquid's <c>forloop</c> object.</summary>
    internal static readonly Shape.Object ForLoop = new(new[] { "index", "index0", "rindex", "rindex0", "first", "last", "length" }
        .ToDictionary(n => n, Shape (_) => Shape.Text, StringComparer.Ordinal));

    /// <summary>Inside a tablerow: Liquid's <c>tablerowloop</c> object.</summary>
    internal static readonly Shape.Object TableRowLoop = new(new[] { "index", "index0", "rindex", "rindex0", "first", "last", "length", "col", "col0", "col_first", "col_last", "row" }
        .ToDictionary(n => n, Shape (_) => Shape.Text, StringComparer.Ordinal));

    /// <summary>Every full name a template can write, for "did you mean".</summary>
    internal static readonly IReadOnlyList<string> Suggestions =
        [.. Documented.Where(d => !d.Contains('<', StringComparison.Ordinal) && !d.Contains('[', StringComparison.Ordinal)), "visitor.attributes", "cart.size", "categories.first",
            "recent_products.first.sku", "recommendations.first.sku"];

    /// <summary>The message a template is rendered in: ids from the outbox entry, links signed for the visitor.</summary>
    public sealed record MessageContext(string Key, string Journey, int JourneyVersion, string Step, string Channel, string Template,
        string UnsubscribeUrl, string PreferencesUrl)
    {
        public static MessageContext For(OutboundMessage m, string unsubscribeUrl, string preferencesUrl) =>
            new(m.MessageKey, m.JourneyId, m.JourneyVersion, m.StepId, m.Channel, m.Template, unsubscribeUrl, preferencesUrl);
    }

    /// <summary>The values a render sees, by root name (dictionaries and lists, which Fluid reads member by member).</summary>
    public static IReadOnlyDictionary<string, object?> Model(MessageRecipient recipient, MessageContext message)
    {
        var attributes = recipient.Attributes;
        var cart = recipient.Cart.Select(l => (object)new Dictionary<string, object?>(StringComparer.Ordinal) { ["sku"] = l.Sku, ["quantity"] = l.Quantity }).ToList();
        return new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["visitor"] = new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["email"] = recipient.Email, ["phone"] = recipient.Phone, ["user_id"] = recipient.UserId, ["profile_id"] = recipient.ProfileId,
                ["stage"] = recipient.Stage, ["time_zone"] = recipient.TimeZone,
                ["first_name"] = First(attributes, "firstName", "first_name", "firstname", "FirstName", "givenName", "given_name"),
                ["last_name"] = First(attributes, "lastName", "last_name", "lastname", "LastName", "familyName", "family_name"),
                ["attributes"] = attributes.ToDictionary(a => a.Key, object? (a) => a.Value, StringComparer.Ordinal),
            },
            ["cart"] = cart,
            ["cart_count"] = recipient.Cart.Sum(l => l.Quantity),
            ["categories"] = recipient.TopCategories.Cast<object>().ToList(),
            ["recent_products"] = recipient.RecentProducts.Select(p => (object)new Dictionary<string, object?>(StringComparer.Ordinal)
                { ["sku"] = p.Sku, ["category"] = p.Category }).ToList(),
            ["recommendations"] = recipient.Recommendations.Select(p => (object)new Dictionary<string, object?>(StringComparer.Ordinal)
                { ["sku"] = p.Sku, ["category"] = p.Category, ["score"] = p.Score }).ToList(),
            ["message"] = new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["key"] = message.Key, ["journey"] = message.Journey, ["journey_version"] = message.JourneyVersion, ["step"] = message.Step,
                ["channel"] = message.Channel, ["template"] = message.Template,
            },
            ["unsubscribe_url"] = message.UnsubscribeUrl,
            ["preferences_url"] = message.PreferencesUrl,
        };
    }

    /// <summary>A visitor with every documented variable set, for the render a save makes.</summary>
    public static MessageRecipient SampleRecipient { get; } = new(
        "sample-profile", "sample-user", "ada@example.com", "+441234567890", Stage.Customer.ToWire(),
        new Dictionary<string, string>(StringComparer.Ordinal) { ["firstName"] = "Ada", ["lastName"] = "Lovelace", ["email"] = "ada@example.com" },
        [new CartLine("sku-1", 2), new CartLine("sku-2", 1)], ["shoes", "bags"], [], "Europe/London")
    {
        RecentProducts = [new ViewedProduct("sku-3", "shoes", DateTimeOffset.UnixEpoch), new ViewedProduct("sku-4", null, DateTimeOffset.UnixEpoch)],
        Recommendations = [new RecommendedProduct("sku-5", "shoes", 42), new RecommendedProduct("sku-6", "bags", 7), new RecommendedProduct("sku-7", null, 3)],
    };

    /// <summary>A visitor with nothing known (anonymous, empty cart): the other render a save makes.</summary>
    public static MessageRecipient EmptyRecipient { get; } = new(
        "sample-anonymous", null, null, null, Stage.Anonymous.ToWire(), new Dictionary<string, string>(StringComparer.Ordinal), [], [], [], null);

    public static MessageContext SampleMessage(string channel, string template) => new(
        "sample-message", "sample-journey", 1, "send", channel, template, "https://example.com/m/u/sample", "https://example.com/m/p/sample");

    private static string? First(IReadOnlyDictionary<string, string> attributes, params ReadOnlySpan<string> keys)
    {
        foreach (var key in keys)
            if (attributes.TryGetValue(key, out var value) && !string.IsNullOrWhiteSpace(value)) return value;
        return null;
    }
}
