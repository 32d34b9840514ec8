using k8s;
using Kube.Local;
using TestSupport;

namespace GruOperator.Tests.Hosting;

/// <summary>The built gru-operator run as a user runs it: exit codes and what it prints.</summary>
public sealed class OperatorProcessTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gru-operator-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task HelpListsEveryFlagWithItsVariableAndExitsZero()
    {
        var run = await RunAsync("--help");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("--workers <n>", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("GRU_OPERATOR_WORKERS", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("manifests", run.Stdout, StringComparison.Ordinal);
        Assert.Equal("", run.Stderr);
    }

    [Fact]
    public async Task MisspelledFlagIsRefusedInOneLineWithExitTwo()
    {
        var run = await RunAsync("--wrokers", "8");
        Assert.Equal(2, run.ExitCode);
        var line = Assert.Single(Lines(run.Stderr));
        Assert.Contains("unknown flag '--wrokers' (did you mean --workers?)", line, StringComparison.Ordinal);
        Assert.Equal("", run.Stdout);
    }

    [Fact]
    public async Task BadValueNamesTheFlagAndVariable()
    {
        var run = await RunAsync("--workers", "0");
        Assert.Equal(2, run.ExitCode);
        var line = Assert.Single(Lines(run.Stderr));
        Assert.Contains("--workers (GRU_OPERATOR_WORKERS): '0'", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingKubeconfigIsOneLineWithoutStackTrace()
    {
        var missing = Path.Combine(_dir, "no-such-kubeconfig");
        var run = await RunAsync("--kubeconfig", missing, "--health-port", "0", "--metrics-port", "0");
        Assert.Equal(2, run.ExitCode);
        var line = Assert.Single(Lines(run.Stderr));
        Assert.Contains($"cannot load the kubeconfig {missing}", line, StringComparison.Ordinal);
        Assert.Contains("--kubeconfig", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Stdout + run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartingAnOperatorThatExitsFailsAtOnceWithItsOwnError()
    {
        // What a test or bench sees when the operator it starts cannot run: the exit code and the operator's line, not a
        // TimeoutException after waiting for a /healthz that never comes.
        var missing = Path.Combine(_dir, "no-such-kubeconfig");
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            OperatorProcess.StartAsync(new OperatorProcessOptions { Kubeconfig = missing }, TimeSpan.FromSeconds(80), CancellationToken.None));
        Assert.Contains("exited with code 2", error.Message, StringComparison.Ordinal);
        Assert.Contains($"cannot load the kubeconfig {missing}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnreachableApiServerIsOneLineWithExitOne()
    {
        var port = FreePort.Next();
        var kubeconfig = Path.Combine(_dir, "kubeconfig");
        await File.WriteAllTextAsync(kubeconfig, $$$"""
            apiVersion: v1
            kind: Config
            clusters: [{name: c, cluster: {server: "https://127.0.0.1:{{{port}}}", insecure-skip-tls-verify: true}}]
            users: [{name: u, user: {token: t}}]
            contexts: [{name: x, context: {cluster: c, user: u}}]
            current-context: x
            """);
        var run = await RunAsync("--kubeconfig", kubeconfig, "--health-port", "0", "--metrics-port", "0", "--leader-elect", "false");
        Assert.Equal(1, run.ExitCode);
        var line = Assert.Single(Lines(run.Stderr));
        Assert.Contains($"cannot reach the Kubernetes API server at https://127.0.0.1:{port}", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Stdout + run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ApiServerWithoutTheCrdIsOneLineNamingTheFix()
    {
        await using var cluster = await LocalCluster.StartAsync(new LocalClusterOptions());
        var kubeconfig = cluster.WriteKubeconfig(Path.Combine(_dir, "kubeconfig"));
        var run = await RunAsync("--kubeconfig", kubeconfig, "--health-port", "0", "--metrics-port", "0", "--leader-elect", "false");
        Assert.Equal(1, run.ExitCode);
        var line = Assert.Single(Lines(run.Stderr));
        Assert.Contains("does not serve grumodels.serving.gru.dev/v1alpha1: install the CRD with kubectl apply -f config/crds", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunsAgainstAClusterWithTheCrdAndExitsZeroOnSigterm()
    {
        await using var cluster = await LocalCluster.StartAsync(new LocalClusterOptions());
        using (var client = new Kubernetes(cluster.ClientConfiguration))
        {
            await client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(GruOperator.Api.Schema.CrdGenerator.Build());
        }
        var kubeconfig = cluster.WriteKubeconfig(Path.Combine(_dir, "kubeconfig"));
        var health = FreePort.Next();
        var healthy = false;
        var run = await RunAsync(
            ["--kubeconfig", kubeconfig, "--health-port", health.ToString(System.Globalization.CultureInfo.InvariantCulture), "--metrics-port", "0",
             "--bind-address", "127.0.0.1", "--leader-elect", "false"],
            async process =>
            {
                using var http = new HttpClient();
                // Healthy is not enough: /healthz answers before the caches sync, and a SIGTERM then stops the operator
                // before its controller starts (seen at load average 40). Wait for the controller too.
                while (!process.HasExited && !(healthy && process.StandardOutput.Contains("Controller grumodel starting", StringComparison.Ordinal)))
                {
                    try
                    {
                        healthy = healthy || (await http.GetAsync($"http://127.0.0.1:{health}/healthz")).IsSuccessStatusCode;
                        if (healthy) await Task.Delay(100);
                    }
                    catch (HttpRequestException)
                    {
                        await Task.Delay(100);
                    }
                }
                // As the kubelet stops a pod.
                if (!process.HasExited) process.SendSigTerm();
            });

        Assert.True(healthy, run.Stdout + run.Stderr);
        Assert.Equal(0, run.ExitCode);
        Assert.True(run.Stdout.Contains("Controller grumodel starting", StringComparison.Ordinal), run.Stdout + run.Stderr);
    }

    [Fact]
    public async Task ManifestsSubcommandWritesTheCrd()
    {
        var run = await RunAsync("manifests", "--output", _dir);
        Assert.Equal(0, run.ExitCode);
        Assert.True(File.Exists(Path.Combine(_dir, "serving.gru.dev_grumodels.yaml")), run.Stdout + run.Stderr);
    }

    private static IEnumerable<string> Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args) => RunAsync(args, null);

    /// <summary>
    /// Runs the operator with exactly <paramref name="args"/>; <paramref name="whileRunning"/> (e.g. probe, then SIGTERM) runs
    /// alongside it. The runner's own GRU_OPERATOR_* and KUBECONFIG do not reach it (OperatorProcess leaves them out).
    /// </summary>
    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string[] args, Func<OperatorProcess, Task>? whileRunning)
    {
        await using var process = OperatorProcess.Start(OperatorProcessOptions.CommandLine(args));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            if (whileRunning is not null) await whileRunning(process).WaitAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw new TimeoutException($"gru-operator {string.Join(' ', args)} did not exit within 90s: {process.Output}");
        }
        return (process.ExitCode, process.StandardOutput, process.StandardError);
    }
}
