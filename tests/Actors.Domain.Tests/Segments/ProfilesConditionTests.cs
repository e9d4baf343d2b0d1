using Actors.Domain.Profiles;
using static Actors.Domain.Tests.Segments.SegmentKit;

namespace Actors.Domain.Tests.Segments;

/// <summary>{"profiles":[…]}: a drill-down saved as a segment.</summary>
public class ProfilesConditionTests
{
    private static readonly DateTimeOffset Now = Make.T0;

    [Fact]
    public void Only_the_listed_profiles_match_and_the_rule_reads_and_writes_back()
    {
        var rule = Rule("""{"profiles":["user:b","p1","anon:a","p1"]}""");
        Assert.True(rule.Matches(Profile(), Now, null)); // SegmentKit's profile is "p1"
        Assert.False(rule.Matches(new VisitorProfile("user:c"), Now, null));
        Assert.Equal("one of 3 listed profiles (anon:a, p1, user:b)", rule.Describe());
        Assert.Equal("""{"profiles":["anon:a","p1","user:b"]}""", rule.ToJson().GetRawText());
        Assert.True(Rule("""{"all":[{"profiles":["p1"]},{"stage":"anonymous"}]}""").Matches(Profile(), Now, null));
    }

    [Theory]
    [InlineData("""{"profiles":"user:a"}""", "profiles")]
    [InlineData("""{"profiles":[]}""", "profiles")]
    [InlineData("""{"profiles":["user:a",7]}""", "profiles[1]")]
    [InlineData("""{"profiles":["user:a"," "]}""", "profiles[1]")]
    [InlineData("""{"profiles":["us\u0000er"]}""", "profiles[0]")]
    [InlineData("""{"profiles":["us\ud800er"]}""", "profiles[0]")]
    [InlineData("""{"any":[{"stage":"lead"},{"profiles":[null]}]}""", "any[1].profiles[0]")]
    public void A_bad_list_is_refused_at_its_path(string json, string path)
    {
        var result = Parse(json);
        Assert.False(result.IsValid);
        Assert.Equal(path, Assert.Single(result.Errors).Path);
    }

    [Fact]
    public void At_most_ten_thousand_ids_and_each_bounded()
    {
        var ok = Parse($$"""{"profiles":[{{string.Join(",", Enumerable.Range(0, 10_000).Select(i => $"\"user:{i}\""))}}]}""");
        Assert.True(ok.IsValid);
        var tooMany = Parse($$"""{"profiles":[{{string.Join(",", Enumerable.Range(0, 10_001).Select(i => $"\"user:{i}\""))}}]}""");
        Assert.Contains("at most 10000", Assert.Single(tooMany.Errors).Message);
        var tooLong = Parse($$"""{"profiles":["{{new string('x', 301)}}"]}""");
        Assert.Equal("profiles[0]", Assert.Single(tooLong.Errors).Path);
    }
}
