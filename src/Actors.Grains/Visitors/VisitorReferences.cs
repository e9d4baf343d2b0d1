namespace Actors.Grains.Visitors;

/// <summary>
/// References to visitor grains, made without Orleans' type lookup. <c>GetGrain&lt;IVisitorGrain&gt;(id)</c> finds the
/// grain type from the interface on every call, parsing its name again (in ingest, 4% of all the bytes allocated per
/// request); the types never change in a process, so they are found once and each reference is built from its id.
/// </summary>
public static class VisitorReferences
{
    private sealed record GrainTypes(GrainType Grain, GrainInterfaceType Interface);

    private static GrainTypes? _types;

    /// <summary>The visitor grain of this profile id: the same reference as <c>GetGrain&lt;IVisitorGrain&gt;(profileId)</c>.</summary>
    public static IVisitorGrain Visitor(this IGrainFactory grains, string profileId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(profileId);
        var types = _types ??= Resolve(grains);
        return (IVisitorGrain)grains.GetGrain(GrainId.Create(types.Grain, profileId), types.Interface);
    }

    private static GrainTypes Resolve(IGrainFactory grains)
    {
        var probe = (GrainReference)grains.GetGrain<IVisitorGrain>("type-probe");
        return new GrainTypes(probe.GrainId.Type, probe.InterfaceType);
    }
}
