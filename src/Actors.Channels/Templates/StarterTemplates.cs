namespace Actors.Channels.Templates;

/// <summary>A message template to start from: short shop copy a marketer edits, under the id a ready-made journey names.</summary>
public sealed record StarterTemplate(string Id, string Channel, string Description, string? Subject, string? Html, string? Text)
{
    public TemplateSource Source => new(Channel, Subject, Html, Text, null);
}

/// <summary>
/// One message template for every template id the ready-made journeys (<see cref="Domain.Journeys.JourneyTemplates"/>)
/// name, so a shop can save and publish those journeys on day one. They use only the documented variables and pass
/// the same save-time checks as any template; codes and wording are the shop's to change (a code can come from an
/// attribute, e.g. <c>visitor.attributes.welcome_code</c>, with the starter's as the default).
/// </summary>
public static class StarterTemplates
{
    public static IReadOnlyList<StarterTemplate> All { get; } =
    [
        Email("cart-reminder-1", "Abandoned cart, first reminder (an hour after the cart last changed): what is in the cart.",
            "{{ visitor.first_name | default: 'Hi' }}, your cart is saved",
            $"""
            <p>Hi {FirstName},</p>
            <p>You left {CartCount} in your cart. We kept {Them} for you:</p>
            {CartHtml}
            <p>Come back whenever you are ready: your cart is waiting where you left it.</p>
            """,
            $"""
            Hi {FirstName},

            You left {CartCount} in your cart. We kept {Them} for you:
            {CartText}
            Come back whenever you are ready: your cart is waiting where you left it.
            """),

        Email("cart-reminder-2", "Abandoned cart, second reminder (a day later): the cart again, and what else is popular.",
            "Still thinking it over, {{ visitor.first_name | default: 'there' }}?",
            $"""
            <p>Hi {FirstName},</p>
            <p>Your cart still holds {CartCount}:</p>
            {CartHtml}
            <p>Popular items sell out, so if you have questions, just reply to this email and we will help.</p>
            {RecommendationsHtml}
            """,
            $"""
            Hi {FirstName},

            Your cart still holds {CartCount}:
            {CartText}
            Popular items sell out, so if you have questions, just reply to this email and we will help.
            {RecommendationsText}
            """),

        Email("browse-reminder", "Browse abandonment: the products the visitor looked at, and popular ones in the same categories.",
            "Still looking, {{ visitor.first_name | default: 'there' }}?",
            $"""
            <p>Hi {FirstName},</p>
            <p>Saw something you liked? Here is what you were looking at:</p>
            {RecentHtml}
            {RecommendationsHtml}
            """,
            $"""
            Hi {FirstName},

            Saw something you liked? Here is what you were looking at:
            {RecentText}
            {RecommendationsText}
            """),

        Email("welcome-1", "Welcome series, first email (right after subscribing): thanks, and what to expect.",
            "Welcome, {{ visitor.first_name | default: 'there' }}!",
            $"""
            <p>Hi {FirstName},</p>
            <p>Thanks for subscribing. From now on you will hear about new arrivals and offers before anyone else.</p>
            <p>Want fewer emails, or only some topics? <a href="{PreferencesUrl}">Choose what you get</a>, any time.</p>
            """,
            $"""
            Hi {FirstName},

            Thanks for subscribing. From now on you will hear about new arrivals and offers before anyone else.
            Want fewer emails, or only some topics? Choose what you get, any time: {PreferencesUrl}
            """),

        Email("welcome-2", "Welcome series, second email (two days later): what the shop stands for.",
            "Why shop with us",
            $"""
            <p>Hi {FirstName},</p>
            <p>We only sell what we would buy ourselves, we pack every order with care, and if something is not right
            you can send it back.</p>
            <p>Questions about a size, a colour or a delivery? Reply to this email: a person reads every one.</p>
            """,
            $"""
            Hi {FirstName},

            We only sell what we would buy ourselves, we pack every order with care, and if something is not right
            you can send it back.
            Questions about a size, a colour or a delivery? Reply to this email: a person reads every one.
            """),

        Email("welcome-3-viewed", "Welcome series, third email for visitors already browsing: what they viewed, and picks from their categories.",
            "Picked for you, {{ visitor.first_name | default: 'there' }}",
            $"""
            <p>Hi {FirstName},</p>
            <p>You have been looking around; here is what caught your eye:</p>
            {RecentHtml}
            {RecommendationsHtml}
            """,
            $"""
            Hi {FirstName},

            You have been looking around; here is what caught your eye:
            {RecentText}
            {RecommendationsText}
            """),

        Email("welcome-3-offer", "Welcome series, third email for the others: a first-order offer.",
            "{{ visitor.first_name | default: 'Hi' }}, 10% off your first order",
            $"""
            <p>Hi {FirstName},</p>
            <p>Here is 10% off your first order with the code <strong>{Code("welcome_code", "WELCOME10")}</strong>.</p>
            <p>Enter it at checkout. Happy shopping!</p>
            """,
            $"""
            Hi {FirstName},

            Here is 10% off your first order with the code {Code("welcome_code", "WELCOME10")}.
            Enter it at checkout. Happy shopping!
            """),

        Email("cross-sell", "Post-purchase cross-sell (a week after an order): products that go with the categories they buy.",
            "Goes well with your order",
            $"""
            <p>Hi {FirstName},</p>
            <p>We hope you are enjoying your order. Customers who shop {CategoriesPhrase} also love these:</p>
            {RecommendationsHtml}
            """,
            $"""
            Hi {FirstName},

            We hope you are enjoying your order. Customers who shop {CategoriesPhrase} also love these:
            {RecommendationsText}
            """),

        Email("second-order-invite", "Second-purchase nudge, invitation (three weeks after the first order): what is popular in their categories.",
            "New in for you, {{ visitor.first_name | default: 'there' }}",
            $"""
            <p>Hi {FirstName},</p>
            <p>Thanks again for your first order. Here is what other customers are choosing right now:</p>
            {RecommendationsHtml}
            """,
            $"""
            Hi {FirstName},

            Thanks again for your first order. Here is what other customers are choosing right now:
            {RecommendationsText}
            """),

        Email("second-order-offer", "Second-purchase nudge, offer (two weeks later): a code for the second order.",
            "10% off your next order",
            $"""
            <p>Hi {FirstName},</p>
            <p>Your next order is 10% off with the code <strong>{Code("second_order_code", "AGAIN10")}</strong>.</p>
            {RecommendationsHtml}
            """,
            $"""
            Hi {FirstName},

            Your next order is 10% off with the code {Code("second_order_code", "AGAIN10")}.
            {RecommendationsText}
            """),

        Email("winback-miss-you", "Win-back, first email (no order for 90 days): what is new and popular.",
            "We miss you, {{ visitor.first_name | default: 'there' }}",
            $"""
            <p>Hi {FirstName},</p>
            <p>It has been a while. A lot has changed since your last visit; here is what is popular now:</p>
            {RecommendationsHtml}
            """,
            $"""
            Hi {FirstName},

            It has been a while. A lot has changed since your last visit; here is what is popular now:
            {RecommendationsText}
            """),

        Email("winback-discount", "Win-back, offer arm A: a discount.",
            "15% off to welcome you back",
            $"""
            <p>Hi {FirstName},</p>
            <p>Come back and take 15% off your next order with the code <strong>{Code("winback_code", "COMEBACK15")}</strong>.</p>
            {RecommendationsHtml}
            """,
            $"""
            Hi {FirstName},

            Come back and take 15% off your next order with the code {Code("winback_code", "COMEBACK15")}.
            {RecommendationsText}
            """),

        Email("winback-free-shipping", "Win-back, offer arm B: free shipping.",
            "Free shipping on your next order",
            $"""
            <p>Hi {FirstName},</p>
            <p>Your next order ships free with the code <strong>{Code("winback_shipping_code", "FREESHIP")}</strong>.</p>
            {RecommendationsHtml}
            """,
            $"""
            Hi {FirstName},

            Your next order ships free with the code {Code("winback_shipping_code", "FREESHIP")}.
            {RecommendationsText}
            """),

        Email("winback-last-chance", "Win-back, last email (two weeks after the offer): a last reminder, and how to hear less.",
            "Last chance for your welcome-back offer",
            $"""
            <p>Hi {FirstName},</p>
            <p>This is the last reminder about your welcome-back offer: the code in our last email is still waiting for you.</p>
            <p>Rather hear from us less often? <a href="{PreferencesUrl}">Choose how often</a> instead of leaving.</p>
            """,
            $"""
            Hi {FirstName},

            This is the last reminder about your welcome-back offer: the code in our last email is still waiting for you.
            Rather hear from us less often? Choose how often instead of leaving: {PreferencesUrl}
            """),

        new("restore-my-preferences", "web",
            "Preference-centre rescue: shown on the unsubscribe landing, offers fewer emails or chosen topics instead of leaving.",
            null,
            """
            <div class="actors-rescue">
              <p><strong>Before you go{% if visitor.first_name %}, {{ visitor.first_name }}{% endif %}:</strong> too many emails?</p>
              <p>You can get fewer of them, or only the topics you care about.</p>
              <p><a href="{{ preferences_url }}">Restore my preferences</a></p>
            </div>
            """,
            "Before you go: too many emails? Get fewer, or only the topics you care about: {{ preferences_url }}"),
    ];

    private static readonly Dictionary<string, StarterTemplate> ById = All.ToDictionary(t => t.Id, StringComparer.Ordinal);

    public static StarterTemplate? Find(string id) => ById.GetValueOrDefault(id);

    // Pieces the emails share (Liquid text; braces doubled where they sit in an interpolated string above).

    private const string PreferencesUrl = "{{ preferences_url }}";

    private const string FirstName = "{{ visitor.first_name | default: 'there' }}";

    private const string CartCount = "{{ cart_count }} {% if cart_count == 1 %}item{% else %}items{% endif %}";

    private const string Them = "{% if cart_count == 1 %}it{% else %}them{% endif %}";

    private const string CategoriesPhrase = "{% if categories.size > 0 %}{{ categories.first }}{% else %}with us{% endif %}";

    private const string CartHtml =
        "<ul>{% for line in cart %}<li>{{ line.sku }}{% if line.quantity > 1 %} × {{ line.quantity }}{% endif %}</li>{% endfor %}</ul>";

    private const string CartText = "{% for line in cart %}- {{ line.sku }}{% if line.quantity > 1 %} x {{ line.quantity }}{% endif %}\n{% endfor %}";

    private const string RecentHtml =
        "<ul>{% for p in recent_products %}<li>{{ p.sku }}{% if p.category %} ({{ p.category }}){% endif %}</li>{% endfor %}</ul>";

    private const string RecentText = "{% for p in recent_products %}- {{ p.sku }}{% if p.category %} ({{ p.category }}){% endif %}\n{% endfor %}";

    private const string RecommendationsHtml =
        "{% if recommendations.size > 0 %}<h3>You might also like</h3>" +
        "<ul>{% for p in recommendations %}<li>{{ p.sku }}{% if p.category %} ({{ p.category }}){% endif %}</li>{% endfor %}</ul>{% endif %}";

    private const string RecommendationsText =
        "{% if recommendations.size > 0 %}You might also like:\n{% for p in recommendations %}- {{ p.sku }}{% if p.category %} ({{ p.category }}){% endif %}\n{% endfor %}{% endif %}";

    /// <summary>A discount code: the visitor's own when the shop sets one as an attribute, else the starter's.</summary>
    private static string Code(string attribute, string fallback) => $"{{{{ visitor.attributes.{attribute} | default: '{fallback}' }}}}";

    private const string FooterHtml =
        """
        <p style="font-size:12px;color:#777">You get this email because you subscribed to our news.
        <a href="{{ preferences_url }}">Choose what you get</a> · <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
        """;

    private const string FooterText =
        """

        --
        Choose what you get: {{ preferences_url }}
        Unsubscribe: {{ unsubscribe_url }}
        """;

    /// <summary>An email: every one ends with the preference centre and unsubscribe links (marketing mail must offer both).</summary>
    private static StarterTemplate Email(string id, string description, string subject, string html, string text) => new(
        id, "email", description, subject,
        $"<div style=\"font-family:sans-serif;max-width:600px\">\n{html}\n{FooterHtml}\n</div>", text + "\n" + FooterText);
}
