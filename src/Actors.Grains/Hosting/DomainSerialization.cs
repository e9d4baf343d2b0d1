using Actors.Domain.Tracking;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Serialization.Configuration;

namespace Actors.Grains.Hosting;

/// <summary>
/// Domain types carry no Orleans attributes (the core knows nothing of Orleans): between silos they travel as JSON,
/// and their assembly is allowed explicitly, since no generated serializer vouches for it.
/// </summary>
public static class DomainSerialization
{
    public static IServiceCollection AddDomainSerialization(this IServiceCollection services)
    {
        var domain = typeof(VisitorEvent).Assembly;
        services.AddSerializer(s => s.AddJsonSerializer(isSupported: t => t.Assembly == domain));
        services.Configure<TypeManifestOptions>(o => o.AllowedAssemblies.Add(domain.GetName().Name!));
        // Database failures must cross a grain call between silos as what they are (the API answers 503 for them);
        // Orleans serializes only System/Microsoft/Orleans exceptions unless told, and would turn these into a codec error.
        services.Configure<ExceptionSerializationOptions>(o =>
        {
            o.SupportedNamespacePrefixes.Add("Npgsql");
            o.SupportedNamespacePrefixes.Add("Marten");
            o.SupportedNamespacePrefixes.Add("JasperFx");
            o.SupportedNamespacePrefixes.Add("Actors");
        });
        return services;
    }
}
