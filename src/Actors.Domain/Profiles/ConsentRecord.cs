namespace Actors.Domain.Profiles;

/// <summary>
/// A consent as the law asks it to be kept: its state ("given" or "withdrawn"), when, where it was recorded
/// (<see cref="Source"/>) and the version of the wording the visitor saw; the last two are null for consents recorded
/// before they were kept.
/// </summary>
public sealed record ConsentRecord(string State, DateTimeOffset At, string? Source, string? WordingVersion);
