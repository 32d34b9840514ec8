using System.Net;
using System.Text;
using System.Text.Json;
using GruServer.Tests.Support;
using TestSupport;

namespace GruServer.Tests.Registry;

/// <summary>GruServer started on <c>--model oci://...@sha256:...</c> against the real Distribution registry: pull by
/// digest, digest-addressed cache reused without the registry, corrupted cache refetched, registry down at start.</summary>
public sealed class OciModelTests : IAsyncLifetime
{
    private RegistryProcess _registry = null!;
    private readonly string _cache = Path.Combine(Path.GetTempPath(), "gru-oci-tests", Guid.NewGuid().ToString("N"));

    public async Task InitializeAsync() => _registry = await RegistryProcess.StartAnonymousAsync(CancellationToken.None);

    public async Task DisposeAsync()
    {
        await _registry.DisposeAsync();
        if (Directory.Exists(_cache))
        {
            Directory.Delete(_cache, recursive: true);
        }
    }

    /// <summary>Pushes a fresh model with the real gru-model command; returns it and its digest-pinned reference.</summary>
    private async Task<(GruModelFile Model, string Reference)> PushAsync(string repository)
    {
        var model = await GruTestModels.WriteAsync();
        var push = await GruModelCommand.RunAsync(["push", model.Path, $"oci://{_registry.Host}/{repository}:1.0", "--plain-http"]);
        Assert.True(push.ExitCode == 0, push.Stderr);
        var pinned = push.Stdout.Trim().Split('\n')[^1];
        Assert.Contains("@sha256:", pinned, StringComparison.Ordinal);
        return (model, pinned.Replace(":1.0@", "@", StringComparison.Ordinal));
    }

    private GruServerStartOptions Server(string reference, bool waitForReady = true, params string[] extra) => new()
    {
        ModelPath = reference,
        ModelName = "recs",
        WaitForReady = waitForReady,
        ExtraArguments = ["--model-cache-dir", _cache, "--registry-plain-http", _registry.Host, .. extra],
    };

    private static async Task<string> MetadataDigestAsync(HttpClient http) =>
        JsonDocument.Parse(await http.GetStringAsync("v2/models/recs")).RootElement.GetProperty("parameters").GetProperty("digest").GetString()!;

    [Fact]
    public async Task PullsByDigestServesItAndRestartsFromTheCacheWithoutTheRegistry()
    {
        var (model, reference) = await PushAsync("models/recs");

        string firstOutput;
        await using (var first = await GruServerProcess.StartAsync(Server(reference)))
        {
            using var http = new HttpClient { BaseAddress = first.BaseUrl };
            using var content = new StringContent(GruTestModels.InferRequestJson(model.Spec), Encoding.UTF8, "application/json");
            using var infer = await http.PostAsync("v2/models/recs/infer", content);

            Assert.Equal(HttpStatusCode.OK, infer.StatusCode);
            Assert.Equal("sha256:" + model.Sha256, await MetadataDigestAsync(http));
            firstOutput = first.Output;
        }

        // The registry is gone: only a verified cache can make the second start ready, so it did not GET the blob.
        _registry.Kill();
        await using var second = await GruServerProcess.StartAsync(Server(reference));
        using var secondHttp = new HttpClient { BaseAddress = second.BaseUrl };

        Assert.Contains($"pulled layer sha256:{model.Sha256}", firstOutput, StringComparison.Ordinal);
        Assert.Contains("re-verified; not downloading", second.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("pulled layer", second.Output, StringComparison.Ordinal);
        Assert.Equal("sha256:" + model.Sha256, await MetadataDigestAsync(secondHttp));
        Assert.Equal(0, (await MetricsScrape.FetchAsync(secondHttp, second.MetricsUrl)).Value("gru_model_fetch_failures_total", ("model", "recs")));
    }

    [Fact]
    public async Task CorruptedCachedModelIsDownloadedAgainNotServed()
    {
        var (model, reference) = await PushAsync("models/recs");
        await using (await GruServerProcess.StartAsync(Server(reference)))
        {
        }

        var cached = Path.Combine(_cache, "blobs", "sha256", model.Sha256);
        var bytes = await File.ReadAllBytesAsync(cached);
        bytes[^1] ^= 0xFF;
        await File.WriteAllBytesAsync(cached, bytes);

        await using var server = await GruServerProcess.StartAsync(Server(reference));
        using var http = new HttpClient { BaseAddress = server.BaseUrl };

        Assert.Contains("removing it and downloading again", server.Output, StringComparison.Ordinal);
        Assert.Contains($"pulled layer sha256:{model.Sha256}", server.Output, StringComparison.Ordinal);
        Assert.Equal("sha256:" + model.Sha256, await MetadataDigestAsync(http));
        Assert.Equal(await File.ReadAllBytesAsync(model.Path), await File.ReadAllBytesAsync(cached));
    }

    [Fact]
    public async Task RegistryDownAtStartStaysNotReadySaysWhyAndBecomesReadyWhenItReturns()
    {
        var (model, reference) = await PushAsync("models/recs");
        _registry.Kill();

        await using var server = await GruServerProcess.StartAsync(Server(reference, waitForReady: false));
        using var http = new HttpClient { BaseAddress = server.BaseUrl };
        await Eventually.TrueAsync(() => Task.FromResult(server.Output.Contains("Cannot fetch model", StringComparison.Ordinal)), "the fetch failure log line");
        using var ready = await http.GetAsync("v2/health/ready");
        var modelReady = await (await http.GetAsync("v2/models/recs/ready")).Content.ReadAsStringAsync();
        var failures = (await MetricsScrape.FetchAsync(http, server.MetricsUrl)).Value("gru_model_fetch_failures_total", ("model", "recs"));

        Assert.NotEqual(HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains("cannot fetch the model from the registry", modelReady, StringComparison.Ordinal);
        Assert.Contains(_registry.Host, modelReady, StringComparison.Ordinal);
        Assert.True(failures >= 1, $"gru_model_fetch_failures_total is {failures}");

        await _registry.RestartAsync(CancellationToken.None);
        await Eventually.TrueAsync(async () => (await http.GetAsync("v2/health/ready")).StatusCode == HttpStatusCode.OK,
            "ready once the registry is back", TimeSpan.FromSeconds(60));
        Assert.Equal("sha256:" + model.Sha256, await MetadataDigestAsync(http));
    }

    [Fact]
    public async Task TagIsRefusedWithTheFixAndAnUnknownDigestStopsTheServer()
    {
        await PushAsync("models/recs");

        var tag = await GruServerProcess.RunToExitAsync(["--model", $"oci://{_registry.Host}/models/recs:1.0", "--model-cache-dir", _cache]);
        var unknown = await GruServerProcess.RunToExitAsync(["--model", $"oci://{_registry.Host}/models/recs@sha256:{new string('e', 64)}",
            "--model-cache-dir", _cache, "--registry-plain-http", _registry.Host, "--port", FreePort.Next().ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--metrics-port", FreePort.Next().ToString(System.Globalization.CultureInfo.InvariantCulture), "--grpc-port", FreePort.Next().ToString(System.Globalization.CultureInfo.InvariantCulture), "--host", "127.0.0.1"]);

        Assert.Equal(2, tag.ExitCode);
        Assert.Contains("names a tag; pin the manifest digest", tag.Output, StringComparison.Ordinal);
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains($"sha256:{new string('e', 64)}", unknown.Output, StringComparison.Ordinal);
        Assert.Contains("Cannot serve model", unknown.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PinnedSha256MustBeTheLayerDigest()
    {
        var (model, reference) = await PushAsync("models/recs");
        var wrong = new string('b', 64);

        await using var server = await GruServerProcess.StartAsync(Server(reference, waitForReady: false, "--model-sha256", wrong));
        using var http = new HttpClient { BaseAddress = server.BaseUrl };
        await Eventually.TrueAsync(() => Task.FromResult(server.Output.Contains("Model digest mismatch", StringComparison.Ordinal)), "the mismatch log line");

        Assert.Contains($"has sha256:{model.Sha256} but --model-sha256 pins sha256:{wrong}",
            await (await http.GetAsync("v2/models/recs/ready")).Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
