using TestSupport;
using Kube.Local;

namespace Ecosystem.Tests.Cluster;

/// <summary>
/// A LocalCluster (deployment controller on, new pods marked Ready: there is no kubelet) with a kubeconfig, and kubectl
/// run against it with its own HOME so discovery caches never leak between tests.
/// </summary>
internal sealed class LocalClusterWithKubectl : IAsyncDisposable
{
    private readonly string _directory;

    private LocalClusterWithKubectl(LocalCluster cluster, string directory, string kubeconfig)
    {
        Cluster = cluster;
        _directory = directory;
        Kubeconfig = kubeconfig;
    }

    public LocalCluster Cluster { get; }

    public string Kubeconfig { get; }

    /// <summary>KUBECONFIG and HOME for a child process talking to this cluster.</summary>
    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string> { ["KUBECONFIG"] = Kubeconfig, ["HOME"] = _directory };

    public static async Task<LocalClusterWithKubectl> StartAsync(CancellationToken cancellationToken)
    {
        var cluster = await LocalCluster.StartAsync(new LocalClusterOptions { DeploymentController = true, AutoReadyPods = true }, cancellationToken);
        var directory = Directory.CreateTempSubdirectory("gru-ecosystem-").FullName;
        return new LocalClusterWithKubectl(cluster, directory, cluster.WriteKubeconfig(Path.Combine(directory, "kubeconfig")));
    }

    /// <summary>Runs kubectl and returns its result whatever the exit code.</summary>
    public Task<ToolRun> KubectlAsync(IEnumerable<string> arguments, CancellationToken cancellationToken, string? stdin = null) =>
        ExternalTool.Kubectl.RunAsync(arguments, _directory, Environment, stdin, cancellationToken);

    /// <summary>Runs kubectl and fails with its output unless it exits 0.</summary>
    public async Task<string> KubectlOkAsync(IEnumerable<string> arguments, CancellationToken cancellationToken, string? stdin = null)
    {
        var run = await KubectlAsync(arguments, cancellationToken, stdin);
        return run.ExitCode == 0 ? run.Stdout : throw new InvalidOperationException($"kubectl {string.Join(' ', arguments)} failed: {run.Output}");
    }

    /// <summary>
    /// The built operator as its own process against this cluster, as `make run` starts it: no leader election, metrics on a
    /// free port (<see cref="OperatorProcess.MetricsPort"/>); returns once its /healthz answers. Stop it before the cluster.
    /// </summary>
    public Task<OperatorProcess> StartOperatorAsync(CancellationToken cancellationToken) =>
        OperatorProcess.StartAsync(new OperatorProcessOptions { Kubeconfig = Kubeconfig, MetricsPort = FreePort.Next() }, TimeSpan.FromSeconds(90), cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await Cluster.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // a temp directory left behind is harmless
        }
    }
}
