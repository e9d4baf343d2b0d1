using Actors.Domain.Channels;

namespace Actors.Channels.Delivery;

/// <summary>
/// Turns a message's template and recipient into what the channel sends. Email uses all three parts; SMS the text;
/// push the subject as title, the text as body and <see cref="RenderedMessage.Url"/> as the click target; a webhook
/// posts them as JSON.
/// </summary>
public interface IMessageRenderer
{
    /// <summary>Throws <see cref="TemplateNotFoundException"/> when the template does not exist (a permanent failure).</summary>
    Task<RenderedMessage> RenderAsync(OutboundMessage message, CancellationToken ct);
}

/// <param name="UnsubscribeUrl">The signed unsubscribe link the render put in the message's variables, for the email's
/// List-Unsubscribe header to carry the same one (null: none was made, the composer signs its own).</param>
public sealed record RenderedMessage(string? Subject, string? Html, string? Text, string? Url = null, string? UnsubscribeUrl = null);

public sealed class TemplateNotFoundException(string template) : Exception($"Template '{template}' does not exist.")
{
    public string Template { get; } = template;
}

/// <summary>The template exists but cannot make this message (it breaks a limit, or no longer passes the checks): a permanent failure.</summary>
public sealed class MessageNotRenderableException(string template, string reason, Exception? inner = null)
    : Exception($"Template '{template}' cannot render this message: {reason}", inner)
{
    public string Template { get; } = template;
}
