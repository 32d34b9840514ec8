using System.Net;
using System.Net.Sockets;
using GruNodeAgent;
using GruServing.Contract.Serving;
using k8s;
using k8s.Models;
using LocalServers;
using Microsoft.Extensions.Logging;

namespace GruDemo.Stack;

/// <summary>
/// Everything the story runs on, started in order and stopped in reverse: the API server (LocalCluster, or the cluster in
/// KUBECONFIG), the node agent with simulated GPUs, Prometheus discovering the agent's pods through its http_sd, a
/// registry, and the operator as its own process (as `make run` starts it). LocalCluster and the agent run in-process
/// so that whichever way the demo ends, its API server and its pods end with it.
/// </summary>
public sealed class DemoStack : IAsyncDisposable
{
    private const string NodeName = "gru-demo-node";
    private readonly List<Func<ValueTask>> _stops = [];
    private WorkLog? _log;
    private ILoggerFactory? _loggers;

    private DemoStack(DemoOptions options) => Options = options;

    /// <summary>How it was started.</summary>
    public DemoOptions Options { get; }

    /// <summary>A client of the API server.</summary>
    public IKubernetes Client { get; private set; } = null!;

    /// <summary>The kubeconfig for `kubectl get gru -w` in another terminal.</summary>
    public string Kubeconfig { get; private set; } = "";

    /// <summary>The node agent running the pods.</summary>
    public NodeAgent Agent { get; private set; } = null!;

    /// <summary>Prometheus scraping the pods the agent runs.</summary>
    public PrometheusProcess Prometheus { get; private set; } = null!;

    /// <summary>The registry models are published to.</summary>
    public RegistryProcess Registry { get; private set; } = null!;

    /// <summary>The operator's log file.</summary>
    public string OperatorLog { get; private set; } = "";

    /// <summary>The agent's and LocalCluster's log file.</summary>
    public string StackLog => _log?.Path ?? "";

    /// <summary>The operator process, to check it still runs.</summary>
    internal OperatorProcess Operator { get; private set; } = null!;

    /// <summary>Checks the tools and ports, then starts every part; <paramref name="progress"/> hears each one.</summary>
    public static async Task<DemoStack> StartAsync(DemoOptions options, Action<string> progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(progress);
        // Fail before anything starts: a missing tool names its apt package, a taken port names itself.
        PrometheusProcess.FindBinary();
        RegistryProcess.FindBinary();
        var operatorDll = BuildOutput.Locate("src/GruOperator", "gru-operator.dll");
        var podAddress = IPAddress.Parse($"127.0.0.{options.FirstPodAddress}");
        foreach (var port in new[] { ServerPorts.Http, ServerPorts.Metrics }) EnsureFree(podAddress, port, "the first demo pod's GruServer port");
        if (options.ClusterPort != 0) EnsureFree(IPAddress.Loopback, options.ClusterPort, "LocalCluster's API server port (--cluster-port)");

        var stack = new DemoStack(options);
        try
        {
            await stack.StartPartsAsync(operatorDll, progress, cancellationToken);
            return stack;
        }
        catch
        {
            await stack.DisposeAsync();
            throw;
        }
    }

    /// <summary>Stops the parts in reverse order (the operator first, the API server last).</summary>
    public async ValueTask DisposeAsync()
    {
        for (var i = _stops.Count - 1; i >= 0; i--)
        {
            try
            {
                await _stops[i]();
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException or k8s.Autorest.HttpOperationException or HttpRequestException)
            {
                // Stopping goes on: one part failing to stop must not leave the others running.
            }
        }

        _stops.Clear();
        _loggers?.Dispose();
        _log?.Dispose();
    }

    private async Task StartPartsAsync(string operatorDll, Action<string> progress, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Options.WorkDirectory);
        _log = new WorkLog(Path.Combine(Options.WorkDirectory, "stack.log"));
        _loggers = LoggerFactory.Create(b => b.AddProvider(_log).SetMinimumLevel(LogLevel.Information));
        Kubeconfig = Path.Combine(Options.WorkDirectory, "kubeconfig");

        KubernetesClientConfiguration config;
        if (Options.UseCurrentCluster)
        {
            var current = Environment.GetEnvironmentVariable("KUBECONFIG") is { Length: > 0 } path ? path.Split(':')[0]
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".kube", "config");
            if (!File.Exists(current)) throw new InvalidOperationException($"DEMO_CLUSTER=current needs a kubeconfig: {current} does not exist (set KUBECONFIG)");
            File.Copy(current, Kubeconfig, overwrite: true);
            config = KubernetesClientConfiguration.BuildConfigFromConfigFile(Kubeconfig);
            progress($"cluster: the current context of {current}");
        }
        else
        {
            // The deployment controller turns the operator's Deployments into pods; the agent is the kubelet.
            var cluster = await Kube.Local.LocalCluster.StartAsync(new Kube.Local.LocalClusterOptions { DeploymentController = true, Port = Options.ClusterPort }, cancellationToken);
            _stops.Add(() => cluster.DisposeAsync());
            cluster.WriteKubeconfig(Kubeconfig);
            config = cluster.ClientConfiguration;
            progress($"cluster: LocalCluster at {cluster.Url}");
        }

        Client = new Kubernetes(config);
        _stops.Add(() =>
        {
            Client.Dispose();
            return ValueTask.CompletedTask;
        });
        await InstallCrdAsync(cancellationToken);
        await EnsureNamespaceAsync(cancellationToken);

        if (Options.UseCurrentCluster)
        {
            // Runs after the agent has stopped: a cluster that outlives the demo keeps no NotReady node of it.
            _stops.Add(async () =>
            {
                using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                await Client.CoreV1.DeleteNodeAsync(NodeName, cancellationToken: quick.Token);
            });
        }

        Agent = await NodeAgent.StartAsync(Client, new NodeAgentOptions
        {
            NodeName = NodeName,
            Cpu = "16",
            Memory = "32Gi",
            GpuCount = Options.Gpus,
            FirstPodAddress = Options.FirstPodAddress,
            StateDirectory = Path.Combine(Options.WorkDirectory, "node"),
            HeartbeatInterval = TimeSpan.FromSeconds(5),
            UnschedulableRetry = TimeSpan.FromSeconds(2),
            RestartBackoff = TimeSpan.FromSeconds(2),
            MaxRestartBackoff = TimeSpan.FromSeconds(10),
            Images = [new ImageMapping { Image = "ghcr.io/gru-operator/gru-server", Entrypoint = [ChildProcess.DotnetHost, "{build:src/GruServer/GruServer.dll}"] }],
        }, _loggers, cancellationToken);
        _stops.Add(() => Agent.DisposeAsync());
        progress($"node agent: node {NodeName} with {Options.Gpus} simulated nvidia.com/gpu, pods from 127.0.0.{Options.FirstPodAddress}, http_sd at {Agent.DiscoveryUrl}");

        var discovery = new Uri(Agent.DiscoveryUrl, "http_sd");
        Prometheus = await PrometheusProcess.StartAsync([], [discovery], cancellationToken);
        _stops.Add(() => Prometheus.DisposeAsync());
        progress($"prometheus: {Prometheus.Address} (targets from {discovery})");

        Registry = await RegistryProcess.StartAnonymousAsync(cancellationToken);
        _stops.Add(() => Registry.DisposeAsync());
        progress($"registry: {Registry.Host}");

        OperatorLog = Path.Combine(Options.WorkDirectory, "operator.log");
        var operatorLog = TextWriter.Synchronized(new StreamWriter(OperatorLog, append: true) { AutoFlush = true });
        _stops.Add(() =>
        {
            operatorLog.Dispose();
            return ValueTask.CompletedTask;
        });
        Operator = OperatorProcess.Start(new OperatorProcessOptions
        {
            OperatorDll = operatorDll,
            Kubeconfig = Kubeconfig,
            Namespaces = Options.Namespace,
            HealthPort = 0,
            PrometheusAddress = Prometheus.Address,
            Arguments = ["--registry-plain-http", Registry.Host],
            // The demo's docker config, as gru-model gets it: nothing from the caller's ~/.docker reaches the operator.
            Environment = new Dictionary<string, string> { ["DOCKER_CONFIG"] = Path.Combine(Options.WorkDirectory, "docker-config") },
            OutputLine = operatorLog.WriteLine,
            StopTimeout = TimeSpan.FromSeconds(10),
        });
        _stops.Add(() => Operator.DisposeAsync());
        progress($"operator: pid {Operator.Id}, log {OperatorLog}");
    }

    private async Task InstallCrdAsync(CancellationToken cancellationToken)
    {
        var crd = await KubernetesYaml.LoadFromFileAsync<V1CustomResourceDefinition>(Path.Combine(RepositoryRoot(), "config", "crds", "serving.gru.dev_grumodels.yaml"));
        try
        {
            await Client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(crd, cancellationToken: cancellationToken);
        }
        catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            // Already installed (DEMO_CLUSTER=current): the cluster's own version stays.
        }

        await Conditions.UntilAsync(async () =>
        {
            var current = await Client.ApiextensionsV1.ReadCustomResourceDefinitionAsync(crd.Metadata.Name, cancellationToken: cancellationToken);
            return current.Status?.Conditions?.Any(c => c is { Type: "Established", Status: "True" }) == true;
        }, TimeSpan.FromSeconds(60), "the GruModel CRD to be established", cancellationToken);
    }

    private async Task EnsureNamespaceAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = Options.Namespace } }, cancellationToken: cancellationToken);
        }
        catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
        }

        if (Options.UseCurrentCluster)
        {
            // In a cluster that outlives the demo, its namespace (the GruModel, its Deployments and pods) goes with it.
            _stops.Add(async () =>
            {
                using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                await Client.CoreV1.DeleteNamespaceAsync(Options.Namespace, cancellationToken: quick.Token);
            });
        }
    }

    /// <summary>The clone's root: config/crds comes from there, as `make manifests` writes it.</summary>
    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "GruOperator.sln"))) return dir.FullName;
        }

        throw new DirectoryNotFoundException($"GruOperator.sln not found above {AppContext.BaseDirectory}: run the demo from its build output in the clone (make demo)");
    }

    private static void EnsureFree(IPAddress address, int port, string what)
    {
        try
        {
            using var probe = new TcpListener(address, port);
            probe.Start();
        }
        catch (SocketException e)
        {
            throw new InvalidOperationException($"{address}:{port} ({what}) is not free: {e.Message}; stop what listens there (a server on 0.0.0.0:{port} takes it on every 127.0.0.N)", e);
        }
    }
}
