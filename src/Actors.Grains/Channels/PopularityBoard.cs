using Actors.Grains.Hosting;
using System.Diagnostics;
using Actors.Domain.Channels;
using Actors.Storage.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Actors.Grains.Channels;

/// <summary>
/// This silo's view of what is popular: a <see cref="PopularityTally"/> fed from the event log every few seconds, and its
/// latest snapshot, which grains read without I/O. At startup it reads back at most
/// <see cref="OnSiteSettings.PopularityStartupScan"/> events to fill the window; then only what was stored since.
/// Every silo keeps its own (the log is the shared truth, so they agree within a refresh).
/// </summary>
public sealed partial class PopularityBoard(PopularityFeed feed, OnSiteSettings settings, TimeProvider clock, OutageLog outage, ILogger<PopularityBoard> logger) : BackgroundService
{
    /// <summary>A gap in the log younger than this may be a transaction still committing: the read waits for it.</summary>
    public static readonly TimeSpan GapWait = TimeSpan.FromSeconds(2);

    private readonly PopularityTally _tally = new(settings);
    private volatile PopularProducts _current = PopularProducts.None;
    private long _position = -1;

    /// <summary>The latest snapshot (empty until the first refresh).</summary>
    public PopularProducts Current => _current;

    /// <summary>The log position read up to (-1 before the start).</summary>
    public long Position => Interlocked.Read(ref _position);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RefreshAsync(stoppingToken);
                outage.Succeeded("product popularity");
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                outage.Failed("product popularity", e); // the snapshot stays as it was; the next round reads on from the same position
            }
            try { await Task.Delay(settings.PopularityRefreshEvery, clock, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>Reads the events stored since the last position, page by page up to the head, and publishes a new snapshot.</summary>
    public async Task RefreshAsync(CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var starting = _position < 0;
        if (starting) Interlocked.Exchange(ref _position, Math.Max(0, await feed.HeadAsync(ct) - settings.PopularityStartupScan));

        var pageSize = Math.Max(1, settings.PopularityPageSize);
        long events = 0;
        while (true)
        {
            var rows = await feed.ReadAsync(_position, pageSize, GapWait, ct);
            var (read, waiting) = Consume(rows);
            events += read;
            // Fewer events than a page: at the head. Waiting: a young gap; the next round reads on from it.
            if (waiting || read == 0 || Distinct(rows) < pageSize) break;
        }
        _current = _tally.Snapshot(clock.GetUtcNow());
        if (starting)
            LogStarted(events, Stopwatch.GetElapsedTime(started).TotalMilliseconds, _current.CategoryCount, _tally.Entries);
    }

    private (long Read, bool Waiting) Consume(IReadOnlyList<ProductEventRow> rows)
    {
        long read = 0, last = -1, position = _position;
        foreach (var row in rows)
        {
            if (row.Sequence != last)
            {
                if (row.Sequence > position + 1 && row.Recent)
                {
                    Interlocked.Exchange(ref _position, position);
                    return (read, true);
                }
                last = position = row.Sequence;
                read++;
            }
            var weight = row.Type switch
            {
                PopularityFeed.ProductViewed => PopularityTally.ViewWeight,
                PopularityFeed.CartItemAdded => PopularityTally.CartAddWeight,
                PopularityFeed.OrderPlaced => PopularityTally.OrderWeight,
                _ => 0,
            };
            if (weight > 0 && row.Sku is { Length: > 0 } sku) _tally.Add(sku, row.Category, weight, row.StoredAt);
        }
        Interlocked.Exchange(ref _position, position);
        return (read, false);
    }

    private static int Distinct(IReadOnlyList<ProductEventRow> rows)
    {
        var count = 0;
        for (var i = 0; i < rows.Count; i++)
            if (i == 0 || rows[i].Sequence != rows[i - 1].Sequence) count++;
        return count;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Product popularity: read {Events} events at startup in {Milliseconds:N0} ms; {Categories} categories, {Entries} entries held")]
    private partial void LogStarted(long events, double milliseconds, int categories, long entries);
}
