using System.Collections.Concurrent;
using GruRegistry.Distribution;
using GruRegistry.Models;
using GruRegistry.References;

namespace GruOperator.Integrity;

/// <summary>
/// The ONNX layer digest of a digest-pinned model reference: what pods serving it must report. A manifest digest names
/// immutable content, so each answer is kept for the life of the process (one registry read per model version).
/// </summary>
internal sealed class LayerDigestIndex(DistributionClientFactory registries)
{
    private readonly ConcurrentDictionary<string, string> _layers = new(StringComparer.Ordinal);

    /// <summary>Remembers a layer digest learned elsewhere (a tag resolution).</summary>
    public void Remember(string pinnedReference, string layerDigest) => _layers[pinnedReference] = layerDigest;

    /// <summary>The layer digest already known for <paramref name="pinnedReference"/>, or null.</summary>
    public string? Known(string? pinnedReference) => pinnedReference is not null && _layers.TryGetValue(pinnedReference, out var layer) ? layer : null;

    /// <summary>"sha256:&lt;layer&gt;" for <paramref name="pinnedReference"/>; throws <see cref="RegistryException"/> when the registry cannot say.</summary>
    public async Task<string> LayerOfAsync(string pinnedReference, RegistryCredentials credentials, CancellationToken cancellationToken)
    {
        if (_layers.TryGetValue(pinnedReference, out var known)) return known;
        var reference = OciReference.Parse(pinnedReference);
        if (reference.Digest is null) throw new RegistryException(RegistryErrorKind.Local, $"{pinnedReference} is not pinned to a digest");
        var resolved = await new ModelArtifactClient(registries.Create(credentials)).ResolveAsync(reference, cancellationToken).ConfigureAwait(false);
        var layer = resolved.LayerDigest.ToString();
        _layers[pinnedReference] = layer;
        return layer;
    }
}
