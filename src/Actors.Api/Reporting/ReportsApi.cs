using System.Globalization;
using Actors.Api.Access;
using Actors.Domain.Lifecycle;
using Actors.Domain.Reporting;
using Actors.Domain.Tracking;
using Actors.Grains.Channels;
using Actors.Storage.Access;
using Actors.Storage.Reporting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Actors.Api.Reporting;

/// <summary>
/// The reporting API (README "Reports"): funnel, anonymous map, segments over time, RFM grid, messages, newsletter,
/// each with its drill-down to the visitors behind a number; status and rebuild of the projections behind them.
/// Query values are read as text and checked here, so a bad one is a 400 naming it, never a binding failure.
/// </summary>
public static class ReportsApi
{
    public static IEndpointRouteBuilder MapReportsApi(this IEndpointRouteBuilder app)
    {
        var reports = app.MapGroup("/v1/reports").WithTags("Reports").RequireScope(ApiScope.Marketing);
        reports.MapGet("/funnel", Funnel).WithSummary("Visitors per lifecycle stage per day, transitions, conversion and time to convert");
        reports.MapGet("/funnel/visitors", FunnelVisitors).WithSummary("Visitors now in a stage (paged by profile id)");
        reports.MapGet("/anonymous", Anonymous).WithSummary("Anonymous visitors by first-touch source and top category");
        reports.MapGet("/anonymous/visitors", AnonymousVisitors).WithSummary("The anonymous visitors behind one group");
        reports.MapGet("/segments", Segments).WithSummary("Segment sizes over time, entered and left in the range");
        reports.MapGet("/segments/{id}/flows", Flows).WithSummary("Entered, left and size per day of one segment");
        reports.MapGet("/rfm", Rfm).WithSummary("Customers per recency × frequency cell with their net spend");
        reports.MapGet("/rfm/visitors", RfmVisitors).WithSummary("The customers of one RFM cell");
        reports.MapGet("/messages", Messages).WithSummary("Messages per channel, journey and step; holdout lift per journey");
        reports.MapGet("/newsletter", Newsletter).WithSummary("Subscriptions against unsubscriptions, alarm, heatmap, blame and preference-centre outcomes");
        reports.MapGet("/newsletter/unsubscribers", Unsubscribers).WithSummary("The visitors behind one heatmap cell");
        reports.MapGet("/products/popular", PopularProducts).WithSummary("The most popular products of a category (or overall) over the on-site popularity window");
        reports.MapGet("/status", Status).WithSummary("Each projection's position against the event log, and the node running them");
        reports.MapPost("/rebuild", Rebuild).RequireScope(ApiScope.Admin).WithSummary("Rebuild every reporting projection from the event log");
        return app;
    }

    private static async Task<IResult> Funnel(string? from, string? to, ReportReader reader, TimeProvider clock, CancellationToken ct) =>
        Range(from, to, clock, out var range, out var problem) ? Results.Ok(await reader.FunnelAsync(range, ct)) : problem;

    private static async Task<IResult> FunnelVisitors(string? stage, string? after, string? limit, ReportReader reader, CancellationToken ct)
    {
        if (stage is null || StageOf(stage) is not { } s) return Problems.Invalid([("stage", "must be one of anonymous, lead, customer, repeat_customer, at_risk, lapsed")]);
        if (!Paging(after, limit, out var page, out var problem)) return problem;
        return Results.Ok(await reader.StageVisitorsAsync(s, after, page, ct));
    }

    private static async Task<IResult> Anonymous(string? from, string? to, ReportReader reader, TimeProvider clock, CancellationToken ct) =>
        Range(from, to, clock, out var range, out var problem) ? Results.Ok(await reader.AnonymousAsync(range, ct)) : problem;

    /// <param name="medium">Optional, with <paramref name="campaign"/>: narrows to one group of the map exactly.</param>
    private static async Task<IResult> AnonymousVisitors(string? source, string? category, string? medium, string? campaign, string? after, string? limit,
        ReportReader reader, CancellationToken ct)
    {
        if ((BadText(source, "source", TrafficSource.MaxLength) ?? BadText(category, "category", 200)
                ?? BadText(medium, "medium", TrafficSource.MaxLength) ?? BadText(campaign, "campaign", TrafficSource.MaxLength)) is { } bad)
            return bad;
        if (!Paging(after, limit, out var page, out var problem)) return problem;
        return Results.Ok(await reader.AnonymousVisitorsAsync(source, category, medium, campaign, after, page, ct));
    }

    private static async Task<IResult> Segments(string? from, string? to, ReportReader reader, TimeProvider clock, CancellationToken ct) =>
        Range(from, to, clock, out var range, out var problem) ? Results.Ok(await reader.SegmentsAsync(range, clock.GetUtcNow(), ct)) : problem;

    private static async Task<IResult> Flows(string id, string? from, string? to, ReportReader reader, TimeProvider clock, CancellationToken ct)
    {
        if (BadText(id, "id", 200) is { } bad) return bad;
        return Range(from, to, clock, out var range, out var problem) ? Results.Ok(await reader.FlowsAsync(id, range, ct)) : problem;
    }

    private static async Task<IResult> Rfm(ReportReader reader, TimeProvider clock, CancellationToken ct) =>
        Results.Ok(await reader.RfmAsync(clock.GetUtcNow(), ct));

    /// <param name="asOf">The grid's asOf, so the list is of the cell the marketer clicked even if a customer's recency moved since.</param>
    private static async Task<IResult> RfmVisitors(string? recency, string? frequency, string? asOf, string? after, string? limit, ReportReader reader, TimeProvider clock, CancellationToken ct)
    {
        if (!Score(recency, "recency", 1, 5, out var r, out var problem) || !Score(frequency, "frequency", 1, 5, out var f, out problem)) return problem;
        if (!Paging(after, limit, out var page, out problem)) return problem;
        var now = clock.GetUtcNow();
        if (asOf is not null)
        {
            if (!DateTimeOffset.TryParse(asOf, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) || Math.Abs((at - now).TotalDays) > 3660)
                return Problems.Invalid([("asOf", "must be an ISO 8601 time within ten years of now")]);
            now = at;
        }
        return Results.Ok(await reader.RfmVisitorsAsync(r, f, after, page, now, ct));
    }

    private static async Task<IResult> Messages(string? from, string? to, string? channel, string? journey, ReportReader reader, TimeProvider clock, CancellationToken ct)
    {
        if (!Range(from, to, clock, out var range, out var problem)) return problem;
        if ((BadText(channel, "channel", 64) ?? BadText(journey, "journey", 64)) is { } bad) return bad;
        return Results.Ok(await reader.MessagesAsync(range, channel, journey, ct));
    }

    private static async Task<IResult> Newsletter(string? from, string? to, ReportReader reader, TimeProvider clock, CancellationToken ct) =>
        Range(from, to, clock, out var range, out var problem) ? Results.Ok(await reader.NewsletterAsync(range, ct)) : problem;

    private static async Task<IResult> Unsubscribers(string? weekday, string? hour, string? from, string? to, string? after, string? limit,
        ReportReader reader, TimeProvider clock, CancellationToken ct)
    {
        if (!Score(weekday, "weekday", 0, 6, out var w, out var problem) || !Score(hour, "hour", 0, 23, out var h, out problem)) return problem;
        if (!Range(from, to, clock, out var range, out problem)) return problem;
        if (!Paging(after, limit, out var page, out problem)) return problem;
        return Results.Ok(await reader.UnsubscribersAsync(w, h, range, after, page, ct));
    }

    /// <summary>
    /// Read from this node's popularity board, the very tally on-site recommendations use (one concept in one place):
    /// views count 1, cart additions 3, ordered lines 5 over <c>Actors:OnSite:PopularityWindow</c>. The events carry no
    /// product name, so <c>name</c> is null; <c>position</c> is the event log position the board has read up to.
    /// </summary>
    private static IResult PopularProducts(string? category, string? limit, PopularityBoard board)
    {
        if (BadText(category, "category", 200) is { } bad) return bad;
        var take = 20;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out take) || take < 1 || take > ReportReader.MaxLimit))
            return Problems.Invalid([("limit", $"must be a whole number from 1 to {ReportReader.MaxLimit}")]);
        var snapshot = board.Current;
        var list = string.IsNullOrEmpty(category) ? snapshot.Overall : snapshot.In(category);
        return Results.Ok(new
        {
            products = list.Take(take).Select(p => new { productId = p.Sku, name = (string?)null, category = p.Category, views = p.Views, orders = p.Orders, score = p.Score }),
            asOf = snapshot.AsOf,
            position = board.Position,
        });
    }

    /// <summary>Positions from PostgreSQL; "paused" while the daemon's node has paused them for a large trigger (it says so through a grain).</summary>
    private static async Task<IResult> Status(ReportRebuilds rebuilds, IGrainFactory grains, CancellationToken ct)
    {
        var status = await rebuilds.StatusAsync(ct);
        var since = await grains.GetGrain<Actors.Grains.Reporting.IReportsHoldGrain>(Actors.Grains.Reporting.IReportsHoldGrain.TheKey).DaemonPausedSince();
        return Results.Ok(since is { } s ? status.PausedFrom(s) : status);
    }

    private static IResult Rebuild(ReportRebuilds rebuilds)
    {
        if (!rebuilds.RunsDaemon)
            return Problems.Conflict("This node does not run the reporting projections (Actors:EventStore:RunProjections); ask the node named by /v1/reports/status.");
        rebuilds.Start(); // a rebuild already under way answers the same: it is rebuilding
        return Results.Json(new { state = "rebuilding" }, statusCode: StatusCodes.Status202Accepted);
    }

    /// <summary>A text filter: at most <paramref name="max"/> characters, no control characters (PostgreSQL refuses NUL).</summary>
    private static IResult? BadText(string? value, string field, int max) =>
        value is null ? null
        : value.Length > max ? Problems.Invalid([(field, $"is longer than {max} characters")])
        : !StoredText.IsClean(value) ? Problems.Invalid([(field, "must not contain control characters")])
        : null;

    private static bool Range(string? from, string? to, TimeProvider clock, out DayRange range, out IResult problem)
    {
        var (parsed, field, error) = UtcDays.Parse(from, to, clock.GetUtcNow());
        range = parsed ?? default;
        problem = parsed is null ? Problems.Invalid([(field!, error!)]) : Results.Empty;
        return parsed is not null;
    }

    private static bool Paging(string? after, string? limit, out int page, out IResult problem)
    {
        problem = Results.Empty;
        page = ReportReader.DefaultLimit;
        if (BadText(after, "after", 300) is { } bad)
        {
            problem = bad;
            return false;
        }
        if (limit is null) return true;
        if (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out page) || page < 1 || page > ReportReader.MaxLimit)
        {
            problem = Problems.Invalid([("limit", $"must be a whole number from 1 to {ReportReader.MaxLimit}")]);
            return false;
        }
        return true;
    }

    private static bool Score(string? text, string field, int min, int max, out int value, out IResult problem)
    {
        problem = Results.Empty;
        if (text is null || !int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) || value < min || value > max)
        {
            value = 0;
            problem = Problems.Invalid([(field, $"must be a whole number from {min} to {max}")]);
            return false;
        }
        return true;
    }

    /// <summary>A stage by its wire name (repeat_customer) or as the funnel's day fields spell it (repeatCustomer).</summary>
    private static Stage? StageOf(string name) =>
        Enum.GetValues<Stage>().Select(s => (Stage?)s)
            .FirstOrDefault(s => s!.Value.ToWire() == name || s.Value.ToWire().Replace("_c", "C").Replace("_r", "R") == name);
}
