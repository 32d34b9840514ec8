namespace GruOperator.Domain.Rollout;

/// <summary>
/// What makes two model versions the same for a rollout: spec.model.source and spec.model.sha256. A change of either
/// starts a canary; every other spec change rolls in place.
/// </summary>
/// <param name="Source">spec.model.source as it may be shown (<see cref="ModelSource.Shown"/>: a presigned URL's query is not kept,
/// so it reaches neither the Deployment's annotation nor status; the sha256 still tells one file from another).</param>
/// <param name="Sha256Hex">64 hex digits, or null when not pinned (an oci tag the registry resolves later).</param>
public sealed record ModelIdentity(string Source, string? Sha256Hex)
{
    /// <summary>"sha256:&lt;hex&gt;", or null when not pinned.</summary>
    public string? Digest => Sha256Hex is null ? null : "sha256:" + Sha256Hex;

    /// <summary>The identity of a parsed spec.model.</summary>
    public static ModelIdentity Of(ModelSource source) => new(source.Shown, source.Sha256Hex);

    /// <summary>The source, with the first 12 digest digits when known: how events and messages name a model.</summary>
    public override string ToString() => Sha256Hex is { Length: >= 12 } hex ? $"{Source} (sha256:{hex[..12]})" : Source;
}
