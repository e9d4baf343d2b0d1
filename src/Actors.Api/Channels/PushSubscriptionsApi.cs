using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Actors.Api.Access;
using Actors.Api.Tracking;
using Actors.Channels.Push;
using Actors.Domain.Tracking;
using Actors.Grains.Identity;
using Actors.Storage.Access;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Actors.Api.Channels;

/// <summary>
/// Web push subscriptions, called from the shop's pages with the ingest key: the VAPID public key to subscribe with,
/// and the browser's PushSubscription recorded in (or removed from) the visitor's stream.
/// </summary>
public static class PushSubscriptionsApi
{
    private const string UserPrefix = "user:";

    public static IEndpointRouteBuilder MapPushSubscriptionsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/push/vapid-public-key", GetPublicKey).WithTags("Channels").RequireScope(ApiScope.Ingest).AllowBrowsers().Produces<VapidKeyView>()
            .WithSummary("The applicationServerKey for pushManager.subscribe(): the VAPID public key, base64url");
        var visitor = app.MapGroup("/v1/visitors/{visitorId}/push-subscriptions").WithTags("Channels").RequireScope(ApiScope.Ingest).AllowBrowsers();
        visitor.MapPost("", Subscribe).Produces<PushSubscriptionResult>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status403Forbidden)
            .WithSummary("Records the browser's PushSubscription.toJSON() ({endpoint, expirationTime, keys: {p256dh, auth}}) for this visitor");
        visitor.MapDelete("", Unsubscribe).Produces<PushSubscriptionResult>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status403Forbidden)
            .WithSummary("Removes a subscription: body {endpoint} (or the whole PushSubscription.toJSON())");
        return app;
    }

    public sealed record VapidKeyView(string PublicKey);

    /// <param name="Duplicate">The same request was recorded before (a retry).</param>
    public sealed record PushSubscriptionResult(string Endpoint, bool Duplicate);

    private static async Task<Ok<VapidKeyView>> GetPublicKey(VapidKeys keys) =>
        TypedResults.Ok(new VapidKeyView((await keys.GetAsync()).PublicKeyText));

    private static async Task<IResult> Subscribe(string visitorId, HttpContext http, VisitorDirectory directory, VisitorTokens tokens, PushSettings settings, TimeProvider clock)
    {
        if (await CheckVisitorAsync(visitorId, http, tokens) is { } refused) return refused;
        var body = await RequestBody.ReadJsonAsync(http.Request, RequestBody.MessageLimit);
        if (body.Error is not null) return body.Error;
        var parsed = Parse(body.Document!.RootElement, settings, keysRequired: true);
        if (parsed.Errors.Count > 0) return Problems.Invalid(parsed.Errors, "The push subscription is invalid; nothing was stored.");

        var now = clock.GetUtcNow();
        var subscribed = new PushSubscribed(parsed.Endpoint!, parsed.P256dh!, parsed.Auth!)
        {
            // The same subscription sent again (a page reload, a retry) is the same message: recorded once.
            MessageId = MessageId("subscribed", parsed.Endpoint!, parsed.P256dh, parsed.Auth),
            EventTime = now,
            ReceivedTime = now,
        };
        return await RecordAsync(visitorId, directory, subscribed, parsed.Endpoint!);
    }

    private static async Task<IResult> Unsubscribe(string visitorId, HttpContext http, VisitorDirectory directory, VisitorTokens tokens, PushSettings settings, TimeProvider clock)
    {
        if (await CheckVisitorAsync(visitorId, http, tokens) is { } refused) return refused;
        var body = await RequestBody.ReadJsonAsync(http.Request, RequestBody.MessageLimit);
        if (body.Error is not null) return body.Error;
        // Any endpoint may be removed, even one we would no longer accept (the settings changed since it was stored).
        var parsed = Parse(body.Document!.RootElement, settings with { AllowInsecureEndpoints = true }, keysRequired: false);
        if (parsed.Errors.Count > 0) return Problems.Invalid(parsed.Errors, "The request is invalid; nothing was changed.");

        var now = clock.GetUtcNow();
        var unsubscribed = new PushUnsubscribed(parsed.Endpoint!, "visitor")
        {
            // With the keys (the whole toJSON()), the id names this very subscription, so a later one at the same
            // endpoint can be removed again; without them, a retry of the same removal is still one event.
            MessageId = MessageId("unsubscribed", parsed.Endpoint!, parsed.P256dh, parsed.Auth),
            EventTime = now,
            ReceivedTime = now,
        };
        return await RecordAsync(visitorId, directory, unsubscribed, parsed.Endpoint!);
    }

    private static async Task<IResult> RecordAsync(string visitorId, VisitorDirectory directory, VisitorEvent e, string endpoint)
    {
        var profileId = await directory.ResolveAsync(Aliases.FromVisitorId(visitorId));
        var result = await directory.TrackAsync(profileId, [e]);
        return TypedResults.Ok(new PushSubscriptionResult(endpoint, result.Events.Count > 0 && result.Events[0].Duplicate));
    }

    /// <summary>
    /// The rule of profile reads applies to writes here too: an ingest key is public, so it may attach a browser to a
    /// known customer only with that customer's X-Visitor-Token (else anyone could receive someone else's notifications).
    /// </summary>
    private static async Task<IResult?> CheckVisitorAsync(string visitorId, HttpContext http, VisitorTokens tokens)
    {
        if (visitorId.Length is 0 or > 200) return Problems.Invalid([("visitorId", "must be 1 to 200 characters")]);
        if (JsonText.Problem(visitorId) is { } problem) return Problems.Invalid([("visitorId", problem)]);
        if (visitorId.StartsWith(UserPrefix, StringComparison.Ordinal) && visitorId.Length == UserPrefix.Length)
            return Problems.Invalid([("visitorId", "user: needs a user id")]);
        if (http.Caller().Scope < ApiScope.Marketing && visitorId.StartsWith(UserPrefix, StringComparison.Ordinal)
            && !await tokens.IsValidAsync(visitorId[UserPrefix.Length..], http.Request.Headers[VisitorTokens.Header].FirstOrDefault()))
            return Problems.Forbidden($"An ingest key changes a known customer's push subscriptions only with a valid {VisitorTokens.Header} for that user (minted by POST /v1/visitors/user:{{id}}/token with a marketing key).");
        return null;
    }

    private sealed record Parsed(string? Endpoint, string? P256dh, string? Auth, List<(string Field, string Message)> Errors);

    /// <summary>The subscription JSON, strictly: the keys are decoded and checked (a point on P-256, a 16-byte secret) and kept in canonical base64url.</summary>
    private static Parsed Parse(JsonElement root, PushSettings settings, bool keysRequired)
    {
        var errors = new List<(string, string)>();
        if (root.ValueKind != JsonValueKind.Object)
        {
            errors.Add(("body", "must be a JSON object: the browser's PushSubscription.toJSON()"));
            return new Parsed(null, null, null, errors);
        }

        string? endpoint = null;
        if (!root.TryGetProperty("endpoint", out var endpointValue) || endpointValue.ValueKind != JsonValueKind.String)
            errors.Add(("endpoint", "is required: a string"));
        else if (JsonText.TryGetString(endpointValue, out var textProblem) is not { } text) errors.Add(("endpoint", textProblem ?? "is required"));
        else if (PushEndpoints.Problem(text, settings.AllowInsecureEndpoints) is { } endpointProblem) errors.Add(("endpoint", endpointProblem));
        else endpoint = text;

        if (root.TryGetProperty("expirationTime", out var expiration) && expiration.ValueKind is not (JsonValueKind.Null or JsonValueKind.Number))
            errors.Add(("expirationTime", "must be null or a number (milliseconds since the epoch)"));

        string? p256dh = null, auth = null;
        if (!root.TryGetProperty("keys", out var keys) || keys.ValueKind == JsonValueKind.Null)
        {
            if (keysRequired) errors.Add(("keys", "is required: {p256dh, auth}"));
        }
        else if (keys.ValueKind != JsonValueKind.Object) errors.Add(("keys", "must be an object {p256dh, auth}"));
        else
        {
            p256dh = Key(keys, "p256dh", errors, bytes => P256.IsValidPublicKey(bytes) ? null : "must be a 65-byte uncompressed P-256 public key (a point on the curve)");
            auth = Key(keys, "auth", errors, bytes => bytes.Length == WebPushEncryption.AuthSecretLength ? null : $"must decode to {WebPushEncryption.AuthSecretLength} bytes");
        }
        return new Parsed(endpoint, p256dh, auth, errors);
    }

    private static string? Key(JsonElement keys, string name, List<(string, string)> errors, Func<byte[], string?> check)
    {
        var field = $"keys.{name}";
        if (!keys.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.String)
        {
            errors.Add((field, "is required: a base64url string"));
            return null;
        }
        var text = JsonText.TryGetString(value, out _);
        if (text is null || text.Length > 200)
        {
            errors.Add((field, "must be base64url"));
            return null;
        }
        byte[] bytes;
        try
        {
            // Browsers give base64url without padding; some libraries pad it or use the standard alphabet.
            bytes = Base64Url.DecodeFromChars(text.TrimEnd('=').Replace('+', '-').Replace('/', '_'));
        }
        catch (FormatException)
        {
            errors.Add((field, "must be base64url"));
            return null;
        }
        if (check(bytes) is { } problem)
        {
            errors.Add((field, problem));
            return null;
        }
        return Base64Url.EncodeToString(bytes);
    }

    private static string MessageId(string what, string endpoint, string? p256dh, string? auth)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{what}\n{endpoint}\n{p256dh}\n{auth}"));
        return $"push-{what}:{Base64Url.EncodeToString(hash.AsSpan(0, 18))}";
    }
}
