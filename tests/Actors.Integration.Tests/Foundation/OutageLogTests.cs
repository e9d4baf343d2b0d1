using System.Net.Sockets;
using Actors.Grains.Hosting;
using Microsoft.Extensions.Logging;

namespace Actors.Integration.Tests.Foundation;

/// <summary>Background loops say once that the database is away and once that it is back; bugs are said every time.</summary>
public class OutageLogTests
{
    private sealed class Captured : ILogger<OutageLog>
    {
        public List<(LogLevel Level, string Text, Exception? Error)> Lines { get; } = [];
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Add((logLevel, formatter(state, exception), exception));
    }

    [Fact]
    public void Thirty_two_shards_failing_every_second_while_the_database_is_away_give_one_warning_and_one_line_when_it_is_back()
    {
        var logger = new Captured();
        var outage = new OutageLog(logger);
        for (var second = 0; second < 10; second++)
            for (var shard = 0; shard < 32; shard++)
                outage.Failed($"channel delivery email/{shard}", new SocketException((int)SocketError.ConnectionRefused));
        outage.Succeeded("channel delivery email/3");
        outage.Succeeded("product popularity");

        Assert.Equal(2, logger.Lines.Count);
        Assert.Equal(LogLevel.Warning, logger.Lines[0].Level);
        Assert.Contains("The database is away", logger.Lines[0].Text);
        Assert.Null(logger.Lines[0].Error); // no stack trace for a known outage
        Assert.Equal(LogLevel.Information, logger.Lines[1].Level);
        Assert.Contains("The database is back", logger.Lines[1].Text);
    }

    [Fact]
    public void A_failure_that_is_not_the_database_being_away_is_logged_each_time_with_its_trace()
    {
        var logger = new Captured();
        var outage = new OutageLog(logger);
        outage.Failed("channel delivery email/0", new InvalidOperationException("a bug"));
        outage.Failed("channel delivery email/0", new InvalidOperationException("a bug"));
        Assert.Equal(2, logger.Lines.Count);
        Assert.All(logger.Lines, l => Assert.IsType<InvalidOperationException>(l.Error));
        outage.Succeeded("channel delivery email/0"); // no outage was started: nothing to say
        Assert.Equal(2, logger.Lines.Count);
    }
}
