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
        return services;
    }
}
