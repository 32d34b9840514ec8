using System.Collections.Concurrent;
using k8s;
using Microsoft.Extensions.Logging;
using TestSupport;

namespace GruNodeAgent.Tests.Lanes;

/// <summary>
/// An API server (per subclass: LocalCluster, or the real kube-apiserver + kube-controller-manager) with a node agent
/// joined to it: 4 CPUs, 8Gi, one simulated GPU, and image mappings for GruServer, a model "fetcher" and a shell.
/// </summary>
public abstract class AgentLane : IAsyncLifetime
{
    /// <summary>Maps to the local GruServer build, as the operator's default server image does in the agent's appsettings.json.</summary>
    public const string ServerImage = "ghcr.io/gru-operator/gru-server:0.1.0";

    /// <summary>Stands in for the model fetcher: copies $(MODEL_SOURCE) (a host file) to $(MODEL_PATH) (in the pod's emptyDir).</summary>
    public const string CopyModelImage = "example.test/copy-model:1";

    /// <summary>Runs the container's command on the host as written.</summary>
    public const string ShellImage = "example.test/shell:1";

    private readonly RecordingLoggerProvider _logs = new();
    private ILoggerFactory? _loggerFactory;

    public IKubernetes Client { get; private set; } = null!;

    public NodeAgent Agent { get; private set; } = null!;

    /// <summary>The agent's recent log lines, for failure messages.</summary>
    public string AgentLog => _logs.Tail(80);

    protected abstract int FirstPodAddress { get; }

    protected abstract Task<KubernetesClientConfiguration> StartApiServerAsync();

    protected abstract ValueTask StopApiServerAsync();

    public virtual string ServerLogs => "";

    /// <summary>Writes a kubeconfig for this API server (for processes such as the operator) and returns its path.</summary>
    public abstract string WriteKubeconfig(string path);

    public async Task InitializeAsync()
    {
        var config = await StartApiServerAsync();
        Client = new Kubernetes(config);
        _loggerFactory = LoggerFactory.Create(b => b.AddProvider(_logs).SetMinimumLevel(LogLevel.Information));
        var options = new NodeAgentOptions
        {
            NodeName = "agent-test-node",
            Cpu = "4",
            Memory = "8Gi",
            GpuCount = 1,
            FirstPodAddress = FirstPodAddress,
            HeartbeatInterval = TimeSpan.FromSeconds(2),
            UnschedulableRetry = TimeSpan.FromSeconds(2),
            RestartBackoff = TimeSpan.FromSeconds(1),
            MaxRestartBackoff = TimeSpan.FromSeconds(4),
            Images =
            [
                new ImageMapping { Image = "ghcr.io/gru-operator/gru-server", Entrypoint = [DotnetHost, GruServerProcess.LocateServerDll()] },
                new ImageMapping { Image = "example.test/copy-model", Command = ["cp", "$(MODEL_SOURCE)", "$(MODEL_PATH)"] },
                new ImageMapping { Image = "example.test/shell", HostCommands = true },
            ],
        };
        Agent = await NodeAgent.StartAsync(Client, options, _loggerFactory);
    }

    public async Task DisposeAsync()
    {
        if (Agent is not null) await Agent.DisposeAsync();
        Client?.Dispose();
        _loggerFactory?.Dispose();
        await StopApiServerAsync();
    }

    private static string DotnetHost => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    private sealed class RecordingLoggerProvider : ILoggerProvider
    {
        private readonly ConcurrentQueue<string> _lines = new();

        public ILogger CreateLogger(string categoryName) => new Recorder(this, categoryName);

        public string Tail(int count) => string.Join("\n", _lines.ToArray().TakeLast(count));

        public void Dispose()
        {
        }

        private void Add(string line)
        {
            _lines.Enqueue(line);
            while (_lines.Count > 2000) _lines.TryDequeue(out _);
        }

        private sealed class Recorder(RecordingLoggerProvider owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner.Add($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)}{(exception is null ? "" : " " + exception.Message)}");
        }
    }
}

/// <summary>The in-process LocalCluster API server.</summary>
public sealed class LocalClusterLane : AgentLane
{
    private Kube.Local.LocalCluster? _cluster;

    protected override int FirstPodAddress => 20;

    protected override async Task<KubernetesClientConfiguration> StartApiServerAsync()
    {
        // The deployment controller turns the operator's Deployments into pods; no auto-ready pods: the agent is the kubelet.
        _cluster = await Kube.Local.LocalCluster.StartAsync(new Kube.Local.LocalClusterOptions { DeploymentController = true });
        return _cluster.ClientConfiguration;
    }

    public override string WriteKubeconfig(string path) => _cluster!.WriteKubeconfig(path);

    protected override async ValueTask StopApiServerAsync()
    {
        if (_cluster is not null) await _cluster.DisposeAsync();
    }
}

/// <summary>The real kube-apiserver, etcd and kube-controller-manager (envtest's binaries).</summary>
public sealed class RealApiServerLane : AgentLane
{
    private TestSupport.ControlPlane.KubeControlPlane? _plane;

    protected override int FirstPodAddress => 120;

    public override string ServerLogs => _plane?.Logs ?? "";

    protected override async Task<KubernetesClientConfiguration> StartApiServerAsync()
    {
        _plane = await TestSupport.ControlPlane.KubeControlPlane.StartAsync();
        return _plane.ClientConfiguration;
    }

    public override string WriteKubeconfig(string path) => _plane!.WriteKubeconfig(path);

    protected override async ValueTask StopApiServerAsync()
    {
        if (_plane is not null) await _plane.DisposeAsync();
    }
}
