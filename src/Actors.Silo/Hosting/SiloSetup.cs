using Actors.Grains.Hosting;

namespace Actors.Silo.Hosting;

public static class SiloSetup
{
    /// <summary>The Orleans silo, configured from the "Actors" section (see silo-config/appsettings*.json).</summary>
    public static void AddActorsSilo(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var connectionString = configuration.GetConnectionString(DatabaseSetup.ConnectionStringName)!;
        var settings = configuration.GetSection("Actors").Get<ActorsSettings>() ?? new ActorsSettings();
        settings.Lifecycle.Validate();
        var silo = configuration.GetSection("Actors:Silo").Get<SiloSettings>() ?? new SiloSettings();
        // With no SMTP server, emails are written as .eml files under the data folder.
        if (string.IsNullOrEmpty(configuration["Actors:Email:Folder"]))
            configuration["Actors:Email:Folder"] = Path.Combine(DatabaseSetup.DataDirectory(configuration), "mail");

        builder.UseOrleans(siloBuilder =>
        {
            siloBuilder.AddActors(connectionString, settings, silo);
            siloBuilder.AddActivityPropagation();
            if (OrleansDashboard.Enabled(configuration)) siloBuilder.AddClusterDashboard(configuration);
        });
    }
}
