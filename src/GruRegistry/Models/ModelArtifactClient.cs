using GruRegistry.Distribution;
using GruRegistry.References;

namespace GruRegistry.Models;

/// <summary>A model version pushed: its reference pinned to the manifest digest, and what happened to each blob.</summary>
public sealed record PushedModel(OciReference Reference, Sha256Digest ManifestDigest, Sha256Digest LayerDigest, long LayerSize, BlobPushOutcome LayerOutcome);

/// <summary>Pushes, resolves and pulls GRU model artifacts over a <see cref="DistributionClient"/>.</summary>
public sealed class ModelArtifactClient(DistributionClient registry)
{
    /// <summary>A config larger than this is not ours; refusing it keeps a wrong manifest from filling memory.</summary>
    private const int MaxConfigBytes = 1 << 20;

    /// <summary>
    /// Pushes <paramref name="onnxPath"/> and <paramref name="config"/> as a model artifact and tags it <paramref name="target"/>.
    /// Blobs the repository already has are skipped; <paramref name="mountFrom"/> names a repository of the same registry to mount from.
    /// </summary>
    public async Task<PushedModel> PushAsync(
        string onnxPath, ModelConfig config, OciReference target, string? mountFrom, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(target);
        if (target.Tag is null)
        {
            throw new RegistryException(RegistryErrorKind.Local, $"{target}: push needs a tag to publish under (oci://host/repo:tag)");
        }

        FileInfo file = new(onnxPath);
        if (!file.Exists)
        {
            throw new RegistryException(RegistryErrorKind.Local, $"{target}: the model file '{onnxPath}' does not exist");
        }

        var layerDigest = await Sha256Digest.OfFileAsync(file.FullName, cancellationToken).ConfigureAwait(false);
        var layerOutcome = await registry.PushBlobAsync(target, layerDigest, file.Length,
            () => new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous),
            mountFrom, progress, cancellationToken).ConfigureAwait(false);

        var configBytes = config.ToBytes();
        var configDigest = Sha256Digest.Of(configBytes);
        await registry.PushBlobAsync(target, configDigest, configBytes.Length, () => new MemoryStream(configBytes, writable: false),
            mountFrom, progress: null, cancellationToken).ConfigureAwait(false);

        var manifest = ModelManifest.Build(
            new OciDescriptor(ModelMediaTypes.Config, configDigest.ToString(), configBytes.Length),
            new OciDescriptor(ModelMediaTypes.Onnx, layerDigest.ToString(), file.Length)
            {
                Annotations = new Dictionary<string, string> { [ModelManifest.TitleAnnotation] = file.Name },
            });
        var manifestDigest = await registry.PutManifestAsync(target, OciMediaTypes.ImageManifest, manifest.ToBytes(), cancellationToken)
            .ConfigureAwait(false);
        return new PushedModel(target.WithDigest(manifestDigest), manifestDigest, layerDigest, file.Length, layerOutcome);
    }

    /// <summary>Resolves a tag or digest to the manifest digest and the model's layer, and reads its config; refuses non-models.</summary>
    public async Task<ResolvedModel> ResolveAsync(OciReference reference, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var manifest = await registry.GetManifestAsync(reference, cancellationToken).ConfigureAwait(false);
        var (layer, configDescriptor) = ModelManifest.Read(manifest, reference);
        var pinned = reference.WithDigest(manifest.Digest);
        if (configDescriptor.Size > MaxConfigBytes)
        {
            throw new RegistryException(RegistryErrorKind.NotAModel, $"{pinned}: the config is {configDescriptor.Size} bytes; a model config is small JSON");
        }

        var configBytes = await registry.GetBlobBytesAsync(pinned, Sha256Digest.Parse(configDescriptor.Digest), MaxConfigBytes, cancellationToken)
            .ConfigureAwait(false);
        return new ResolvedModel(pinned, manifest.Digest, layer, configDescriptor, ModelConfig.Parse(configBytes, pinned));
    }

    /// <summary>Downloads the model's ONNX layer to <paramref name="path"/>, verified against the layer digest and size.</summary>
    public Task<long> PullAsync(ResolvedModel model, string path, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(model);
        return registry.DownloadBlobAsync(model.Reference, model.LayerDigest, model.Layer.Size, path, progress, cancellationToken);
    }
}
