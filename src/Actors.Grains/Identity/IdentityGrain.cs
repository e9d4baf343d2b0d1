namespace Actors.Grains.Identity;

[GenerateSerializer]
public sealed class AliasState
{
    [Id(0)] public string? ProfileId { get; set; }
}

public sealed class IdentityGrain([PersistentState("alias", ActorsStorageNames.Identity)] IPersistentState<AliasState> alias)
    : Grain, IIdentityGrain
{
    public Task<string> Resolve() => Task.FromResult(alias.State.ProfileId ?? this.GetPrimaryKeyString());

    public async Task Link(string profileId)
    {
        if (alias.State.ProfileId == profileId) return;
        alias.State.ProfileId = profileId;
        await alias.WriteStateAsync();
    }
}

public static class ActorsStorageNames
{
    /// <summary>Orleans ADO.NET grain storage holding alias → profile links.</summary>
    public const string Identity = "identity";
}
