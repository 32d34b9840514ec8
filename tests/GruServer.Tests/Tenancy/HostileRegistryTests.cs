using Microsoft.AspNetCore.Http;
using TestSupport;
using Xunit.Abstractions;

namespace GruServer.Tests.Tenancy;

/// <summary>
/// Hostile-tenant suite, GruServer's registry route: a GruModel author names the registry of spec.model.source, so the
/// pod's GruServer pulls from a server they control (a capture server on 127.0.0.1 here). It must get no password meant
/// for another registry, and no answer of theirs may take the server's memory (peak RSS measured and reported).
/// </summary>
public sealed class HostileRegistryTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const long HugeBytes = 400L << 20;
    private readonly string _cache = Path.Combine(Path.GetTempPath(), "gru-hostile-tests", Guid.NewGuid().ToString("N"));
    private static readonly string Digest = "sha256:" + new string('a', 64);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        if (Directory.Exists(_cache)) Directory.Delete(_cache, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task APasswordForOneRegistryIsNeverSentToTheRegistryTheModelNames()
    {
        // The registry asks for Basic credentials, as one collecting them would.
        await using var capture = await CaptureServer.StartAsync(context =>
        {
            context.Response.StatusCode = 401;
            context.Response.Headers.WWWAuthenticate = "Basic realm=\"capture\"";
            return Task.CompletedTask;
        });

        var run = await GruServerProcess.RunToExitAsync(
            [.. Arguments(capture), "--registry-username", "puller", "--registry-host", "registry.internal:5000"],
            new Dictionary<string, string> { ["GRU_REGISTRY_PASSWORD"] = "s3cret-for-registry-internal" });

        Assert.Empty(capture.Credentials);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains($"is for registry registry.internal:5000 (--registry-host (GRU_REGISTRY_HOST)), not {capture.Host}", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UsernameAndPasswordWithoutTheirRegistryAreRefusedBeforeAnyRequest()
    {
        await using var capture = await CaptureServer.StartAsync(context =>
        {
            context.Response.StatusCode = 401;
            context.Response.Headers.WWWAuthenticate = "Basic realm=\"capture\"";
            return Task.CompletedTask;
        });

        var run = await GruServerProcess.RunToExitAsync([.. Arguments(capture), "--registry-username", "puller"],
            new Dictionary<string, string> { ["GRU_REGISTRY_PASSWORD"] = "s3cret" });

        Assert.Empty(capture.Requests);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--registry-host (GRU_REGISTRY_HOST) must name the registry", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ACredentialIsNeverSentToAPlainHttpTokenRealm()
    {
        // The registry is reached over http (the admin listed it), but its token realm is another plain-http address.
        await using var realm = await CaptureServer.StartAsync(context => context.Response.WriteAsync("{\"token\":\"t\"}"));
        await using var capture = await CaptureServer.StartAsync(context =>
        {
            context.Response.StatusCode = 401;
            context.Response.Headers.WWWAuthenticate = $"Bearer realm=\"http://{realm.Host}/token\",service=\"capture\"";
            return Task.CompletedTask;
        });

        var run = await GruServerProcess.RunToExitAsync(
            [.. Arguments(capture), "--registry-username", "puller", "--registry-host", capture.Host],
            new Dictionary<string, string> { ["GRU_REGISTRY_PASSWORD"] = "s3cret" });

        Assert.Empty(realm.Credentials);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("refusing to send the credentials of 'puller' to the token service", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AHugeTokenAnswerIsRefusedWithoutTakingTheServersMemory()
    {
        await using var realm = await CaptureServer.StartAsync(async context =>
        {
            await CaptureServer.WriteHugeBodyAsync(context, HugeBytes);
            await Task.Delay(TimeSpan.FromSeconds(60), context.RequestAborted).ContinueWith(_ => { }); // then never finish
        });
        await using var capture = await CaptureServer.StartAsync(context =>
        {
            context.Response.StatusCode = 401;
            context.Response.Headers.WWWAuthenticate = $"Bearer realm=\"http://{realm.Host}/token\",service=\"capture\"";
            return Task.CompletedTask;
        });

        var (peak, log) = await PeakWhileFetchingAsync(capture, realm.Host);

        output.WriteLine($"GruServer peak RSS with a {HugeBytes >> 20} MiB token answer: {peak:0} MiB");
        Assert.True(peak < 300, $"GruServer's peak RSS was {peak:0} MiB while a hostile token service answered {HugeBytes >> 20} MiB");
        Assert.Contains("answered more than 1048576 bytes; refusing it", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AHugeErrorBodyIsNotReadWholeNorQuoted()
    {
        await using var capture = await CaptureServer.StartAsync(async context =>
        {
            context.Response.StatusCode = 404;
            await context.Response.WriteAsync("{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"stolen: the-operator-token\"}]}   ");
            await CaptureServer.WriteHugeBodyAsync(context, HugeBytes);
            await Task.Delay(TimeSpan.FromSeconds(60), context.RequestAborted).ContinueWith(_ => { });
        });

        var (peak, log) = await PeakWhileFetchingAsync(capture);

        output.WriteLine($"GruServer peak RSS with a {HugeBytes >> 20} MiB error body: {peak:0} MiB");
        Assert.True(peak < 300, $"GruServer's peak RSS was {peak:0} MiB while a hostile registry answered {HugeBytes >> 20} MiB");
        Assert.True(log.Contains("not found (404 NotFound)", StringComparison.Ordinal), log);
        Assert.DoesNotContain("stolen", log, StringComparison.Ordinal);
    }

    private string[] Arguments(CaptureServer registry, params string[] plainHttp) =>
    [
        "--model", $"oci://{registry.Host}/models/recs@{Digest}", "--model-cache-dir", _cache,
        "--registry-plain-http", string.Join(',', [registry.Host, .. plainHttp]),
        "--host", "127.0.0.1", "--port", Port(), "--metrics-port", Port(),
    ];

    private static string Port() => FreePort.Next().ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Runs GruServer on the hostile registry until it exits (or 30 s pass), sampling its peak RSS all along.</summary>
    private async Task<(double PeakMiB, string Output)> PeakWhileFetchingAsync(CaptureServer registry, params string[] plainHttp)
    {
        var peak = 0.0;
        Task sampling = Task.CompletedTask;
        var run = GruServerProcess.RunToExitAsync(Arguments(registry, plainHttp), timeout: TimeSpan.FromSeconds(30), started: pid => sampling = Task.Run(async () =>
        {
            while (true)
            {
                try
                {
                    peak = Math.Max(peak, PeakMemory.MiB(pid));
                }
                catch (Exception e) when (e is IOException or InvalidOperationException)
                {
                    return; // exited (a zombie has no memory lines)
                }

                await Task.Delay(50);
            }
        }));
        try
        {
            var (_, log) = await run;
            await sampling;
            return (peak, log);
        }
        catch (TimeoutException e)
        {
            await sampling;
            return (peak, e.Message);
        }
    }
}
