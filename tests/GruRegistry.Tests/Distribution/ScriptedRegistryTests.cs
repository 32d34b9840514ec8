using System.Net;
using GruRegistry.Distribution;
using GruRegistry.Models;
using GruRegistry.References;
using GruRegistry.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using TestSupport;

namespace GruRegistry.Tests.Distribution;

/// <summary>
/// Answers the real registry cannot be made to give (5xx, 429, 403, silence), from a scripted Kestrel server:
/// transient failures are retried by the resilience pipeline, lasting ones become clear errors naming the reference.
/// </summary>
public sealed class ScriptedRegistryTests : IAsyncLifetime
{
    private static readonly byte[] Layer = "not really onnx"u8.ToArray();
    private static readonly byte[] Config = TestArtifacts.Config().ToBytes();
    private static readonly byte[] Manifest = ModelManifest.Build(
        new OciDescriptor(ModelMediaTypes.Config, Sha256Digest.Of(Config).ToString(), Config.Length),
        new OciDescriptor(ModelMediaTypes.Onnx, Sha256Digest.Of(Layer).ToString(), Layer.Length)).ToBytes();

    private WebApplication _app = null!;
    private int _port;
    private int _requests;

    /// <summary>Given the request number (from 1), answers with a status, or null for the real content.</summary>
    private Func<int, HttpContext, Task<int?>> _script = (_, _) => Task.FromResult<int?>(null);

    public async Task InitializeAsync()
    {
        _port = FreePort.Next();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, _port));
        _app = builder.Build();
        _app.Run(async context =>
        {
            var n = Interlocked.Increment(ref _requests);
            if (await _script(n, context) is { } status)
            {
                context.Response.StatusCode = status;
                await context.Response.WriteAsync("{\"errors\":[{\"code\":\"TOOMANYREQUESTS\",\"message\":\"scripted\"}]}");
                return;
            }

            var path = context.Request.Path.Value!;
            var (body, type) = path.Contains("/manifests/", StringComparison.Ordinal) ? (Manifest, OciMediaTypes.ImageManifest)
                : path.EndsWith(Sha256Digest.Of(Config).ToString(), StringComparison.Ordinal) ? (Config, "application/octet-stream")
                : (Layer, "application/octet-stream");
            context.Response.ContentType = type;
            context.Response.ContentLength = body.Length;
            await context.Response.Body.WriteAsync(body);
        });
        await _app.StartAsync();
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    private OciReference Ref => OciReference.Parse($"oci://127.0.0.1:{_port}/models/recs:1.0");

    private RegistryClients Clients(Action<RegistryOptions>? configure = null) => new($"127.0.0.1:{_port}", configure);

    [Theory]
    [InlineData(503)]
    [InlineData(429)]
    [InlineData(500)]
    public async Task TransientAnswersAreRetried(int status)
    {
        _script = (n, _) => Task.FromResult<int?>(n <= 2 ? status : null);
        using var clients = Clients();

        var resolved = await clients.Models().ResolveAsync(Ref, CancellationToken.None);

        Assert.Equal(Sha256Digest.Of(Manifest), resolved.ManifestDigest);
        Assert.Equal(4, _requests); // two failures, the manifest, the config
    }

    [Fact]
    public async Task LastingServerErrorsAreAClearErrorAfterTheRetries()
    {
        _script = (_, _) => Task.FromResult<int?>(503);
        using var clients = Clients(o => o.MaxRetries = 2);

        var error = await Assert.ThrowsAsync<RegistryException>(() => clients.Models().ResolveAsync(Ref, CancellationToken.None));

        Assert.Equal(RegistryErrorKind.ServerError, error.Kind);
        Assert.True(error.IsTransient);
        // The standard name of the status and the OCI error code only: the registry's own message ("scripted") stays out.
        Assert.StartsWith($"{Ref}: manifest: the registry answered 503 ServiceUnavailable TOOMANYREQUESTS (after 2 retries", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, _requests);
    }

    [Fact]
    public async Task ForbiddenIsNotRetriedAndSaysWhichRepository()
    {
        _script = (_, _) => Task.FromResult<int?>(403);
        using var clients = Clients();

        var error = await Assert.ThrowsAsync<RegistryException>(() => clients.Models().ResolveAsync(Ref, CancellationToken.None));

        Assert.Equal(RegistryErrorKind.Forbidden, error.Kind);
        Assert.Contains("the credentials lack permission on models/recs", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, _requests);
    }

    [Fact]
    public async Task ASilentRegistryTimesOutNamingTheReference()
    {
        _script = async (_, context) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(30), context.RequestAborted).ContinueWith(_ => { });
            return 200;
        };
        using var clients = Clients(o =>
        {
            o.AttemptTimeout = TimeSpan.FromMilliseconds(300);
            o.TotalTimeout = TimeSpan.FromSeconds(2);
            o.MaxRetries = 1;
        });

        var error = await Assert.ThrowsAsync<RegistryException>(() => clients.Models().ResolveAsync(Ref, CancellationToken.None));

        Assert.Equal(RegistryErrorKind.Timeout, error.Kind);
        Assert.StartsWith($"{Ref}: the registry did not answer GET /v2/models/recs/manifests/1.0", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, _requests);
    }

    [Fact]
    public async Task ADownloadThatStallsMidBodyTimesOutAndLeavesNoFile()
    {
        using var clients = Clients(o => { o.AttemptTimeout = TimeSpan.FromMilliseconds(300); o.MaxRetries = 0; });
        var resolved = await clients.Models().ResolveAsync(Ref, CancellationToken.None);
        _script = async (_, context) =>
        {
            context.Response.ContentLength = Layer.Length;
            await context.Response.Body.WriteAsync(Layer.AsMemory(0, 4));
            await context.Response.Body.FlushAsync();
            await Task.Delay(TimeSpan.FromSeconds(30), context.RequestAborted).ContinueWith(_ => { });
            return null;
        };
        var output = TestArtifacts.TempPath();

        var error = await Assert.ThrowsAsync<RegistryException>(() => clients.Models().PullAsync(resolved, output, null, CancellationToken.None));

        Assert.Equal(RegistryErrorKind.Timeout, error.Kind);
        Assert.Contains($"the download of blob {resolved.LayerDigest} stalled for 0.3s after 4 bytes", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(output + ".partial"));
    }
}
