using System.Text.Encodings.Web;
using System.Text.RegularExpressions;
using Actors.Channels.Delivery;
using Actors.Domain.Channels;
using Actors.Domain.Tracking;
using Fluid;

namespace Actors.Channels.Templates;

/// <summary>A template's parts as written: Liquid text each, all optional except what its channel needs.</summary>
public sealed record TemplateSource(string? Channel, string? Subject, string? Html, string? Text, string? Url);

/// <summary>One problem of a template: the part at fault (subject, html, text, url, channel) and what is wrong.</summary>
public sealed record TemplateError(string Path, string Message);

/// <summary>A template parsed and checked, ready to render any number of times (it holds no per-render state).</summary>
public sealed class CompiledTemplate
{
    internal CompiledTemplate(string? channel, IFluidTemplate? subject, IFluidTemplate? html, IFluidTemplate? text, IFluidTemplate? url) =>
        (Channel, _subject, _html, _text, _url) = (channel, subject, html, text, url);

    private readonly IFluidTemplate? _subject, _html, _text, _url;

    public string? Channel { get; }

    /// <summary>
    /// Renders every part for one visitor and message. HTML-encodes values in the html part only (the subject, the text
    /// and the URL are not HTML); a subject is one line, whatever the values hold. Throws <see cref="TemplateLimitException"/>
    /// past a render limit, and Fluid's own exceptions for a value a filter cannot take (e.g. a division by zero).
    /// </summary>
    public async Task<RenderedMessage> RenderAsync(MessageRecipient recipient, TemplateVariables.MessageContext message)
    {
        var model = Liquid.Values(TemplateVariables.Model(recipient, message));
        var subject = _subject is null ? null : OneLine(await Liquid.RenderAsync(_subject, Liquid.Context(model), NullEncoder.Default));
        var html = _html is null ? null : await Liquid.RenderAsync(_html, Liquid.Context(model), HtmlEncoder.Default);
        var text = _text is null ? null : await Liquid.RenderAsync(_text, Liquid.Context(model), NullEncoder.Default);
        var url = _url is null ? null : (await Liquid.RenderAsync(_url, Liquid.Context(model), NullEncoder.Default)).Trim();
        return new RenderedMessage(subject, html, text, url is { Length: > 0 } ? url : null, message.UnsubscribeUrl);
    }

    /// <summary>Header injection is not possible through a subject: line breaks become spaces.</summary>
    private static string OneLine(string text) => Regex.Replace(text, @"[\r\n\t]+", " ").Trim();
}

/// <summary>
/// The checks a template passes before it is stored or previewed: sizes, storable text, what its channel needs, Liquid
/// syntax (with line and column), every variable and filter it names (see <see cref="TemplateVariables"/>), and two
/// renders, for a visitor with every variable and for one with none, within the render limits (<see cref="Liquid"/>).
/// </summary>
public static partial class TemplateCheck
{
    public static readonly string[] Channels = ["email", "sms", "push", "web", "webhook"];

    public const int MaxSubjectLength = 1_000;
    public const int MaxHtmlLength = 256 * 1024;
    public const int MaxTextLength = 64 * 1024;
    public const int MaxUrlLength = 2_048;

    /// <summary>Blocks inside blocks, and brackets inside a tag: the parser recurses, so hostile depth is refused before it runs.</summary>
    public const int MaxNesting = 30;
    public const int MaxOperatorsPerTag = 30;

    private static readonly string[] BlockTags = ["if", "unless", "for", "case", "capture", "tablerow", "ifchanged"];

    /// <summary>Parses and checks names; no render. Used for stored templates (already checked when saved) and by <see cref="CheckAsync"/>.</summary>
    public static (CompiledTemplate? Template, IReadOnlyList<TemplateError> Errors) Compile(TemplateSource source)
    {
        var errors = new List<TemplateError>();
        if (source.Channel is { } channel && !Channels.Contains(channel))
            errors.Add(new("channel", $"must be one of {string.Join(", ", Channels)} (or left out for any)"));
        var subject = Part("subject", source.Subject, MaxSubjectLength, errors);
        var html = Part("html", source.Html, MaxHtmlLength, errors);
        var text = Part("text", source.Text, MaxTextLength, errors);
        var url = Part("url", source.Url, MaxUrlLength, errors);
        Required(source, errors);
        return errors.Count > 0 ? (null, errors) : (new CompiledTemplate(source.Channel, subject, html, text, url), errors);
    }

    /// <summary>Everything <see cref="Compile"/> checks, then a render of each part for a full and an empty sample visitor.</summary>
    public static async Task<(CompiledTemplate? Template, IReadOnlyList<TemplateError> Errors)> CheckAsync(TemplateSource source, string id)
    {
        var (template, errors) = Compile(source);
        if (template is null) return (null, errors);
        var found = new List<TemplateError>();
        foreach (var recipient in new[] { TemplateVariables.SampleRecipient, TemplateVariables.EmptyRecipient })
        {
            // Each part alone, so the error names the part at fault.
            foreach (var (path, part) in new[] { ("subject", source.Subject), ("html", source.Html), ("text", source.Text), ("url", source.Url) })
            {
                if (string.IsNullOrEmpty(part) || found.Any(e => e.Path == path)) continue;
                var single = Compile(new TemplateSource(null, path == "subject" ? part : null, path == "html" ? part : null,
                    path == "text" ? part : null, path == "url" ? part : null)).Template!;
                try
                {
                    var rendered = await single.RenderAsync(recipient, TemplateVariables.SampleMessage(source.Channel ?? "email", id));
                    if (path == "url" && rendered.Url is { } url && !IsWebAddress(url))
                        found.Add(new(path, $"must render an absolute http or https address; for a sample visitor it gives '{Shorten(url)}'"));
                }
                catch (TemplateLimitException e)
                {
                    found.Add(new(path, $"cannot be rendered: {e.Message}"));
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    var who = recipient == TemplateVariables.SampleRecipient ? "a visitor with every variable" : "an anonymous visitor with an empty cart";
                    found.Add(new(path, $"cannot be rendered for {who}: {Limits(e.Message)}"));
                }
            }
        }
        return found.Count > 0 ? (null, found) : (template, errors);
    }

    private static IFluidTemplate? Part(string path, string? text, int maxLength, List<TemplateError> errors)
    {
        if (string.IsNullOrEmpty(text)) return null;
        if (text.Length > maxLength)
        {
            errors.Add(new(path, $"must be at most {maxLength} characters (it has {text.Length})"));
            return null;
        }
        if (StoredText.Problem(text) is { } problem)
        {
            errors.Add(new(path, problem));
            return null;
        }
        if (TooDeep(text) is { } depth)
        {
            errors.Add(new(path, depth));
            return null;
        }
        if (!Liquid.Parser.TryParse(text, out var template, out var error))
        {
            errors.Add(new(path, Syntax(error)));
            return null;
        }
        var names = TemplateNames.Check(template);
        foreach (var message in names) errors.Add(new(path, message));
        return names.Count == 0 ? template : null;
    }

    private static void Required(TemplateSource s, List<TemplateError> errors)
    {
        static bool Has(string? part) => !string.IsNullOrEmpty(part);
        switch (s.Channel)
        {
            case "email":
                if (!Has(s.Subject)) errors.Add(new("subject", "an email needs a subject"));
                if (!Has(s.Html) && !Has(s.Text)) errors.Add(new("html", "an email needs an html or a text part"));
                break;
            case "sms":
                if (!Has(s.Text)) errors.Add(new("text", "an SMS needs a text part"));
                break;
            case "push":
                if (!Has(s.Subject)) errors.Add(new("subject", "a push notification needs a subject (its title)"));
                if (!Has(s.Text)) errors.Add(new("text", "a push notification needs a text part (its body)"));
                break;
            case "web":
                if (!Has(s.Html) && !Has(s.Text)) errors.Add(new("html", "an on-site message needs an html or a text part"));
                break;
            default:
                if (!Has(s.Subject) && !Has(s.Html) && !Has(s.Text) && !Has(s.Url))
                    errors.Add(new("template", "needs at least one of subject, html, text or url"));
                break;
        }
    }

    /// <summary>"End of tag '}}' was expected at (1:20)\nSource: …" → "… at line 1, column 20".</summary>
    private static string Syntax(string? error)
    {
        var first = (error ?? "not valid Liquid").Split('\n')[0].Trim();
        var at = Position().Match(first);
        return at.Success ? $"syntax error: {first[..at.Index].TrimEnd()} at line {at.Groups[1].Value}, column {at.Groups[2].Value}" : $"syntax error: {first}";
    }

    /// <summary>A reason to refuse before parsing: blocks nested too deep, brackets too deep or too many operators in one tag, or the liquid tag.</summary>
    private static string? TooDeep(string text)
    {
        var depth = 0;
        foreach (Match tag in Tag().Matches(text))
        {
            var body = tag.Groups["body"].Value;
            var name = Name().Match(body).Value.Trim();
            if (tag.Value.StartsWith("{%", StringComparison.Ordinal))
            {
                if (name == "liquid") return "the liquid tag is not available; write each tag in {% %}";
                if (BlockTags.Contains(name) && ++depth > MaxNesting) return $"blocks are nested more than {MaxNesting} deep";
                if (name.StartsWith("end", StringComparison.Ordinal) && BlockTags.Contains(name[3..])) depth = Math.Max(0, depth - 1);
            }
            int brackets = 0, deepest = 0;
            foreach (var c in body)
            {
                if (c is '[' or '(') deepest = Math.Max(deepest, ++brackets);
                else if (c is ']' or ')') brackets--;
            }
            if (deepest > MaxNesting) return $"brackets are nested more than {MaxNesting} deep in '{Shorten(tag.Value)}'";
            if (Operator().Count(body) > MaxOperatorsPerTag) return $"more than {MaxOperatorsPerTag} operators in one tag: '{Shorten(tag.Value)}'";
        }
        return null;
    }

    private static bool IsWebAddress(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp);

    private static string Limits(string message) =>
        message.Contains("maximum level of recursion", StringComparison.Ordinal) || message.Contains("maximum number of", StringComparison.Ordinal)
            ? $"it takes more than {Liquid.MaxSteps} steps (a loop too long?)"
            : message;

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..57] + "...";

    [GeneratedRegex(@"\((\d+):(\d+)\)")]
    private static partial Regex Position();

    [GeneratedRegex(@"\{[{%]-?(?<body>.*?)-?[}%]\}", RegexOptions.Singleline)]
    private static partial Regex Tag();

    [GeneratedRegex(@"^\s*\w+")]
    private static partial Regex Name();

    [GeneratedRegex(@"\b(and|or|contains)\b|==|!=|<>|<=|>=|<|>")]
    private static partial Regex Operator();
}
