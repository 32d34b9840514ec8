using System.Diagnostics;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using TestSupport;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace E2E.Tests.Lane;

/// <summary>
/// One real-node lane for every test in the collection (tests/e2e/lane.sh up, then down when the tests end, whatever
/// they did), with the operator installed from config/default as a user would: an overlay that names the images built
/// into the lane's registry, applied with <c>kubectl apply -k</c>.
/// </summary>
public sealed class RealNodeLane : IAsyncLifetime
{
    private readonly IMessageSink _diagnostics;
    // lane.sh finds abandoned lanes as /tmp/gru-e2e-*/owner.pid; the tests' own files live beside, not inside.
    // GRU_E2E_LANE names a lane already up (tests/e2e/lane.sh up DIR), kept afterwards: for iterating on the tests.
    private readonly string? _existing = Environment.GetEnvironmentVariable("GRU_E2E_LANE") is { Length: > 0 } e ? e : null;
    private readonly string _lane;
    private readonly string _work = Directory.CreateTempSubdirectory("gru-e2e-tests-").FullName;
    private Dictionary<string, string> _env = new(StringComparer.Ordinal);
    private Kubernetes? _client;

    public RealNodeLane(IMessageSink diagnostics)
    {
        _diagnostics = diagnostics;
        _lane = _existing ?? Directory.CreateTempSubdirectory("gru-e2e-").FullName;
    }

    /// <summary>The operator's namespace (config/default).</summary>
    public const string OperatorNamespace = "gru-system";

    /// <summary>Admin kubeconfig of the lane's API server.</summary>
    public string Kubeconfig => Setting("KUBECONFIG");

    /// <summary>The node's address: the API server, the registry and Prometheus listen on it, so pods reach them.</summary>
    public string NodeIp => Setting("GRU_E2E_NODE_IP");

    /// <summary>host:port of the lane's Distribution registry (plain http).</summary>
    public string Registry => Setting("GRU_E2E_REGISTRY");

    /// <summary>Prometheus scraping the lane's pods (discovered through the API server).</summary>
    public Uri Prometheus => new(Setting("GRU_E2E_PROMETHEUS"));

    /// <summary>Where the images were pushed, e.g. 10.99.0.1:PORT/gru, and their tag.</summary>
    public string ImagePrefix => Setting("GRU_E2E_IMAGE_PREFIX");

    public string ImageTag => Setting("GRU_E2E_IMAGE_TAG");

    /// <summary>An image images/build.sh pushed for this lane, as it printed it: REGISTRY/NAME:TAG@sha256:DIGEST.</summary>
    public string Image(string name) =>
        File.ReadLines(Path.Combine(_lane, "images.txt")).Select(l => l.Split(' ')).Single(p => p[1] == name)[2];

    /// <summary>The API server's audit log: every request made as a ServiceAccount, with its response code.</summary>
    public string AuditLog => Setting("GRU_E2E_AUDIT_LOG");

    /// <summary>Seconds from nothing to a Ready node with images pushed.</summary>
    public int SetupSeconds => int.Parse(Setting("GRU_E2E_SETUP_SECONDS"), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>What lane.sh printed while starting (timings per part).</summary>
    public string StartLog { get; private set; } = "";

    /// <summary>Seconds from <c>kubectl apply -k</c> to the operator Deployment available.</summary>
    public double OperatorInstallSeconds { get; private set; }

    public IKubernetes Client => _client ?? throw new InvalidOperationException("the lane is not up");

    /// <summary>A directory for a test's files, removed with the lane.</summary>
    public string WorkDirectory => _work;

    public async Task InitializeAsync()
    {
        if (_existing is null)
        {
            var up = await ExternalTool.Bash.RunAsync([LaneScript, "up", _lane, Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)],
                Repository.Root, timeout: TimeSpan.FromMinutes(20));
            StartLog = up.Stderr;
            _diagnostics.OnMessage(new DiagnosticMessage("lane up:\n" + up.Stderr));
            if (up.ExitCode != 0) throw new InvalidOperationException($"tests/e2e/lane.sh up failed:\n{up.Output}");
        }

        _env = File.ReadAllLines(Path.Combine(_lane, "lane.env")).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
        _client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(Kubeconfig));
        await InstallOperatorAsync();
    }

    public async Task DisposeAsync()
    {
        _client?.Dispose();
        if (_existing is not null)
        {
            Directory.Delete(_work, recursive: true);
            return;
        }

        var down = await ExternalTool.Bash.RunAsync([LaneScript, "down", _lane], Repository.Root, timeout: TimeSpan.FromMinutes(5));
        _diagnostics.OnMessage(new DiagnosticMessage("lane down:\n" + down.Output));
        Directory.Delete(_work, recursive: true);
        // A lane not torn down, or a machine not left as found, fails the run (xunit reports a collection cleanup failure).
        if (down.ExitCode != 0) throw new InvalidOperationException($"tests/e2e/lane.sh down failed:\n{down.Output}");
    }

    /// <summary>Runs kubectl against the lane as admin; fails the test with kubectl's output when it exits non-zero.</summary>
    public async Task<string> KubectlAsync(IEnumerable<string> arguments, string? stdin = null, TimeSpan? timeout = null)
    {
        var run = await ExternalTool.Kubectl.RunAsync(arguments, WorkDirectory, new Dictionary<string, string> { ["KUBECONFIG"] = Kubeconfig }, stdin, timeout: timeout);
        return run.ExitCode == 0 ? run.Stdout : throw new InvalidOperationException($"kubectl {string.Join(' ', arguments)}: {run.Output}");
    }

    /// <summary>
    /// Creates namespace <paramref name="name"/>; disposing deletes it and waits, so the node's 2 cores and simulated GPUs
    /// are free for the next test whatever this one did.
    /// </summary>
    public async Task<IAsyncDisposable> NamespaceAsync(string name)
    {
        await KubectlAsync(["create", "namespace", name]);
        return new NamespaceDeletion(this, name);
    }

    private sealed class NamespaceDeletion(RealNodeLane lane, string name) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() =>
            await lane.KubectlAsync(["delete", "namespace", name, "--wait=true", "--timeout=180s"], timeout: TimeSpan.FromMinutes(4));
    }

    /// <summary>Runs `kubectl gru ARGS` (the built plugin) with the lane's kubeconfig.</summary>
    public Task<ToolRun> KubectlGruAsync(IEnumerable<string> arguments, CancellationToken cancellationToken = default) =>
        ExternalTool.Dotnet.RunAsync([BuildOutput.Locate("src/KubectlGru", "kubectl-gru.dll"), .. arguments], WorkDirectory,
            new Dictionary<string, string> { ["KUBECONFIG"] = Kubeconfig }, cancellationToken: cancellationToken);

    /// <summary>Polls <paramref name="read"/> until <paramref name="done"/> holds, failing with the last value after <paramref name="timeout"/>.</summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan timeout, string what, Func<T, string>? describe = null)
    {
        var clock = Stopwatch.StartNew();
        T last = default!;
        Exception? error = null;
        while (clock.Elapsed < timeout)
        {
            try
            {
                last = await read();
                error = null;
                if (done(last)) return last;
            }
            catch (Exception ex) when (ex is HttpOperationException or HttpRequestException or InvalidOperationException or TaskCanceledException)
            {
                error = ex;
            }

            await Task.Delay(500);
        }

        throw new TimeoutException($"{what}: not within {timeout.TotalSeconds:0}s; last: {(error is not null ? error.Message : describe is not null && last is not null ? describe(last) : last?.ToString())}");
    }

    /// <summary>A GruModel as JSON (custom objects API).</summary>
    public async Task<JsonObject> GruModelAsync(string ns, string name)
    {
        var json = await KubectlAsync(["get", "grumodel", name, "-n", ns, "-o", "json"]);
        return JsonNode.Parse(json)!.AsObject();
    }

    private static string LaneScript => Path.Combine(Repository.Root, "tests", "e2e", "lane.sh");

    private string Setting(string name) =>
        _env.TryGetValue(name, out var value) ? value : throw new InvalidOperationException($"lane.env has no {name}");

    // config/default as a user installs it, pointed at this lane: the operator image built here, the lane's Prometheus
    // as the default address, and the lane's registry as plain http. Autoscaling averages load over 20 s (the lane scrapes every
    // second), so a load change shows within a test's patience. The server and model-fetcher images are not set: an
    // operator image built by images/build.sh defaults to the images built beside it (ModelRollout tests check the pods').
    private async Task InstallOperatorAsync()
    {
        var overlay = Path.Combine(WorkDirectory, "operator-overlay");
        Directory.CreateDirectory(overlay);
        await File.WriteAllTextAsync(Path.Combine(overlay, "kustomization.yaml"), $"""
            apiVersion: kustomize.config.k8s.io/v1beta1
            kind: Kustomization
            resources:
              - {Path.GetRelativePath(overlay, Path.Combine(Repository.Root, "config", "default"))}
            images:
              - name: ghcr.io/gru-operator/gru-operator
                newName: {ImagePrefix}/gru-operator
                newTag: {ImageTag}
            patches:
              - patch: |-
                  apiVersion: apps/v1
                  kind: Deployment
                  metadata: {"{"}name: gru-operator, namespace: {OperatorNamespace}{"}"}
                  spec:
                    template:
                      spec:
                        containers:
                          - name: manager
                            env:
                              - {"{"}name: GRU_OPERATOR_DEFAULTPROMETHEUSADDRESS, value: "{Prometheus.ToString().TrimEnd('/')}"{"}"}
                              - {"{"}name: GRU_OPERATOR_REGISTRYPLAINHTTP, value: "{Registry}"{"}"}
                              - {"{"}name: GRU_OPERATOR_PROMETHEUS__LOADWINDOW, value: "00:00:20"{"}"}

            """);
        var clock = Stopwatch.StartNew();
        await KubectlAsync(["apply", "-k", overlay]);
        await KubectlAsync(["rollout", "status", "deployment/gru-operator", "-n", OperatorNamespace, "--timeout=300s"], timeout: TimeSpan.FromMinutes(6));
        OperatorInstallSeconds = clock.Elapsed.TotalSeconds;
    }
}

/// <summary>Every real-node test shares one lane (a node per machine).</summary>
[CollectionDefinition(Name)]
public sealed class RealNodeCollection : ICollectionFixture<RealNodeLane>
{
    public const string Name = "real node";
}
