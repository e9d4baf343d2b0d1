using Actors.Domain.Lifecycle;
using Actors.Grains.Hosting;
using Microsoft.Extensions.Configuration;

namespace Actors.Integration.Tests.Foundation;

/// <summary>
/// Several hosts in one process (the tests, the admin commands) each bind their own settings. A default shared between
/// them was rewritten by the last one bound: a test host's 6 s lapse became 120 days mid-test, and its lapse test
/// failed now and then for a year's worth of runs.
/// </summary>
public class SettingsBindingTests
{
    private static ActorsSettings Bind(string atRisk, string lapsed) =>
        new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Actors:Lifecycle:AtRiskAfter"] = atRisk,
            ["Actors:Lifecycle:LapsedAfter"] = lapsed,
        }).Build().GetSection("Actors").Get<ActorsSettings>()!;

    [Fact]
    public void Binding_one_hosts_settings_leaves_another_hosts_and_the_defaults_alone()
    {
        var testHost = Bind("00:00:03", "00:00:06");
        var adminCommand = Bind("60.00:00:00", "120.00:00:00");
        var unbound = new ActorsSettings();

        Assert.Equal(TimeSpan.FromSeconds(6), testHost.Lifecycle.LapsedAfter);
        Assert.Equal(TimeSpan.FromDays(120), adminCommand.Lifecycle.LapsedAfter);
        Assert.NotSame(testHost.Lifecycle, adminCommand.Lifecycle);
        Assert.Equal(TimeSpan.FromDays(120), unbound.Lifecycle.LapsedAfter);
        Assert.Equal(TimeSpan.FromDays(120), LifecycleSettings.Default.LapsedAfter);
    }

    [Fact]
    public void The_event_stores_connections_plan_cheap_random_reads_prepare_their_statements_and_skip_the_reset_unless_the_string_says_otherwise()
    {
        var settings = new Actors.Storage.Streams.EventStoreSettings();
        var plain = new Npgsql.NpgsqlConnectionStringBuilder(
            Actors.Storage.Streams.MartenSetup.ForEventStore("Host=db;Username=u;Password=reset-me", settings));
        Assert.True(plain.NoResetOnClose); // a password mentioning "reset" is not a setting
        Assert.Equal("-c random_page_cost=1.1", plain.Options);
        Assert.Equal(Actors.Storage.Streams.MartenSetup.AutoPreparedStatements, plain.MaxAutoPrepare);
        Assert.Equal(2, plain.AutoPrepareMinUsages);

        var noPreparing = new Npgsql.NpgsqlConnectionStringBuilder(
            Actors.Storage.Streams.MartenSetup.ForEventStore("Host=db;Max Auto Prepare=0;AutoPrepareMinUsages=7", settings));
        Assert.Equal(0, noPreparing.MaxAutoPrepare);
        Assert.Equal(7, noPreparing.AutoPrepareMinUsages);

        var explicitReset = new Npgsql.NpgsqlConnectionStringBuilder(
            Actors.Storage.Streams.MartenSetup.ForEventStore("Host=db;No Reset On Close=false;Options=-c work_mem=8MB", settings));
        Assert.False(explicitReset.NoResetOnClose);
        Assert.Equal("-c work_mem=8MB", explicitReset.Options);

        foreach (var bad in new[] { double.NaN, double.PositiveInfinity, 0, -1, 1e28 })
            Assert.Throws<ArgumentOutOfRangeException>(() =>
                Actors.Storage.Streams.MartenSetup.ForEventStore("Host=db", settings with { RandomPageCost = bad }));
        Assert.Null(new Npgsql.NpgsqlConnectionStringBuilder(
            Actors.Storage.Streams.MartenSetup.ForEventStore("Host=db", settings with { RandomPageCost = null })).Options);
    }

    [Fact]
    public void A_triggers_parallelism_binds_from_Actors_Journeys_and_defaults_to_1024()
    {
        var bound = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Actors:Journeys:TriggerParallelism"] = "64",
        }).Build().GetSection("Actors").Get<ActorsSettings>()!;

        Assert.Equal(64, bound.Journeys.TriggerParallelism);
        Assert.Equal(1024, new ActorsSettings().Journeys.TriggerParallelism);
        Assert.NotSame(bound.Journeys, new ActorsSettings().Journeys);
    }

    [Theory]
    [InlineData("00:00:00.025", 25)]
    [InlineData("00:00:00", 0)]
    [InlineData("-00:00:01", 0)]
    [InlineData("10", 1_000)] // ten days, by TimeSpan's reading: a shard must not wait that long
    public void A_shards_wake_linger_binds_from_Actors_Channels_and_is_taken_within_0_and_1_s(string configured, int takenMs)
    {
        var bound = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Actors:Channels:WakeLinger"] = configured,
        }).Build().GetSection("Actors").Get<ActorsSettings>()!;

        Assert.Equal(TimeSpan.FromMilliseconds(takenMs), bound.Channels.WakeLingerTaken);
        Assert.Equal(TimeSpan.FromMilliseconds(10), new ActorsSettings().Channels.WakeLingerTaken);
    }

    [Theory]
    [InlineData("00:00:00.250", 250)]
    [InlineData("00:00:00", 0)]
    [InlineData("-00:00:01", 0)]
    [InlineData("10", 5_000)] // ten days, by TimeSpan's reading: outcomes must not wait that long
    [InlineData("10675199.02:48:05.4775807", 5_000)] // TimeSpan.MaxValue
    public void A_shards_report_linger_binds_from_Actors_Channels_and_is_taken_within_0_and_5_s(string configured, int takenMs)
    {
        var bound = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Actors:Channels:ReportLinger"] = configured,
        }).Build().GetSection("Actors").Get<ActorsSettings>()!;

        Assert.Equal(TimeSpan.FromMilliseconds(takenMs), bound.Channels.ReportLingerTaken);
        Assert.Equal(TimeSpan.FromMilliseconds(500), new ActorsSettings().Channels.ReportLingerTaken);
    }

    [Theory]
    [InlineData("3", 3)]
    [InlineData("0", -1)] // one per core
    [InlineData("-7", -1)]
    [InlineData("100000", 64)] // a thread each would be a hundred thousand threads
    public void The_provider_thread_count_binds_from_Actors_Channels_and_is_taken_within_1_and_64(string configured, int taken)
    {
        var bound = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Actors:Channels:ProviderThreads"] = configured,
            ["Actors:Channels:ProviderNice"] = "7",
        }).Build().GetSection("Actors").Get<ActorsSettings>()!;

        Assert.Equal(taken < 0 ? Environment.ProcessorCount : taken, bound.Channels.ProviderThreadsTaken);
        Assert.Equal(7, bound.Channels.ProviderNice);
        Assert.Equal(10, new ActorsSettings().Channels.ProviderNice);
    }

    [Fact]
    public void The_message_policy_binds_from_Actors_Messages_into_a_fresh_instance_per_host()
    {
        var bound = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Actors:Messages:MarketingCap"] = "5",
            ["Actors:Messages:CapWindow"] = "1.00:00:00",
            ["Actors:Messages:QuietFrom"] = "00:00",
            ["Actors:Messages:QuietUntil"] = "00:00",
            ["Actors:Messages:DefaultTimeZone"] = "Europe/Madrid",
        }).Build().GetSection("Actors").Get<ActorsSettings>()!;

        Assert.Equal(5, bound.Messages.MarketingCap);
        Assert.Equal(TimeSpan.FromDays(1), bound.Messages.CapWindow);
        Assert.Equal(bound.Messages.QuietFrom, bound.Messages.QuietUntil);
        Assert.Equal("Europe/Madrid", bound.Messages.DefaultTimeZone);
        Assert.Equal(3, new ActorsSettings().Messages.MarketingCap);
        Assert.Equal(new TimeOnly(21, 0), Actors.Domain.Journeys.PolicySettings.Default.QuietFrom);
    }
}
