using Actors.Domain.Privacy;

namespace Actors.Domain.Tests.Privacy;

public class PersonalTextTests
{
    [Theory]
    [InlineData("550 5.1.1 <ana.lopez+shop@mail.example.com>: Recipient address rejected", "550 5.1.1 <[email]>: Recipient address rejected")]
    [InlineData("permanent_bounce: mailbox unavailable (550 ana@example.com unknown)", "permanent_bounce: mailbox unavailable (550 [email] unknown)")]
    [InlineData("gateway said: number +34 600 123 456 is not reachable", "gateway said: number [phone] is not reachable")]
    [InlineData("invalid destination +1 (415) 555-0100", "invalid destination [phone]")]
    public void Addresses_and_phone_numbers_are_replaced(string text, string expected) => Assert.Equal(expected, PersonalText.Redact(text));

    [Theory]
    [InlineData("smtp_unavailable: SocketException: Connection refused")]
    [InlineData("451 4.3.0 Try again later at 2026-03-01 10:00")]
    [InlineData("template_not_found: cart-reminder")]
    [InlineData("")]
    public void Other_text_is_left_alone(string text) => Assert.Equal(text, PersonalText.Redact(text));

    [Fact]
    public void Hostile_text_is_redacted_quickly()
    {
        var text = new string('a', 50_000) + "@" + string.Join(".", Enumerable.Repeat("b", 5_000));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var redacted = PersonalText.Redact(text);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"{watch.Elapsed}");
        Assert.DoesNotContain("a@b", redacted);
    }
}
