using Actors.Api.Access;
using Actors.Api.Channels;
using Actors.Api.Health;
using Actors.Api.Identity;
using Actors.Api.Import;
using Actors.Api.Replay;
using Actors.Api.Reporting;
using Actors.Api.Journeys;
using Actors.Api.Privacy;
using Actors.Api.Segments;
using Actors.Api.Templates;
using Actors.Api.Tracking;
using Actors.Api.Visitors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;
using Scalar.AspNetCore;

namespace Actors.Api;

public static class ApiSetup
{
    public static IServiceCollection AddActorsApi(this IServiceCollection services, IConfiguration configuration)
    {
        var connectionString = configuration.GetConnectionString("Postgres")
            ?? throw new InvalidOperationException("ConnectionStrings:Postgres is not set.");
        services.AddSingleton(_ => NpgsqlDataSource.Create(connectionString));
        services.ConfigureHttpJsonOptions(o => ApiJson.Configure(o.SerializerOptions));
        services.AddProblemDetails(o => o.CustomizeProblemDetails = ProblemDefaults.Fill);
        services.AddExceptionHandler<StoreUnavailableHandler>();
        // Binding failures throw (instead of a bare 400), so BadRequestHandler can say what could not be read.
        services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddExceptionHandler<BadRequestHandler>();
        services.AddOpenApi();
        services.AddActorsHealth();
        services.AddActorsRateLimiting(configuration);
        services.AddBrowserAccess(configuration);
        services.AddHostedService<BootstrapKeys>();
        services.AddSingleton<VisitorTokens>();
        services.AddSingleton<TrackingGateway>();
        services.AddSingleton<ImportJobs>();
        services.AddSingleton(PreferenceCentreSettings.From(configuration));
        services.AddSingleton<Actors.Storage.Privacy.PersonalDataStore>();
        services.AddSingleton<Actors.Storage.Audit.AuditLog>();
        services.AddSingleton<Actors.Grains.Privacy.PersonalData>();
        return services;
    }

    public static WebApplication MapActorsApi(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        // Before the rate limiter, so a 429 still carries the CORS headers a browser SDK needs to read its Retry-After.
        app.UseCors();
        app.UseRateLimiter();
        app.UseApiKeys();
        app.UseQueryText();
        app.MapHealthApi();
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapScalarApiReference("/docs");
        app.MapTrackingApi();
        app.MapSdkSettingsApi();
        app.MapVisitorsApi();
        app.MapOnSiteApi();
        app.MapIdentityApi();
        app.MapBroadcastsApi();
        app.MapReplayApi();
        app.MapImportApi();
        app.MapSegmentsApi();
        app.MapJourneysApi();
        app.MapPreferenceCentre();
        app.MapMessageTrackingApi();
        app.MapPushSubscriptionsApi();
        app.MapDeliveryReceiptsApi();
        app.MapTemplatesApi();
        app.MapKeysApi();
        app.MapPrivacyApi();
        app.MapReportsApi();
        return app;
    }
}
