using GruRegistry.Distribution;
using GruRegistry.Models;
using GruRegistry.References;
using GruServer.Inference;
using GruServer.Telemetry;
using Microsoft.Extensions.Logging;

namespace GruServer.Registry;

/// <summary>Puts the model layer of a digest-pinned OCI reference on local disk, verified, and returns its path.
/// The cache is content-addressed: the manifest under its digest and the layer under its digest, each re-hashed
/// before use, so a restart needs no registry and a corrupted cached file is fetched again, never served.
/// A registry that cannot be reached leaves the model not ready and is retried with capped exponential backoff.</summary>
internal sealed partial class OciModelFetcher(
    OciModelSource source, DistributionClientFactory clients, ServedModel model, GruServerMetrics metrics, TimeProvider time, ILogger<OciModelFetcher> logger)
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxRetry = TimeSpan.FromSeconds(30);
    /// <summary>Returns the verified local path of the model layer, retrying transient registry failures until
    /// cancelled; a non-transient failure (wrong digest, not a model, 401/403/404) is thrown.</summary>
    public async Task<(string Path, Sha256Digest LayerDigest)> FetchAsync(CancellationToken cancellationToken)
    {
        var delay = FirstRetry;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await FetchOnceAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (RegistryException e) when (e.IsTransient)
            {
                metrics.RecordModelFetchFailure();
                var message = $"cannot fetch the model from the registry (attempt {attempt}; retrying in {delay.TotalSeconds:0}s): {e.Message}";
                Log.FetchFailed(logger, source.Reference.ToString(), attempt, delay.TotalSeconds, e.Message);
                model.Update(new ModelState(ModelStatus.Loading, message));
                await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetry.Ticks));
            }
            catch (RegistryException)
            {
                metrics.RecordModelFetchFailure();
                throw;
            }
        }
    }

    private async Task<(string Path, Sha256Digest LayerDigest)> FetchOnceAsync(CancellationToken cancellationToken)
    {
        var reference = source.Reference;
        var manifestDigest = reference.Digest!.Value;
        var registry = new Lazy<DistributionClient>(() => clients.Create(source.Credentials));
        var manifestPath = CachePath("manifests", manifestDigest);
        var manifest = await ReadCachedAsync(manifestPath, manifestDigest, cancellationToken).ConfigureAwait(false) is { } cachedBytes
            ? new ManifestContent(manifestDigest, OciMediaTypes.ImageManifest, cachedBytes)
            : null;
        var fromRegistry = manifest is null;
        // GetManifestAsync refuses bytes that do not hash to the pinned digest.
        manifest ??= await registry.Value.GetManifestAsync(reference, cancellationToken).ConfigureAwait(false);
        var (layer, _) = ModelManifest.Read(manifest, reference);
        if (fromRegistry)
        {
            // Cached only once known to be a model, so a restart never trusts what a first start refused.
            await WriteAtomicallyAsync(manifestPath, manifest.Bytes, cancellationToken).ConfigureAwait(false);
        }

        var layerDigest = Sha256Digest.Parse(layer.Digest);
        var layerPath = CachePath("blobs", layerDigest);
        if (File.Exists(layerPath))
        {
            var cached = await Sha256Digest.OfFileAsync(layerPath, cancellationToken).ConfigureAwait(false);
            if (cached == layerDigest)
            {
                Log.CacheHit(logger, reference.ToString(), layerDigest.ToString(), layerPath);
                return (layerPath, layerDigest);
            }

            Log.CacheCorrupt(logger, layerPath, cached.ToString(), layerDigest.ToString());
            File.Delete(layerPath);
        }

        model.Update(new ModelState(ModelStatus.Loading, $"pulling {layerDigest} ({layer.Size} bytes) from {reference}"));
        var bytes = await registry.Value.DownloadBlobAsync(reference, layerDigest, layer.Size, layerPath, progress: null, cancellationToken)
            .ConfigureAwait(false);
        Log.Pulled(logger, reference.ToString(), layerDigest.ToString(), bytes, layerPath);
        return (layerPath, layerDigest);
    }

    private string CachePath(string kind, Sha256Digest digest) => Path.Combine(source.CacheDirectory, kind, "sha256", digest.Hex);

    /// <summary>The cached bytes when they still hash to <paramref name="digest"/>, else null (and a bad copy is removed).</summary>
    private static async Task<byte[]?> ReadCachedAsync(string path, Sha256Digest digest, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        var bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        if (Sha256Digest.Of(bytes) == digest)
        {
            return bytes;
        }

        File.Delete(path);
        return null;
    }

    private static async Task WriteAtomicallyAsync(string path, byte[] bytes, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = $"{path}.{Environment.ProcessId}.tmp";
        await File.WriteAllBytesAsync(temporary, bytes, cancellationToken).ConfigureAwait(false);
        File.Move(temporary, path, overwrite: true);
    }

    private static partial class Log
    {
        [LoggerMessage(20, LogLevel.Warning, "Cannot fetch model {Reference} (attempt {Attempt}); not ready, retrying in {DelaySeconds}s: {Reason}")]
        public static partial void FetchFailed(ILogger logger, string reference, int attempt, double delaySeconds, string reason);

        [LoggerMessage(21, LogLevel.Information, "Model {Reference}: cached layer {Digest} at {Path} re-verified; not downloading")]
        public static partial void CacheHit(ILogger logger, string reference, string digest, string path);

        [LoggerMessage(22, LogLevel.Warning, "Cached model file {Path} hashes to {Actual}, not {Expected}; removing it and downloading again")]
        public static partial void CacheCorrupt(ILogger logger, string path, string actual, string expected);

        [LoggerMessage(23, LogLevel.Information, "Model {Reference}: pulled layer {Digest} ({Bytes} bytes, sha256 verified while streaming) to {Path}")]
        public static partial void Pulled(ILogger logger, string reference, string digest, long bytes, string path);
    }
}
