namespace Actors.Domain.Reporting;

/// <summary>Where a visitor came from on their first page: UTM tags, else the referrer's host, else "direct".</summary>
public sealed record TrafficSource(string Source, string? Medium, string? Campaign)
{
    public const string Direct = "direct";

    /// <summary>Tag values are cut to this length: they come from a URL anybody can type.</summary>
    public const int MaxLength = 100;

    /// <summary>
    /// The landing URL's utm_ tags, else the SDK's context.campaign (<paramref name="campaign"/>), else the referrer's
    /// host (medium "referral"; our own host is no source), else <see cref="Direct"/>.
    /// </summary>
    public static TrafficSource Of(string? url, string? referrer, Tracking.CampaignTags? campaign = null)
    {
        var query = QueryOf(url);
        if (query.TryGetValue("utm_source", out var source))
            return new TrafficSource(source, query.GetValueOrDefault("utm_medium"), query.GetValueOrDefault("utm_campaign"));
        if (campaign is { Source: { } tagged } && Clean(tagged) is { } fromContext)
            return new TrafficSource(fromContext, Clean(campaign.Medium), Clean(campaign.Name));
        if (HostOf(referrer) is { } host && host != HostOf(url))
            return new TrafficSource(host, "referral", null);
        return new TrafficSource(Direct, null, null);
    }

    private static string? HostOf(string? url) =>
        url is not null && Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Host.Length > 0 ? Bound(uri.Host.ToLowerInvariant()) : null;

    private static Dictionary<string, string> QueryOf(string? url)
    {
        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        if (string.IsNullOrEmpty(url)) return found;
        var q = url.IndexOf('?');
        if (q < 0) return found;
        var hash = url.IndexOf('#', q);
        var query = hash < 0 ? url[(q + 1)..] : url[(q + 1)..hash];
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            if (eq <= 0) continue;
            var key = Unescape(pair[..eq]).ToLowerInvariant();
            if (key is not ("utm_source" or "utm_medium" or "utm_campaign")) continue;
            var value = Unescape(pair[(eq + 1)..]).Trim();
            // The first occurrence wins, as browsers' URLSearchParams.get does.
            if (value.Length > 0) found.TryAdd(key, Bound(value.ToLowerInvariant()));
        }
        return found;
    }

    private static string Unescape(string text)
    {
        try { return Uri.UnescapeDataString(text.Replace('+', ' ')); }
        catch (UriFormatException) { return text; }
    }

    private static string? Clean(string? tag) =>
        string.IsNullOrWhiteSpace(tag) ? null : Bound(tag.Trim().ToLowerInvariant());

    private static string Bound(string text) => text.Length <= MaxLength ? text : text[..MaxLength];
}
