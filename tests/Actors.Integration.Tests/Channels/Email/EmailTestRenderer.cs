using Actors.Channels.Delivery;
using Actors.Channels.Links;
using Actors.Domain.Channels;

namespace Actors.Integration.Tests.Channels.Email;

/// <summary>
/// A stand-in for the template renderer (built elsewhere): a fixed cart email with the kinds of links a real template
/// has (shop links in both quote styles and letter cases, an entity-encoded query, mailto:, a relative link, and our own
/// unsubscribe page). "missing" is an unknown template, "empty" renders nothing.
/// </summary>
public sealed class EmailTestRenderer(LinkUrls links) : IMessageRenderer
{
    public const string CartUrl = "https://shop.example/cart?a=1&b=2";
    public const string ProductUrl = "http://shop.example/p/1";

    public async Task<RenderedMessage> RenderAsync(OutboundMessage message, CancellationToken ct)
    {
        if (message.Template == "missing") throw new TemplateNotFoundException(message.Template);
        if (message.Template == "empty") return new RenderedMessage("Nothing", null, null);
        var name = message.Recipient.Attributes.GetValueOrDefault("firstName", "there");
        var unsubscribe = await links.UnsubscribeAsync(message.ProfileId, message.MessageKey, message.Channel);
        var html = $"""
            <html><head><title>Cart</title></head><body>
            <p>Hi {name}, your cart is waiting.</p>
            <a href="https://shop.example/cart?a=1&amp;b=2">Back to your cart</a>
            <A class='product' HREF='{ProductUrl}'>The shoe</A>
            <a href="mailto:help@shop.example">Help</a>
            <a href="/relative/page">Relative</a>
            <a href="{unsubscribe}">Unsubscribe</a>
            </body></html>
            """;
        return new RenderedMessage($"Your cart is waiting, {name}", html, $"Hi {name}, your cart is waiting: {CartUrl}");
    }
}
