using System.Diagnostics;
using Actors.Channels.Templates;
using Actors.Domain.Channels;

namespace Actors.Integration.Tests.Templates;

/// <summary>
/// Templates without a database: what a render gives (values, encoding, loops) and what the save-time check refuses
/// (syntax, unknown names, limits), each error naming its part.
/// </summary>
public class TemplateCheckTests
{
    private static MessageRecipient Visitor(string? email = "ada@example.com", Dictionary<string, string>? attributes = null) => new(
        "p-1", "u-1", email, "+4412345", "customer", attributes ?? new Dictionary<string, string> { ["firstName"] = "Ada", ["plan"] = "gold" },
        [new CartLine("sku-1", 2), new CartLine("sku-2", 1)], ["shoes", "bags"], [], "Europe/London");

    private static readonly TemplateVariables.MessageContext Message =
        new("key-1", "cart", 3, "remind", "email", "cart-1", "https://shop.example/m/u/t", "https://shop.example/m/p/t");

    private static async Task<CompiledTemplate> Valid(TemplateSource source)
    {
        var (template, errors) = await TemplateCheck.CheckAsync(source, "t");
        Assert.True(template is not null, string.Join("; ", errors.Select(e => $"{e.Path}: {e.Message}")));
        return template!;
    }

    private static async Task<TemplateError> Refused(TemplateSource source, string path)
    {
        var (template, errors) = await TemplateCheck.CheckAsync(source, "t");
        Assert.Null(template);
        return Assert.Single(errors, e => e.Path == path);
    }

    private static TemplateSource Html(string html) => new(null, null, html, null, null);

    [Fact]
    public async Task Values_are_html_encoded_in_the_html_part_only_and_the_subject_stays_one_line()
    {
        var template = await Valid(new TemplateSource("email", "Hi {{ visitor.first_name }} {{ visitor.attributes.note }}",
            "<p>{{ visitor.email }}</p><a href=\"{{ unsubscribe_url }}\">stop</a>", "Mail: {{ visitor.email }}", null));
        var visitor = Visitor("ada<script>@example.com", new() { ["firstName"] = "Ada", ["note"] = "x\r\nBcc: evil@example.com" });

        var rendered = await template.RenderAsync(visitor, Message);

        Assert.Equal("<p>ada&lt;script&gt;@example.com</p><a href=\"https://shop.example/m/u/t\">stop</a>", rendered.Html);
        Assert.Equal("Mail: ada<script>@example.com", rendered.Text);
        Assert.Equal("Hi Ada x Bcc: evil@example.com", rendered.Subject);
        Assert.Null(rendered.Url);
    }

    [Fact]
    public async Task Cart_categories_message_and_attributes_are_there_to_use()
    {
        var template = await Valid(Html(
            "{% for line in cart %}{{ line.sku }}x{{ line.quantity }};{% endfor %}|{{ cart_count }}|{{ cart.size }}|{{ cart.first.sku }}|{{ categories | join: ',' }}" +
            "|{{ message.journey }}/{{ message.journey_version }}/{{ message.step }}/{{ message.key }}/{{ message.channel }}|{{ visitor.attributes.plan }}" +
            "|{{ visitor.attributes['plan'] }}|{{ visitor.stage }}|{{ visitor.user_id }}|{{ preferences_url }}|{% for c in categories %}{{ forloop.index }}{{ c }}{% endfor %}"));

        var rendered = await template.RenderAsync(Visitor(), Message);

        Assert.Equal("sku-1x2;sku-2x1;|3|2|sku-1|shoes,bags|cart/3/remind/key-1/email|gold|gold|customer|u-1|https://shop.example/m/p/t|1shoes2bags", rendered.Html);
    }

    [Theory]
    [InlineData("firstName")]
    [InlineData("first_name")]
    [InlineData("firstname")]
    public async Task First_name_comes_from_the_usual_attribute_spellings(string attribute)
    {
        var template = await Valid(new TemplateSource("sms", null, null, "Hi {{ visitor.first_name | default: 'there' }}", null));
        Assert.Equal("Hi Grace", (await template.RenderAsync(Visitor(attributes: new() { [attribute] = "Grace" }), Message)).Text);
        Assert.Equal("Hi there", (await template.RenderAsync(Visitor(attributes: []), Message)).Text);
    }

    [Fact]
    public async Task An_unknown_variable_is_named_with_the_nearest_documented_one_even_in_a_branch_not_taken()
    {
        var typo = await Refused(Html("<p>{{ visitor.emial }}</p>"), "html");
        Assert.Equal("unknown variable 'visitor.emial'; did you mean visitor.email?", typo.Message);

        var hidden = await Refused(new TemplateSource(null, "{% if false %}{{ vistor.first_name }}{% endif %}", null, null, null), "subject");
        Assert.Equal("unknown variable 'vistor.first_name'; did you mean visitor.first_name?", hidden.Message);

        var member = await Refused(Html("{% for line in cart %}{{ line.price }}{% endfor %}"), "html");
        Assert.Contains("'line.price'", member.Message);

        var outsideLoop = await Refused(Html("{{ forloop.index }}"), "html");
        Assert.Contains("unknown variable 'forloop.index'", outsideLoop.Message);

        var onText = await Refused(Html("{{ visitor.email.domain }}"), "html");
        Assert.Contains("'visitor.email' has no member 'domain'", onText.Message);
    }

    [Fact]
    public async Task The_templates_own_variables_are_known_everywhere()
    {
        var template = await Valid(Html(
            "{% assign name = visitor.first_name | upcase %}{% capture greeting %}Hello {{ name }}{% endcapture %}{{ greeting }}|{% increment n %}"));
        Assert.Equal("Hello ADA|0", (await template.RenderAsync(Visitor(), Message)).Html);
    }

    [Fact]
    public async Task A_syntax_error_names_the_part_line_and_column()
    {
        var error = await Refused(new TemplateSource(null, null, null, "Hello\n{{ visitor.email ", null), "text");
        Assert.StartsWith("syntax error:", error.Message);
        Assert.Contains("at line 2, column", error.Message);

        Assert.Equal("unknown filter 'upcse'", (await Refused(Html("{{ visitor.email | upcse }}"), "html")).Message);
        Assert.Contains("include", (await Refused(Html("{% include 'header' %}"), "html")).Message);
    }

    [Fact]
    public async Task A_channel_gets_the_parts_it_needs_and_sizes_and_text_are_bounded()
    {
        Assert.Contains("subject", (await Refused(new TemplateSource("email", null, "<p>x</p>", null, null), "subject")).Message);
        Assert.Contains("text", (await Refused(new TemplateSource("sms", "s", null, null, null), "text")).Message);
        Assert.Contains("must be one of", (await Refused(new TemplateSource("fax", "s", null, null, null), "channel")).Message);
        Assert.Contains("at least one", (await Refused(new TemplateSource(null, null, null, null, null), "template")).Message);
        Assert.Contains("at most 262144", (await Refused(Html(new string('x', TemplateCheck.MaxHtmlLength + 1)), "html")).Message);
        Assert.Contains("NUL", (await Refused(Html("a\0b"), "html")).Message);
        Assert.Contains("absolute http", (await Refused(new TemplateSource("push", "t", null, "b", "javascript:alert(1)"), "url")).Message);
        var push = await Valid(new TemplateSource("push", "t", null, "b", "https://shop.example/cart?c={{ cart_count }}"));
        Assert.Equal("https://shop.example/cart?c=3", (await push.RenderAsync(Visitor(), Message)).Url);
    }

    [Theory]
    [InlineData("{% for i in (1..100000000) %}x{% endfor %}", "range")]
    [InlineData("{% assign r = (1..100000000) %}{{ r.size }}", "range")]
    [InlineData("{% for i in (1..999) %}{% for j in (1..999) %}{% for k in (1..999) %}x{% endfor %}{% endfor %}{% endfor %}", "cannot be rendered")]
    [InlineData("{% assign s = 'xxxxxxxxxxxxxxxx' %}{% for i in (1..60) %}{% assign s = s | append: s %}{% endfor %}{{ s }}", "longer than")]
    [InlineData("{% assign s = 'xxxxxxxxxxxxxxxx' %}{% for i in (1..60) %}{% capture s %}{{ s }}{{ s }}{% endcapture %}{% endfor %}{{ s }}", "longer than")]
    [InlineData("{% assign s = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' %}{% for i in (1..999) %}{% for j in (1..999) %}{{ s }}{% endfor %}{% endfor %}", "cannot be rendered")]
    public async Task A_loop_or_value_bomb_is_refused_quickly(string html, string expected)
    {
        var clock = Stopwatch.StartNew();
        var error = await Refused(Html(html), "html");
        Assert.Contains(expected, error.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task Hostile_nesting_is_refused_before_the_parser_recurses()
    {
        var nested = string.Concat(Enumerable.Repeat("{% if true %}", 9_000)) + string.Concat(Enumerable.Repeat("{% endif %}", 9_000));
        Assert.Contains("nested more than", (await Refused(Html(nested), "html")).Message);

        var brackets = "{{ cart" + string.Concat(Enumerable.Repeat("[cart", 20_000)) + new string(']', 20_000) + " }}";
        Assert.Contains("nested more than", (await Refused(Html(brackets), "html")).Message);

        var operators = "{% if " + string.Join(" or ", Enumerable.Repeat("cart_count", 5_000)) + " %}x{% endif %}";
        Assert.Contains("operators", (await Refused(Html(operators), "html")).Message);

        var liquid = await Refused(Html("{% liquid\nif true\necho 'x'\nendif %}"), "html");
        Assert.True(liquid.Message.Contains("liquid tag", StringComparison.Ordinal), liquid.Message);
    }
}
