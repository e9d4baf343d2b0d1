using System.Collections.Concurrent;
using Actors.Channels.Delivery;
using Actors.Channels.Links;
using Actors.Domain.Channels;
using Actors.Storage.Templates;
using Microsoft.Extensions.Logging;

namespace Actors.Channels.Templates;

/// <summary>
/// The <see cref="IMessageRenderer"/> of the host: a message's template from PostgreSQL, parsed once per revision and
/// kept per silo. A kept template is looked up again when it is older than <see cref="RefreshAfter"/>, so a change
/// saved on another node reaches this one within seconds (a reload that finds the same revision keeps the parse).
/// </summary>
public sealed partial class TemplateRenderer(TemplateStore store, LinkUrls links, TimeProvider clock, ILogger<TemplateRenderer> logger) : IMessageRenderer
{
    public static readonly TimeSpan RefreshAfter = TimeSpan.FromSeconds(3);

    private sealed record Cached(long Revision, CompiledTemplate Template, DateTimeOffset CheckedAt);

    private readonly ConcurrentDictionary<string, Cached> _cache = new(StringComparer.Ordinal);

    public async Task<RenderedMessage> RenderAsync(OutboundMessage message, CancellationToken ct)
    {
        var template = await TemplateAsync(message.Template, ct);
        var unsubscribe = await links.UnsubscribeAsync(message.ProfileId, message.MessageKey, message.Channel);
        var preferences = await links.PreferencesAsync(message.ProfileId, message.MessageKey, message.Channel);
        return await template.RenderAsync(message.Recipient, TemplateVariables.MessageContext.For(message, unsubscribe, preferences));
    }

    /// <summary>
    /// A preview for one visitor: rendered as a real send would be, except that the links are not signed (a marketer
    /// clicking a preview's unsubscribe link must not unsubscribe the visitor).
    /// </summary>
    public Task<RenderedMessage> PreviewAsync(CompiledTemplate template, MessageRecipient recipient, string templateId) =>
        template.RenderAsync(recipient, new TemplateVariables.MessageContext("preview", "preview", 0, "preview", template.Channel ?? "email", templateId,
            $"{links.BaseUrl}/m/u/preview", $"{links.BaseUrl}/m/p/preview"));

    /// <summary>The parsed template at its current revision; <see cref="TemplateNotFoundException"/> when there is none.</summary>
    public async Task<CompiledTemplate> TemplateAsync(string id, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        if (_cache.TryGetValue(id, out var cached) && now - cached.CheckedAt < RefreshAfter) return cached.Template;

        var document = await store.FindAsync(id, ct);
        if (document is null)
        {
            _cache.TryRemove(id, out _);
            throw new TemplateNotFoundException(id);
        }
        if (cached is not null && cached.Revision == document.Revision)
        {
            _cache[id] = cached with { CheckedAt = now };
            return cached.Template;
        }
        var (template, errors) = TemplateCheck.Compile(new TemplateSource(document.Channel, document.Subject, document.Html, document.Text, document.Url));
        if (template is null)
        {
            // Saves check templates, so only a template stored by an older version with other rules gets here.
            var reasons = string.Join("; ", errors.Select(e => $"{e.Path}: {e.Message}"));
            LogInvalid(id, document.Revision, reasons);
            throw new MessageNotRenderableException(id, $"revision {document.Revision} does not pass the checks: {reasons}");
        }
        _cache[id] = new Cached(document.Revision, template, now);
        LogParsed(id, document.Revision);
        return template;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Template {TemplateId} parsed at revision {Revision}")]
    private partial void LogParsed(string templateId, long revision);

    [LoggerMessage(Level = LogLevel.Error, Message = "Template {TemplateId} at revision {Revision} is stored but does not pass the checks: {Reasons}")]
    private partial void LogInvalid(string templateId, long revision, string reasons);
}
