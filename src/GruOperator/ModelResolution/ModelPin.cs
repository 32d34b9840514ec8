using GruOperator.Api;
using GruOperator.Domain.Rollout;

namespace GruOperator.ModelResolution;

/// <summary>
/// The model source everything deployed names, and what the registry said about it. For oci:// it is the reference
/// pinned to a manifest digest (never a tag); https:// and file:// sources pass through unchanged.
/// </summary>
/// <param name="Source">The source to deploy: replaces spec.model.source's parse in the workload builder and the rollout.</param>
/// <param name="Registry">The model's registry credentials (and the Secret's form, for the pods).</param>
/// <param name="Resolved">status.resolvedModel for oci:// sources; null otherwise.</param>
/// <param name="Reason">The ModelResolved condition's reason (oci:// only; null for other sources).</param>
/// <param name="Message">The ModelResolved condition's message.</param>
/// <param name="Failure">Set when nothing could be pinned: deploy nothing new, keep what serves, retry after <paramref name="RetryAfter"/>.</param>
/// <param name="RetryAfter">When to try again after a failure (exponential backoff per model).</param>
internal sealed record ModelPin(
    ModelSource Source,
    RegistryAccess Registry,
    ResolvedModelStatus? Resolved,
    string? Reason,
    string? Message,
    ModelResolutionException? Failure = null,
    TimeSpan RetryAfter = default)
{
    /// <summary>A source that needs no registry (https://, file://).</summary>
    public static ModelPin Direct(ModelSource source) => new(source, RegistryAccess.Anonymous, null, null, null);

    /// <summary>Whether the ModelResolved condition applies (oci:// sources).</summary>
    public bool IsOci => Reason is not null;
}
