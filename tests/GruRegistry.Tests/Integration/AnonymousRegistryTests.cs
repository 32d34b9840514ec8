using System.Net.Http.Headers;
using System.Text;
using GruRegistry.Distribution;
using GruRegistry.Models;
using GruRegistry.References;
using GruRegistry.Tests.Support;
using TestSupport;

namespace GruRegistry.Tests.Integration;

/// <summary>Push, resolve and pull against the real Distribution registry without auth, and every way a pull must be refused.</summary>
public sealed class AnonymousRegistryTests : IAsyncLifetime
{
    private RegistryProcess _registry = null!;
    private RegistryClients _clients = null!;

    public async Task InitializeAsync()
    {
        _registry = await RegistryProcess.StartAnonymousAsync(CancellationToken.None);
        _clients = new RegistryClients(_registry.Host, o => o.ChunkSize = 1 << 20);
    }

    public async Task DisposeAsync()
    {
        _clients.Dispose();
        await _registry.DisposeAsync();
    }

    private OciReference Ref(string repositoryAndTag) => OciReference.Parse($"oci://{_registry.Host}/{repositoryAndTag}");

    [Fact]
    public async Task PushedModelResolvesByTagAndDigestAndPullsByteForByte()
    {
        var model = await GruTestModels.WriteAsync();
        var models = _clients.Models();

        var pushed = await models.PushAsync(model.Path, TestArtifacts.Config(), Ref("models/recs:1.0"), null, null, CancellationToken.None);
        var byTag = await models.ResolveAsync(Ref("models/recs:1.0"), CancellationToken.None);
        var byDigest = await models.ResolveAsync(OciReference.Parse($"oci://{_registry.Host}/models/recs@{pushed.ManifestDigest}"), CancellationToken.None);
        var output = TestArtifacts.TempPath();
        var bytes = await models.PullAsync(byTag, output, null, CancellationToken.None);

        Assert.Equal(BlobPushOutcome.UploadedMonolithic, pushed.LayerOutcome);
        Assert.Equal($"sha256:{model.Sha256}", pushed.LayerDigest.ToString());
        Assert.Equal(pushed.ManifestDigest, byTag.ManifestDigest);
        Assert.Equal(pushed.ManifestDigest, byDigest.ManifestDigest);
        Assert.Equal(pushed.LayerDigest, byTag.LayerDigest);
        Assert.Equal(TestArtifacts.Config().ToBytes(), byTag.Config.ToBytes());
        Assert.Equal("input", Assert.Single(byTag.Config.Inputs).Name);
        Assert.Equal([-1, -1, 4], byTag.Config.Inputs[0].Shape);
        Assert.Equal(await File.ReadAllBytesAsync(model.Path), await File.ReadAllBytesAsync(output));
        Assert.Equal(new FileInfo(model.Path).Length, bytes);
        Assert.False(File.Exists(output + ".partial"));
    }

    [Fact]
    public async Task ManifestCarriesArtifactTypeAndTheOnnxLayer()
    {
        var model = await GruTestModels.WriteAsync();
        var pushed = await _clients.Models().PushAsync(model.Path, TestArtifacts.Config(), Ref("models/recs:1.0"), null, null, CancellationToken.None);

        var manifest = await _clients.Distribution().GetManifestAsync(Ref("models/recs:1.0"), CancellationToken.None);
        var parsed = OciManifest.TryParse(manifest.Bytes)!;

        Assert.Equal(pushed.ManifestDigest, manifest.Digest);
        Assert.Equal(OciMediaTypes.ImageManifest, manifest.MediaType);
        Assert.Equal(ModelMediaTypes.Artifact, parsed.ArtifactType); // Distribution 2.8 keeps the v1.1 field in the stored bytes
        Assert.Equal(ModelMediaTypes.Config, parsed.Config!.MediaType);
        var layer = Assert.Single(parsed.Layers!);
        Assert.Equal(ModelMediaTypes.Onnx, layer.MediaType);
        Assert.Equal(Path.GetFileName(model.Path), layer.Annotations![ModelManifest.TitleAnnotation]);
    }

    [Fact]
    public async Task PushingTheSameModelAgainSkipsTheBlobAndGivesTheSameDigest()
    {
        var model = await GruTestModels.WriteAsync();
        var models = _clients.Models();

        var first = await models.PushAsync(model.Path, TestArtifacts.Config(), Ref("models/recs:1.0"), null, null, CancellationToken.None);
        var second = await models.PushAsync(model.Path, TestArtifacts.Config(), Ref("models/recs:1.0-again"), null, null, CancellationToken.None);

        Assert.Equal(BlobPushOutcome.Existed, second.LayerOutcome);
        Assert.Equal(first.ManifestDigest, second.ManifestDigest);
    }

    [Fact]
    public async Task LargeModelsUploadInChunksAndPullVerified()
    {
        var path = await TestArtifacts.RandomFileAsync((3 << 20) + 12345, seed: 3);
        var models = _clients.Models();
        var reported = new List<long>();

        var pushed = await models.PushAsync(path, TestArtifacts.Config(), Ref("models/big:1"), null, new SynchronousProgress(reported.Add), CancellationToken.None);
        var resolved = await models.ResolveAsync(Ref("models/big:1"), CancellationToken.None);
        var output = TestArtifacts.TempPath();
        await models.PullAsync(resolved, output, null, CancellationToken.None);

        Assert.Equal(BlobPushOutcome.UploadedChunked, pushed.LayerOutcome);
        Assert.Equal((3 << 20) + 12345, reported[^1]);
        Assert.Equal(await Sha256Digest.OfFileAsync(path, CancellationToken.None), await Sha256Digest.OfFileAsync(output, CancellationToken.None));
    }

    [Fact]
    public async Task ABlobInAnotherRepositoryIsMountedNotUploaded()
    {
        var model = await GruTestModels.WriteAsync();
        var models = _clients.Models();
        await models.PushAsync(model.Path, TestArtifacts.Config(), Ref("team-a/recs:1"), null, null, CancellationToken.None);

        var mounted = await models.PushAsync(model.Path, TestArtifacts.Config(), Ref("team-b/recs:1"), "team-a/recs", null, CancellationToken.None);
        var resolved = await models.ResolveAsync(Ref("team-b/recs:1"), CancellationToken.None);
        var output = TestArtifacts.TempPath();
        await models.PullAsync(resolved, output, null, CancellationToken.None);

        Assert.Equal(BlobPushOutcome.Mounted, mounted.LayerOutcome);
        Assert.Equal(await File.ReadAllBytesAsync(model.Path), await File.ReadAllBytesAsync(output));
    }

    [Fact]
    public async Task AMovedTagResolvesToTheNewModelWhileThePinnedDigestStillGivesTheOld()
    {
        var v1 = await GruTestModels.WriteAsync(GruTestModels.Small);
        var v2 = await GruTestModels.WriteAsync(GruTestModels.Small with { Seed = 99 });
        var models = _clients.Models();
        var first = await models.PushAsync(v1.Path, TestArtifacts.Config(), Ref("models/recs:stable"), null, null, CancellationToken.None);

        var second = await models.PushAsync(v2.Path, TestArtifacts.Config(), Ref("models/recs:stable"), null, null, CancellationToken.None);
        var tagNow = await _clients.Distribution().HeadManifestAsync(Ref("models/recs:stable"), CancellationToken.None);
        var pinned = await models.ResolveAsync(first.Reference, CancellationToken.None);

        Assert.NotEqual(first.ManifestDigest, second.ManifestDigest);
        Assert.Equal(second.ManifestDigest, tagNow);
        Assert.Equal(first.ManifestDigest, pinned.ManifestDigest);
        Assert.Equal($"sha256:{v1.Sha256}", pinned.LayerDigest.ToString());
    }

    [Fact]
    public async Task ABlobCorruptedInTheRegistrysStorageIsRefusedAndLeavesNoFile()
    {
        var model = await GruTestModels.WriteAsync();
        var models = _clients.Models();
        var pushed = await models.PushAsync(model.Path, TestArtifacts.Config(), Ref("models/recs:1.0"), null, null, CancellationToken.None);
        var resolved = await models.ResolveAsync(Ref("models/recs:1.0"), CancellationToken.None);
        var stored = _registry.BlobDataPath(pushed.LayerDigest.ToString());
        var bytes = await File.ReadAllBytesAsync(stored);
        bytes[bytes.Length / 2] ^= 0xFF; // same size, one byte flipped: only the hash can tell
        await File.WriteAllBytesAsync(stored, bytes);
        var output = TestArtifacts.TempPath();

        var error = await Assert.ThrowsAsync<RegistryException>(() => models.PullAsync(resolved, output, null, CancellationToken.None));

        Assert.Equal(RegistryErrorKind.DigestMismatch, error.Kind);
        Assert.Contains($"blob {pushed.LayerDigest} arrived with sha256 sha256:", error.Message, StringComparison.Ordinal);
        Assert.Contains($"oci://{_registry.Host}/models/recs:1.0@{pushed.ManifestDigest}", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
        Assert.False(File.Exists(output + ".partial"));
    }

    [Fact]
    public async Task AManifestCorruptedInStorageIsRefusedWhenPulledByDigest()
    {
        var model = await GruTestModels.WriteAsync();
        var pushed = await _clients.Models().PushAsync(model.Path, TestArtifacts.Config(), Ref("models/recs:1.0"), null, null, CancellationToken.None);
        var stored = _registry.BlobDataPath(pushed.ManifestDigest.ToString());
        var text = await File.ReadAllTextAsync(stored);
        await File.WriteAllTextAsync(stored, text.Replace("\"size\":", "\"size\": ", StringComparison.Ordinal));

        var error = await Assert.ThrowsAsync<RegistryException>(() => _clients.Models().ResolveAsync(pushed.Reference, CancellationToken.None));

        Assert.Equal(RegistryErrorKind.DigestMismatch, error.Kind);
        Assert.Contains($"not the pinned {pushed.ManifestDigest}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnknownDigestOrTagIsNotFoundNamingTheReference()
    {
        var model = await GruTestModels.WriteAsync();
        await _clients.Models().PushAsync(model.Path, TestArtifacts.Config(), Ref("models/recs:1.0"), null, null, CancellationToken.None);
        var wrong = Ref("models/recs:1.0").WithDigest(Sha256Digest.Of(Encoding.UTF8.GetBytes("another model")));

        var byDigest = await Assert.ThrowsAsync<RegistryException>(() => _clients.Models().ResolveAsync(wrong, CancellationToken.None));
        var byTag = await Assert.ThrowsAsync<RegistryException>(() => _clients.Models().ResolveAsync(Ref("models/recs:9.9"), CancellationToken.None));
        var byRepository = await Assert.ThrowsAsync<RegistryException>(() => _clients.Models().ResolveAsync(Ref("models/none:1.0"), CancellationToken.None));

        Assert.Equal(RegistryErrorKind.NotFound, byDigest.Kind);
        Assert.Contains($"{wrong}: manifest not found (404", byDigest.Message, StringComparison.Ordinal);
        Assert.Contains("MANIFEST_UNKNOWN", byTag.Message, StringComparison.Ordinal);
        Assert.Contains($"oci://{_registry.Host}/models/recs:9.9", byTag.Message, StringComparison.Ordinal);
        Assert.Equal(RegistryErrorKind.NotFound, byRepository.Kind);
    }

    [Fact]
    public async Task AContainerImageIsNotAModel()
    {
        // A plain OCI image: image config and a gzip layer, no artifactType.
        var distribution = _clients.Distribution();
        var reference = Ref("images/app:1");
        byte[] config = Encoding.UTF8.GetBytes("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");
        byte[] layer = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        foreach (var blob in new[] { config, layer })
        {
            await distribution.PushBlobAsync(reference, Sha256Digest.Of(blob), blob.Length, () => new MemoryStream(blob), null, null, CancellationToken.None);
        }

        var manifest = new OciManifest(2, OciMediaTypes.ImageManifest,
            new OciDescriptor("application/vnd.oci.image.config.v1+json", Sha256Digest.Of(config).ToString(), config.Length),
            [new OciDescriptor("application/vnd.oci.image.layer.v1.tar+gzip", Sha256Digest.Of(layer).ToString(), layer.Length)]);
        await distribution.PutManifestAsync(reference, OciMediaTypes.ImageManifest, manifest.ToBytes(), CancellationToken.None);

        var error = await Assert.ThrowsAsync<RegistryException>(() => _clients.Models().ResolveAsync(reference, CancellationToken.None));

        Assert.Equal(RegistryErrorKind.NotAModel, error.Kind);
        Assert.StartsWith($"{reference} is not a GRU model: its artifactType is (none) and its config is application/vnd.oci.image.config.v1+json", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARegistryKilledMidPullIsAClearErrorAndLeavesNoFile()
    {
        var path = await TestArtifacts.RandomFileAsync(96 << 20, seed: 5);
        var models = _clients.Models();
        await models.PushAsync(path, TestArtifacts.Config(), Ref("models/big:1"), null, null, CancellationToken.None);
        var resolved = await models.ResolveAsync(Ref("models/big:1"), CancellationToken.None);
        var output = TestArtifacts.TempPath();
        long seen = 0;

        var error = await Assert.ThrowsAsync<RegistryException>(() => models.PullAsync(resolved, output, new SynchronousProgress(bytes =>
        {
            if (Interlocked.Exchange(ref seen, bytes) == 0)
            {
                _registry.Kill(); // the first bytes arrived: the registry crashes mid-transfer
            }
        }), CancellationToken.None));

        Assert.Equal(RegistryErrorKind.Unreachable, error.Kind);
        Assert.Contains($"oci://{_registry.Host}/models/big:1@{resolved.ManifestDigest}", error.Message, StringComparison.Ordinal);
        Assert.True(seen < 96 << 20, $"the whole blob arrived ({seen} bytes) before the kill took effect");
        Assert.False(File.Exists(output));
        Assert.False(File.Exists(output + ".partial"));
    }

    [Fact]
    public async Task APullInterruptedByARegistryRestartResumesWhereItStopped()
    {
        var path = await TestArtifacts.RandomFileAsync(96 << 20, seed: 6);
        using var clients = new RegistryClients(_registry.Host, o => { o.RetryBaseDelay = TimeSpan.FromMilliseconds(400); o.MaxRetries = 5; });
        var models = clients.Models();
        await models.PushAsync(path, TestArtifacts.Config(), Ref("models/big:1"), null, null, CancellationToken.None);
        var resolved = await models.ResolveAsync(Ref("models/big:1"), CancellationToken.None);
        var output = TestArtifacts.TempPath();
        Task? restart = null;
        var reported = new List<long>();

        await models.PullAsync(resolved, output, new SynchronousProgress(bytes =>
        {
            reported.Add(bytes);
            if (restart is null)
            {
                _registry.Kill();
                restart = _registry.RestartAsync(CancellationToken.None);
            }
        }), CancellationToken.None);
        await restart!;

        // Resumed with a Range request: progress never went back to the start.
        Assert.Equal(reported.Order(), reported);

        Assert.Equal(await Sha256Digest.OfFileAsync(path, CancellationToken.None), await Sha256Digest.OfFileAsync(output, CancellationToken.None));
    }

    [Fact]
    public async Task ARegistryThatIsDownIsUnreachableNamingTheReference()
    {
        await _registry.DisposeAsync();
        _registry = await RegistryProcess.StartAnonymousAsync(CancellationToken.None); // for DisposeAsync; the reference points elsewhere
        var down = OciReference.Parse($"oci://127.0.0.1:{FreePort.Next()}/models/recs:1.0");
        using var clients = new RegistryClients(down.Registry);

        var error = await Assert.ThrowsAsync<RegistryException>(() => clients.Models().ResolveAsync(down, CancellationToken.None));

        Assert.Equal(RegistryErrorKind.Unreachable, error.Kind);
        Assert.StartsWith($"{down}: the registry {down.Registry} is unreachable", error.Message, StringComparison.Ordinal);
    }
}

/// <summary>Reports on the caller's thread (Progress&lt;T&gt; posts to the thread pool, too late for a test to react).</summary>
internal sealed class SynchronousProgress(Action<long> report) : IProgress<long>
{
    public void Report(long value) => report(value);
}
