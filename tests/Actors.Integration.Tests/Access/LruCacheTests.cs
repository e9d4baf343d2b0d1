using Actors.Storage.Access;

namespace Actors.Integration.Tests.Access;

/// <summary>The API key cache's eviction (a plain unit test: no host, no database).</summary>
public class LruCacheTests
{
    [Fact]
    public void When_full_the_least_recently_used_entry_goes()
    {
        var cache = new LruCache<string, int>(3);
        cache.Set("a", 1);
        cache.Set("b", 2);
        cache.Set("c", 3);
        Assert.True(cache.TryGet("a", out _)); // a is now the most recent; b the least
        cache.Set("d", 4);

        Assert.Equal(3, cache.Count);
        Assert.False(cache.TryGet("b", out _));
        Assert.True(cache.TryGet("a", out var a) && a == 1);
        Assert.True(cache.TryGet("c", out _));
        Assert.True(cache.TryGet("d", out _));
    }

    [Fact]
    public void Peeking_does_not_count_as_a_use()
    {
        var cache = new LruCache<string, int>(2);
        cache.Set("a", 1);
        cache.Set("b", 2);
        Assert.True(cache.TryPeek("a", out _));
        cache.Set("c", 3);
        Assert.False(cache.TryPeek("a", out _));
        Assert.True(cache.TryPeek("b", out _));
    }

    [Fact]
    public void Setting_an_existing_key_replaces_its_value_and_refreshes_it()
    {
        var cache = new LruCache<string, int>(2);
        cache.Set("a", 1);
        cache.Set("b", 2);
        cache.Set("a", 10);
        cache.Set("c", 3);
        Assert.Equal(2, cache.Count);
        Assert.True(cache.TryGet("a", out var a) && a == 10);
        Assert.False(cache.TryGet("b", out _));
    }

    [Fact]
    public void Remove_and_clear()
    {
        var cache = new LruCache<string, int>(4);
        cache.Set("a", 1);
        cache.Set("b", 2);
        Assert.True(cache.Remove("a"));
        Assert.False(cache.Remove("a"));
        Assert.Equal(1, cache.Count);
        cache.Clear();
        Assert.Equal(0, cache.Count);
        cache.Set("c", 3);
        Assert.True(cache.TryGet("c", out _));
    }

    [Fact]
    public void A_flood_of_distinct_keys_never_grows_it_past_its_capacity()
    {
        var cache = new LruCache<int, int>(100);
        Parallel.For(0, 10_000, i =>
        {
            cache.Set(i, i);
            cache.TryGet(i - 1, out _);
        });
        Assert.Equal(100, cache.Count);
    }
}
