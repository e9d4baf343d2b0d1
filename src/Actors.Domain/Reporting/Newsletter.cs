namespace Actors.Domain.Reporting;

public static class NewsletterAlarm
{
    public const int WindowDays = 7;

    /// <summary>Unsubscriptions outpaced subscriptions over the last <see cref="WindowDays"/> days of the series.</summary>
    public static bool Raised(IReadOnlyList<(DateOnly Day, int Subscribed, int Unsubscribed)> days)
    {
        var last = days.TakeLast(WindowDays).ToList();
        return last.Sum(d => d.Unsubscribed) > last.Sum(d => d.Subscribed);
    }
}
