using Actors.Domain.Tracking;

namespace Actors.Domain.Tests.Tracking;

public class StoredTextTests
{
    [Theory]
    [InlineData("plain", null)]
    [InlineData("line\nbreak", null)]          // storable; free text may hold newlines
    [InlineData("emoji \ud83d\ude00 ok", null)] // a surrogate pair is one character
    [InlineData("a\0b", StoredText.NulMessage)]
    public void Problem_names_what_PostgreSQL_or_Unicode_refuses(string text, string? problem) =>
        Assert.Equal(problem, StoredText.Problem(text));

    [Theory]
    [InlineData("user:ada", true)]
    [InlineData("user:\ud83d\ude00", true)]
    [InlineData("a\nb", false)]
    [InlineData("a\u0085b", false)]
    public void Ids_and_names_are_clean_without_control_characters(string text, bool clean) =>
        Assert.Equal(clean, StoredText.IsClean(text));

    [Fact]
    public void A_lone_surrogate_is_refused_wherever_it_stands()
    {
        // Built in code: attribute arguments cannot carry a lone surrogate (the compiler writes U+FFFD instead).
        foreach (var text in new[] { "lone \ud800", "\udc00 first", "a\ud800\ud800b", "\ude00\ud83d" })
        {
            Assert.Equal(StoredText.SurrogateMessage, StoredText.Problem(text));
            Assert.False(StoredText.IsClean(text));
        }
    }
}
