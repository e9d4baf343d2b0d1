using Actors.Domain.Lifecycle;
using Actors.Domain.Reporting;
using Actors.Domain.Segments;
using Actors.Storage.Segments;
using Marten;

namespace Actors.Storage.Reporting;

public sealed record VisitorRow(string ProfileId, string Stage, string? Email, DateTimeOffset? LastSeenAt);
public sealed record VisitorPage(IReadOnlyList<VisitorRow> Visitors, string? Next, int Total);

public sealed record FunnelDayRow(string Date, int Anonymous, int Lead, int Customer, int RepeatCustomer, int AtRisk, int Lapsed);
public sealed record TransitionRow(string From, string To, int Count);
public sealed record ConversionRates(double AnonymousToLead, double LeadToCustomer, double CustomerToRepeat);
public sealed record TimeToConvert(double? LeadToCustomerMedianHours, double? AnonymousToLeadMedianHours);
public sealed record FunnelReport(IReadOnlyList<FunnelDayRow> Days, IReadOnlyList<TransitionRow> Transitions, ConversionRates Conversion, TimeToConvert TimeToConvert);

public sealed record AnonymousGroup(string Source, string? Medium, string? Campaign, string Category, int Visitors);
public sealed record AnonymousReport(IReadOnlyList<AnonymousGroup> Groups);

public sealed record SizeAt(DateTimeOffset At, int Size);
public sealed record SegmentRow(string SegmentId, string Name, int Size, int Entered, int Left, IReadOnlyList<SizeAt> Sizes);
public sealed record SegmentsReport(IReadOnlyList<SegmentRow> Segments);
public sealed record FlowDay(string Date, int Entered, int Left, int Size);
public sealed record FlowsReport(string SegmentId, IReadOnlyList<FlowDay> Days);

public sealed record RfmGridCell(int Recency, int Frequency, int Visitors, decimal Monetary);
/// <param name="AsOf">The instant the cells were scored at; pass it to the drill-down to list the same cells' customers.</param>
public sealed record RfmReport(IReadOnlyList<RfmGridCell> Cells, DateTimeOffset AsOf);

public sealed record MessageRow(string Channel, string JourneyId, string StepId, string? Template, int Decided, IReadOnlyDictionary<string, int> Suppressed,
    int Sent, int Delivered, int Bounced, int Failed, int Opened, int Clicked, int Converted);
public sealed record HoldoutRow(string JourneyId, int Entrants, int Holdout, double ConversionRate, double HoldoutConversionRate, double Lift, double LiftLow, double LiftHigh);
public sealed record MessagesReport(IReadOnlyList<MessageRow> Rows, IReadOnlyList<HoldoutRow> Holdout);

public sealed record NewsletterDayRow(string Date, int Subscribed, int Unsubscribed);
public sealed record HeatmapCell(int Weekday, int Hour, int Unsubscribed);
public sealed record PreferenceCentreOutcomes(int Lost, int Recovered);
public sealed record NewsletterReport(IReadOnlyList<NewsletterDayRow> Days, bool Alarm, IReadOnlyList<HeatmapCell> Heatmap,
    IReadOnlyDictionary<string, int> ByChannel, IReadOnlyDictionary<string, int> ByTemplate, IReadOnlyDictionary<string, int> ByTopic,
    IReadOnlyDictionary<string, int> BySource, PreferenceCentreOutcomes PreferenceCentre);

/// <summary>
/// Reads the reporting projections. Per-visitor reports (funnel, anonymous map, newsletter, holdout) aggregate the
/// <see cref="ReportVisitor"/> documents when asked: one pass over one document per live profile. Per-day reports
/// (messages, segment flows) read documents bounded by day × key.
/// </summary>
public sealed class ReportReader(IDocumentStore store, SegmentStore segments)
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 500;

    /// <summary>Sources of a newsletter change that mean the visitor came through our unsubscribe link or preference page.</summary>
    public static readonly IReadOnlySet<string> PreferenceCentreSources =
        new HashSet<string>(StringComparer.Ordinal) { "preference_centre", "unsubscribe_landing", "one_click" };

    private async Task<IReadOnlyList<ReportVisitor>> VisitorsAsync(CancellationToken ct)
    {
        await using var session = store.QuerySession();
        return await session.Query<ReportVisitor>().ToListAsync(ct);
    }

    public async Task<FunnelReport> FunnelAsync(DayRange range, CancellationToken ct)
    {
        var visitors = await VisitorsAsync(ct);
        var days = Funnel.Days(visitors.Select(v => v.Timeline()), range)
            .Select(d => new FunnelDayRow(UtcDays.Format(d.Day), d.PerStage[(int)Stage.Anonymous], d.PerStage[(int)Stage.Lead],
                d.PerStage[(int)Stage.Customer], d.PerStage[(int)Stage.RepeatCustomer], d.PerStage[(int)Stage.AtRisk], d.PerStage[(int)Stage.Lapsed]))
            .ToList();
        var transitions = visitors.SelectMany(v => v.StageSteps).Where(s => range.Contains(s.At))
            .GroupBy(s => (s.From, s.To))
            .Select(g => new TransitionRow(g.Key.From.ToWire(), g.Key.To.ToWire(), g.Count()))
            .OrderByDescending(t => t.Count).ThenBy(t => t.From, StringComparer.Ordinal).ThenBy(t => t.To, StringComparer.Ordinal)
            .ToList();
        var conversion = FunnelConversion.Of(visitors.Where(v => range.Contains(v.FirstSeenAt))
            .Select(v => (v.FirstSeenAt, (IReadOnlyList<StageMark>)v.StageSteps.Select(s => new StageMark(s.At, s.To)).ToList())));
        return new FunnelReport(days, transitions,
            new ConversionRates(conversion.AnonymousToLead, conversion.LeadToCustomer, conversion.CustomerToRepeat),
            new TimeToConvert(conversion.LeadToCustomerMedianHours, conversion.AnonymousToLeadMedianHours));
    }

    public async Task<VisitorPage> StageVisitorsAsync(Stage stage, string? after, int limit, CancellationToken ct)
    {
        await using var session = store.QuerySession();
        var total = await session.Query<ReportVisitor>().CountAsync(v => v.Stage == stage, ct);
        var query = session.Query<ReportVisitor>().Where(v => v.Stage == stage);
        if (after is not null) query = query.Where(v => string.Compare(v.Id, after) > 0);
        return Page(await query.OrderBy(v => v.Id).Take(limit + 1).ToListAsync(ct), limit, total);
    }

    public async Task<AnonymousReport> AnonymousAsync(DayRange range, CancellationToken ct)
    {
        await using var session = store.QuerySession();
        var visitors = await session.Query<ReportVisitor>().Where(v => v.Stage == Stage.Anonymous).ToListAsync(ct);
        var groups = visitors.Where(v => range.Contains(v.FirstSeenAt))
            .GroupBy(v => (v.Source, v.Medium, v.Campaign, v.TopCategory))
            .Select(g => new AnonymousGroup(g.Key.Source, g.Key.Medium, g.Key.Campaign, g.Key.TopCategory, g.Count()))
            .OrderByDescending(g => g.Visitors).ThenBy(g => g.Source, StringComparer.Ordinal).ThenBy(g => g.Category, StringComparer.Ordinal)
            .ThenBy(g => g.Medium, StringComparer.Ordinal).ThenBy(g => g.Campaign, StringComparer.Ordinal)
            .ToList();
        return new AnonymousReport(groups);
    }

    public async Task<VisitorPage> AnonymousVisitorsAsync(string? source, string? category, string? medium, string? campaign, string? after, int limit, CancellationToken ct)
    {
        await using var session = store.QuerySession();
        var query = session.Query<ReportVisitor>().Where(v => v.Stage == Stage.Anonymous);
        if (source is not null) query = query.Where(v => v.Source == source);
        if (category is not null) query = query.Where(v => v.TopCategory == category);
        if (medium is not null) query = query.Where(v => v.Medium == medium);
        if (campaign is not null) query = query.Where(v => v.Campaign == campaign);
        var total = await query.CountAsync(ct);
        if (after is not null) query = query.Where(v => string.Compare(v.Id, after) > 0);
        return Page(await query.OrderBy(v => v.Id).Take(limit + 1).ToListAsync(ct), limit, total);
    }

    /// <summary>
    /// Per segment: size now, entries and exits in the range, and its size over time: the sampled sizes
    /// (<see cref="SegmentSize"/>, hourly and after backfills) and, exact from the event log, its size at the end of each
    /// day (at <paramref name="now"/> for today), in time order.
    /// </summary>
    public async Task<SegmentsReport> SegmentsAsync(DayRange range, DateTimeOffset now, CancellationToken ct)
    {
        var rows = new List<SegmentRow>();
        await using var session = store.QuerySession();
        var (first, last) = (range.First, range.Last);
        var flows = await session.Query<SegmentFlowDay>().Where(f => f.Day >= first && f.Day <= last).ToListAsync(ct);
        foreach (var s in await segments.ListAsync(false, ct))
        {
            var size = await segments.CountAsync(s.Id, ct);
            var history = (await segments.SizeHistoryAsync(s.Id, ct)).Where(h => range.Contains(h.At)).Select(h => new SizeAt(h.At, h.Members)).ToList();
            var dayEnds = (await FlowsAsync(s.Id, range, ct)).Days
                .Select(d => (At: UtcDays.EndOf(DateOnly.ParseExact(d.Date, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)), d.Size))
                .Where(d => d.At - TimeSpan.FromDays(1) <= now)
                .Select(d => new SizeAt(d.At > now ? now : d.At, d.Size));
            var sizes = history.Concat(dayEnds).OrderBy(p => p.At).ToList();
            var mine = flows.Where(f => f.SegmentId == s.Id).ToList();
            rows.Add(new SegmentRow(s.Id, s.Name, size, mine.Sum(f => f.Entered), mine.Sum(f => f.Left), sizes));
        }
        return new SegmentsReport(rows);
    }

    public async Task<FlowsReport> FlowsAsync(string segmentId, DayRange range, CancellationToken ct)
    {
        await using var session = store.QuerySession();
        var last = range.Last;
        // Every day up to the range's end: a day's size is the running sum of all entries and exits before it.
        var flows = (await session.Query<SegmentFlowDay>().Where(f => f.SegmentId == segmentId && f.Day <= last).ToListAsync(ct))
            .ToDictionary(f => f.Day);
        var size = flows.Values.Where(f => f.Day < range.First).Sum(f => f.Entered - f.Left);
        var days = new List<FlowDay>();
        foreach (var day in range.Days())
        {
            var f = flows.GetValueOrDefault(day);
            size += (f?.Entered ?? 0) - (f?.Left ?? 0);
            days.Add(new FlowDay(UtcDays.Format(day), f?.Entered ?? 0, f?.Left ?? 0, size));
        }
        return new FlowsReport(segmentId, days);
    }

    /// <summary>Each customer's (recency, frequency) cell, scored exactly as the segments' rfm conditions score them.</summary>
    private async Task<List<(CustomerValue Customer, RfmCell Cell)>> RfmCellsAsync(DateTimeOffset now, CancellationToken ct)
    {
        var customers = await segments.CustomerValuesAsync(ct);
        var thresholds = Rfm.Thresholds(customers.Select(c => ((now - (c.LastOrderAt ?? now)).TotalDays, c.Orders, c.Total)), now);
        return customers.Where(c => c.LastOrderAt is not null)
            .Select(c => (c, Rfm.CellOf(c.LastOrderAt!.Value, c.Orders, c.Total, thresholds, now))).ToList();
    }

    public async Task<RfmReport> RfmAsync(DateTimeOffset now, CancellationToken ct)
    {
        var cells = await RfmCellsAsync(now, ct);
        var grid = new List<RfmGridCell>(25);
        for (var r = 1; r <= 5; r++)
            for (var f = 1; f <= 5; f++)
            {
                var inCell = cells.Where(c => c.Cell.Recency == r && c.Cell.Frequency == f).ToList();
                grid.Add(new RfmGridCell(r, f, inCell.Count, inCell.Sum(c => c.Customer.Total)));
            }
        return new RfmReport(grid, now);
    }

    public async Task<VisitorPage> RfmVisitorsAsync(int recency, int frequency, string? after, int limit, DateTimeOffset now, CancellationToken ct)
    {
        var ids = (await RfmCellsAsync(now, ct)).Where(c => c.Cell.Recency == recency && c.Cell.Frequency == frequency)
            .Select(c => c.Customer.Id).Order(StringComparer.Ordinal).ToList();
        var page = ids.Where(id => after is null || string.CompareOrdinal(id, after) > 0).Take(limit + 1).ToList();
        await using var session = store.QuerySession();
        var docs = (await session.LoadManyAsync<ReportVisitor>(ct, page)).ToDictionary(v => v.Id);
        var rows = page.Select(id => docs.TryGetValue(id, out var v) ? v : new ReportVisitor { Id = id, Stage = Stage.Customer }).ToList();
        return Page(rows, limit, ids.Count);
    }

    public async Task<MessagesReport> MessagesAsync(DayRange range, string? channel, string? journeyId, CancellationToken ct)
    {
        await using var session = store.QuerySession();
        var (first, last) = (range.First, range.Last);
        var query = session.Query<MessageDay>().Where(m => m.Day >= first && m.Day <= last);
        if (channel is not null) query = query.Where(m => m.Channel == channel);
        if (journeyId is not null) query = query.Where(m => m.JourneyId == journeyId);
        var rows = (await query.ToListAsync(ct))
            .GroupBy(m => (m.Channel, m.JourneyId, m.StepId))
            .Select(g => new MessageRow(g.Key.Channel, g.Key.JourneyId, g.Key.StepId,
                g.OrderBy(m => m.Day).Select(m => m.Template).LastOrDefault(t => t is not null),
                g.Sum(m => m.Decided),
                g.SelectMany(m => m.Suppressed).GroupBy(kv => kv.Key).ToDictionary(k => k.Key, k => k.Sum(kv => kv.Value)),
                g.Sum(m => m.Sent), g.Sum(m => m.Delivered), g.Sum(m => m.Bounced), g.Sum(m => m.Failed),
                g.Sum(m => m.Opened), g.Sum(m => m.Clicked), g.Sum(m => m.Converted)))
            .OrderBy(r => r.JourneyId, StringComparer.Ordinal).ThenBy(r => r.StepId, StringComparer.Ordinal).ThenBy(r => r.Channel, StringComparer.Ordinal)
            .ToList();

        var passages = (await VisitorsAsync(ct)).SelectMany(v => v.Journeys)
            .Where(p => range.Contains(p.EnteredAt) && (journeyId is null || p.JourneyId == journeyId));
        var holdout = passages.GroupBy(p => p.JourneyId).Select(g =>
        {
            var treated = g.Where(p => !p.HeldOut).ToList();
            var held = g.Where(p => p.HeldOut).ToList();
            var lift = HoldoutLift.Of(treated.Count, treated.Count(p => p.Converted), held.Count, held.Count(p => p.Converted));
            return new HoldoutRow(g.Key, g.Count(), held.Count, lift.Rate, lift.HoldoutRate, lift.Lift, lift.Low, lift.High);
        }).OrderBy(h => h.JourneyId, StringComparer.Ordinal).ToList();
        return new MessagesReport(rows, holdout);
    }

    public async Task<NewsletterReport> NewsletterAsync(DayRange range, CancellationToken ct)
    {
        var marks = (await VisitorsAsync(ct)).SelectMany(v => v.Newsletter).Where(m => range.Contains(m.At)).ToList();
        var perDay = marks.GroupBy(m => UtcDays.Of(m.At)).ToDictionary(g => g.Key, g => (Sub: g.Count(m => m.Subscribed), Unsub: g.Count(m => !m.Subscribed)));
        var days = range.Days().Select(d => (Day: d, Subscribed: perDay.GetValueOrDefault(d).Sub, Unsubscribed: perDay.GetValueOrDefault(d).Unsub)).ToList();
        var unsubscribed = marks.Where(m => !m.Subscribed).ToList();
        var grid = Heatmap.Count(unsubscribed.Select(m => m.At));
        var heatmap = new List<HeatmapCell>(Heatmap.Cells);
        for (var w = 0; w < 7; w++)
            for (var h = 0; h < 24; h++) heatmap.Add(new HeatmapCell(w, h, grid[w, h]));
        return new NewsletterReport(
            days.Select(d => new NewsletterDayRow(UtcDays.Format(d.Day), d.Subscribed, d.Unsubscribed)).ToList(),
            NewsletterAlarm.Raised(days),
            heatmap,
            CountBy(unsubscribed, m => m.Channel ?? "none"),
            CountBy(unsubscribed, m => m.Template ?? "none"),
            CountBy(unsubscribed, m => m.Topic ?? "none"),
            CountBy(unsubscribed, m => m.Source),
            new PreferenceCentreOutcomes(
                unsubscribed.Count(m => PreferenceCentreSources.Contains(m.Source)),
                marks.Count(m => m.Subscribed && PreferenceCentreSources.Contains(m.Source))));
    }

    public async Task<VisitorPage> UnsubscribersAsync(int weekday, int hour, DayRange range, string? after, int limit, CancellationToken ct)
    {
        var matching = (await VisitorsAsync(ct))
            .Where(v => v.Newsletter.Any(m => !m.Subscribed && range.Contains(m.At) && Heatmap.CellOf(m.At) == (weekday, hour)))
            .OrderBy(v => v.Id, StringComparer.Ordinal).ToList();
        var page = matching.Where(v => after is null || string.CompareOrdinal(v.Id, after) > 0).Take(limit + 1).ToList();
        return Page(page, limit, matching.Count);
    }

    private static Dictionary<string, int> CountBy(IEnumerable<NewsletterMark> marks, Func<NewsletterMark, string> key) =>
        marks.GroupBy(key).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count());

    private static VisitorPage Page(IReadOnlyList<ReportVisitor> rows, int limit, int total)
    {
        var more = rows.Count > limit;
        var shown = rows.Take(limit).Select(v => new VisitorRow(v.Id, v.Stage.ToWire(), v.Email, v.LastSeenAt)).ToList();
        return new VisitorPage(shown, more ? shown[^1].ProfileId : null, total);
    }
}
