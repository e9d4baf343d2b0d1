using Actors.Grains.Hosting;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Actors.Silo.Hosting;

public static class Telemetry
{
    /// <summary>
    /// Traces for HTTP, Orleans and Npgsql; metrics for HTTP, the runtime, Orleans and our own meter "Actors" — exported
    /// over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set. Without an endpoint nothing is collected: spans that nobody
    /// exports would only cost every request time (the meters stay readable by dotnet-counters either way).
    /// </summary>
    public static void AddActorsTelemetry(this WebApplicationBuilder builder)
    {
        if (string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"])) return;

        builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("actors"))
            .WithTracing(t => t
                .AddAspNetCoreInstrumentation(o => o.Filter = ctx => !ctx.Request.Path.StartsWithSegments("/health"))
                .AddSource("Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application")
                .AddNpgsql())
            .WithMetrics(m => m
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter("Microsoft.Orleans")
                .AddMeter(ActorsMetrics.MeterName))
            .UseOtlpExporter();
    }
}
