namespace Actors.Domain.Channels;

/// <summary>A product and how popular it was over the window (views 1, cart adds 3, ordered lines 5).</summary>
public sealed record PopularProduct(string Sku, string? Category, long Score)
{
    /// <summary>Of the score: product views and ordered lines counted (for the popular-products report).</summary>
    public long Views { get; init; }
    public long Orders { get; init; }
}

/// <summary>
/// What is popular now, per category and overall, most popular first; each list holds at most the tally's top-K. An
/// immutable snapshot: the refresher makes a new one, every grain of the silo reads the current one without locks.
/// </summary>
public sealed class PopularProducts
{
    private readonly Dictionary<string, IReadOnlyList<PopularProduct>> _byCategory;

    public PopularProducts(IReadOnlyDictionary<string, IReadOnlyList<PopularProduct>> byCategory, IReadOnlyList<PopularProduct> overall, DateTimeOffset? asOf)
    {
        _byCategory = new(byCategory, StringComparer.OrdinalIgnoreCase);
        Overall = overall;
        AsOf = asOf;
    }

    public static PopularProducts None { get; } = new(new Dictionary<string, IReadOnlyList<PopularProduct>>(), [], null);

    public IReadOnlyList<PopularProduct> Overall { get; }

    /// <summary>When the tally behind it was taken; null before the first refresh.</summary>
    public DateTimeOffset? AsOf { get; }

    public int CategoryCount => _byCategory.Count;

    /// <summary>The category's most popular products (category names compare ignoring case, as the profile's counters do).</summary>
    public IReadOnlyList<PopularProduct> In(string category) => _byCategory.TryGetValue(category, out var list) ? list : [];
}

/// <summary>
/// Counts product popularity in time buckets (one day for a 7-day window), per category and overall, from the events
/// the refresher reads. Bounded: at most <see cref="OnSiteSettings.PopularMaxCategories"/> categories and
/// <see cref="OnSiteSettings.PopularSkusPerBucket"/> products per category and bucket; when a bucket is full the weaker
/// half is dropped (a product popular enough to matter comes back and climbs again). Not thread-safe: one writer.
/// </summary>
public sealed class PopularityTally(OnSiteSettings settings)
{
    public const int ViewWeight = 1;
    public const int CartAddWeight = 3;
    public const int OrderWeight = 5;

    private const string OverallKey = "";
    private const int BucketsPerWindow = 7;

    // Per category (overall under ""): bucket number → sku → count.
    private readonly Dictionary<string, SortedDictionary<long, Dictionary<string, Count>>> _buckets = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _dirty = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, IReadOnlyList<PopularProduct>> _tops = new(StringComparer.OrdinalIgnoreCase);
    private long _oldestBucketKept = long.MinValue;

    private sealed class Count(string? category)
    {
        public long Score;
        public long Views;
        public long Orders;
        public string? Category = category;
    }

    private long BucketTicks => Math.Max(TimeSpan.TicksPerSecond, settings.PopularityWindow.Ticks / BucketsPerWindow);

    private long BucketOf(DateTimeOffset at) => at.UtcTicks / BucketTicks;

    /// <summary>Entries held now (products × buckets × categories, overall included): what the memory bound is about.</summary>
    public long Entries => _buckets.Values.Sum(c => c.Values.Sum(b => (long)b.Count));

    /// <summary>Counts one product event at the time it was stored; events older than the window are ignored.</summary>
    public void Add(string sku, string? category, int weight, DateTimeOffset at)
    {
        if (string.IsNullOrEmpty(sku) || weight <= 0) return;
        var bucket = BucketOf(at);
        if (bucket < _oldestBucketKept) return;
        if (!string.IsNullOrEmpty(category)) AddTo(category, sku, category, weight, bucket);
        AddTo(OverallKey, sku, string.IsNullOrEmpty(category) ? null : category, weight, bucket);
    }

    private void AddTo(string key, string sku, string? category, int weight, long bucket)
    {
        if (!_buckets.TryGetValue(key, out var buckets))
        {
            if (_buckets.Count > settings.PopularMaxCategories) return; // counted overall only (the overall key is the +1)
            _buckets[key] = buckets = [];
        }
        if (!buckets.TryGetValue(bucket, out var counts)) buckets[bucket] = counts = new(StringComparer.Ordinal);
        if (!counts.TryGetValue(sku, out var count))
        {
            if (counts.Count >= settings.PopularSkusPerBucket) DropWeakerHalf(counts);
            counts[sku] = count = new Count(category);
        }
        count.Score += weight;
        // Each kind of event has its own weight, so the weight says which it was.
        if (weight == ViewWeight) count.Views++;
        else if (weight == OrderWeight) count.Orders++;
        if (category is not null) count.Category = category;
        _dirty.Add(key);
    }

    private static void DropWeakerHalf(Dictionary<string, Count> counts)
    {
        var weaker = counts.OrderBy(c => c.Value.Score).ThenBy(c => c.Key, StringComparer.Ordinal).Take(counts.Count / 2).Select(c => c.Key).ToList();
        foreach (var sku in weaker) counts.Remove(sku);
    }

    /// <summary>
    /// The snapshot as of <paramref name="now"/>: buckets that left the window are dropped (every category is then
    /// recomputed), otherwise only the categories that changed since the last snapshot.
    /// </summary>
    public PopularProducts Snapshot(DateTimeOffset now)
    {
        // The window in whole buckets: the current one and the 7 before it (7 to 8 days for a 7-day window).
        var oldest = BucketOf(now) - BucketsPerWindow;
        if (oldest > _oldestBucketKept)
        {
            _oldestBucketKept = oldest;
            foreach (var (key, buckets) in _buckets)
            {
                var stale = buckets.Keys.TakeWhile(b => b < oldest).ToList();
                if (stale.Count == 0) continue;
                foreach (var b in stale) buckets.Remove(b);
                _dirty.Add(key);
            }
        }

        foreach (var key in _dirty)
        {
            if (!_buckets.TryGetValue(key, out var buckets)) continue;
            if (buckets.Count == 0 && key != OverallKey)
            {
                _buckets.Remove(key);
                _tops.Remove(key);
                continue;
            }
            _tops[key] = Top(buckets.Values, settings.PopularTopPerCategory);
        }
        _dirty.Clear();

        var byCategory = new Dictionary<string, IReadOnlyList<PopularProduct>>(_tops.Count, StringComparer.OrdinalIgnoreCase);
        foreach (var (key, top) in _tops)
            if (key != OverallKey && top.Count > 0) byCategory[key] = top;
        return new PopularProducts(byCategory, _tops.GetValueOrDefault(OverallKey) ?? [], now);
    }

    private static IReadOnlyList<PopularProduct> Top(IEnumerable<Dictionary<string, Count>> buckets, int k)
    {
        var sums = new Dictionary<string, (long Score, long Views, long Orders, string? Category)>(StringComparer.Ordinal);
        foreach (var bucket in buckets)
            foreach (var (sku, count) in bucket)
            {
                var had = sums.GetValueOrDefault(sku);
                sums[sku] = (had.Score + count.Score, had.Views + count.Views, had.Orders + count.Orders, count.Category ?? had.Category);
            }
        return [.. sums.OrderByDescending(s => s.Value.Score).ThenBy(s => s.Key, StringComparer.Ordinal).Take(k)
            .Select(s => new PopularProduct(s.Key, s.Value.Category, s.Value.Score) { Views = s.Value.Views, Orders = s.Value.Orders })];
    }
}
