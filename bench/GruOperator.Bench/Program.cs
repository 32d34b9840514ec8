// Operator restart benchmark: N GruModels exist and have converged; the operator is stopped, every model's spec is
// changed (replicas 1 → 2), and a fresh operator process starts. Measured: time from its start until every model
// reports the new generation Healthy, and the operator process's peak resident memory (VmHWM). The operator runs as
// its own process so its memory is not mixed with LocalCluster's.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using GruOperator.Api;
using GruServing.Contract.Serving;
using GruOperator.Api.Schema;
using GruOperator.Domain.Conditions;
using k8s;
using k8s.Models;
using Kube.Local;
using TestSupport.ControlPlane;

var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1000;
var namespaces = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10;
var resultsDir = args.Length > 2 ? args[2] : "bench/results";
var operatorDll = args.Length > 3 ? args[3] : Path.Combine("src", "GruOperator", "bin", "Release", "net10.0", "gru-operator.dll");
// "local" (LocalCluster, the default) or "kube-apiserver": the same scenario on a real kube-apiserver with
// kube-controller-manager (KUBEBUILDER_ASSETS, see tests/envtest-assets.sh), pods marked ready through the API.
var lane = args.Length > 4 ? args[4] : "local";
if (lane is not ("local" or "kube-apiserver"))
{
    Console.Error.WriteLine($"unknown cluster {lane}: use local or kube-apiserver");
    return 2;
}
if (!File.Exists(operatorDll))
{
    Console.Error.WriteLine($"operator not built at {operatorDll}: run `dotnet build src/GruOperator -c Release` first");
    return 2;
}

var kubeconfigPath = Path.Combine(Path.GetTempPath(), $"gru-bench-{Environment.ProcessId}", "kubeconfig");
LocalCluster? local = null;
KubeControlPlane? plane = null;
if (lane == "local") local = await LocalCluster.StartAsync(new LocalClusterOptions { DeploymentController = true, AutoReadyPods = true, WatchHistorySize = 200_000 });
else plane = await KubeControlPlane.StartAsync();
await using var localScope = local;
await using var planeScope = plane;
var kubeconfig = local?.WriteKubeconfig(kubeconfigPath) ?? plane!.WriteKubeconfig(kubeconfigPath);
using var client = new Kubernetes(local?.ClientConfiguration ?? plane!.ClientConfiguration);
await client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(CrdGenerator.Build());
var names = Enumerable.Range(0, namespaces).Select(i => $"bench-{i}").ToList();
foreach (var ns in names) await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = ns } });
await WaitCrdServedAsync();
using var kubelet = new CancellationTokenSource();
// The real server has no kubelet: a stand-in marks each namespace's pods ready, as LocalCluster's AutoReadyPods does.
Task[] kubelets = plane is null ? [] : names.Select(ns => Task.Run(() => new PodStatusWriter(client).MarkAllReadyAsync(ns, kubelet.Token))).ToArray();

Console.WriteLine($"creating {count} GruModels in {namespaces} namespaces");
await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
{
    var model = new GruModel
    {
        Metadata = new V1ObjectMeta { Name = $"model-{i:D4}", NamespaceProperty = names[i % namespaces] },
        Spec = new GruModelSpec
        {
            Model = new ModelSpec { Name = $"model-{i:D4}", Source = "file:///opt/gru/models/sample-gru.onnx", Sha256 = new string('a', 64) },
            Serving = new ServingSpec { Replicas = 1, ExecutionProvider = ExecutionProvider.CPU },
        },
    };
    await client.CustomObjects.CreateNamespacedCustomObjectAsync(model, GruModel.Group, GruModel.Version, model.Metadata.NamespaceProperty, GruModel.Plural, cancellationToken: ct);
});

var first = StartOperator();
var initial = Stopwatch.StartNew();
await WaitConvergedAsync(1, 1);
initial.Stop();
var firstPeak = first.PeakResidentMegabytes();
await first.DisposeAsync();
Console.WriteLine($"initial convergence: {initial.Elapsed.TotalSeconds:0.0} s (operator peak RSS {firstPeak:0} MB); operator stopped");

// While the operator is down, every model changes: the restarted operator must relist and roll all of them.
await Parallel.ForEachAsync(EnumerateModels(), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (m, ct) =>
{
    var patch = new V1Patch("{\"spec\":{\"serving\":{\"replicas\":2}}}", V1Patch.PatchType.MergePatch);
    await client.CustomObjects.PatchNamespacedCustomObjectAsync(patch, GruModel.Group, GruModel.Version, m.Ns, GruModel.Plural, m.Name, cancellationToken: ct);
});

var restarted = StartOperator();
var restart = Stopwatch.StartNew();
await WaitConvergedAsync(2, 2);
restart.Stop();
var peak = restarted.PeakResidentMegabytes();
await restarted.DisposeAsync();
Console.WriteLine($"restart convergence of {count} changed models: {restart.Elapsed.TotalSeconds:0.0} s, operator peak RSS {peak:0} MB");

// A restart with nothing to change: how long until every model has been reconciled once (read from /metrics).
var metricsPort = FreePort.Next();
var idle = StartOperator(metricsPort);
var noop = Stopwatch.StartNew();
await WaitReconciledAsync(metricsPort);
noop.Stop();
var idlePeak = idle.PeakResidentMegabytes();
await idle.DisposeAsync();
Console.WriteLine($"no-op restart: {count} models reconciled in {noop.Elapsed.TotalSeconds:0.0} s, operator peak RSS {idlePeak:0} MB");

Directory.CreateDirectory(resultsDir);
var result = new
{
    benchmark = "operator-restart-convergence",
    cluster = lane == "local" ? "LocalCluster" : "kube-apiserver 1.28 + kube-controller-manager (default --kube-api-qps 20)",
    models = count,
    namespaces,
    workers = 4,
    initialConvergenceSeconds = Math.Round(initial.Elapsed.TotalSeconds, 2),
    initialOperatorPeakRssMb = Math.Round(firstPeak, 1),
    restartConvergenceSeconds = Math.Round(restart.Elapsed.TotalSeconds, 2),
    restartOperatorPeakRssMb = Math.Round(peak, 1),
    noopRestartReconcileAllSeconds = Math.Round(noop.Elapsed.TotalSeconds, 2),
    noopRestartOperatorPeakRssMb = Math.Round(idlePeak, 1),
    converged = "every GruModel at the new generation with phase Healthy and all replicas ready",
    machine = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}",
    measuredAt = DateTimeOffset.UtcNow,
};
await kubelet.CancelAsync();
await Task.WhenAll(kubelets);
var path = Path.Combine(resultsDir, lane == "local" ? "operator-restart.json" : "operator-restart-kube-apiserver.json");
await File.WriteAllTextAsync(path, JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
Console.WriteLine($"wrote {path}");
return 0;

// Stopped with SIGTERM (DisposeAsync), as in a pod; its warnings and errors on this console.
OperatorProcess StartOperator(int metricsPort = 0) => OperatorProcess.Start(new OperatorProcessOptions
{
    OperatorDll = operatorDll,
    Kubeconfig = kubeconfig,
    HealthPort = 0,
    MetricsPort = metricsPort,
    Environment = new Dictionary<string, string> { ["GRU_OPERATOR_Logging__LogLevel__Default"] = "Warning" },
    OutputLine = line => Console.WriteLine("  operator: " + line),
});

async Task WaitCrdServedAsync()
{
    var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
    while (true)
    {
        try
        {
            await client.CustomObjects.ListNamespacedCustomObjectAsync<GruModelList>(GruModel.Group, GruModel.Version, names[0], GruModel.Plural);
            return;
        }
        catch (k8s.Autorest.HttpOperationException) when (DateTime.UtcNow < deadline)
        {
            // A real server establishes a new CRD asynchronously.
            await Task.Delay(200);
        }
    }
}

async Task WaitReconciledAsync(int port)
{
    using var http = new HttpClient();
    var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(10);
    while (DateTime.UtcNow < deadline)
    {
        try
        {
            var text = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
            var reconciled = text.Split('\n')
                .Where(l => l.StartsWith("controller_reconcile_total{", StringComparison.Ordinal) && !l.Contains("result=\"error\"", StringComparison.Ordinal))
                .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
            if (reconciled >= count) return;
        }
        catch (HttpRequestException)
        {
            // Not listening yet.
        }
        await Task.Delay(200);
    }
    throw new TimeoutException("the restarted operator did not reconcile every model within 10 minutes");
}

IEnumerable<(string Ns, string Name)> EnumerateModels() =>
    Enumerable.Range(0, count).Select(i => (names[i % namespaces], $"model-{i:D4}"));

async Task WaitConvergedAsync(long generation, int replicas)
{
    var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(20);
    var last = -1;
    while (true)
    {
        var done = 0;
        foreach (var ns in names)
        {
            var list = await client.CustomObjects.ListNamespacedCustomObjectAsync<GruModelList>(GruModel.Group, GruModel.Version, ns, GruModel.Plural);
            done += list.Items.Count(m => m.Metadata.Generation == generation && m.Status?.ObservedGeneration == generation
                && m.Status.Phase == ModelPhase.Healthy && m.Status.Stable?.ReadyReplicas == replicas);
        }
        if (done != last) Console.WriteLine($"  {done}/{count} converged");
        last = done;
        if (done == count) return;
        if (DateTime.UtcNow > deadline) throw new TimeoutException($"only {done}/{count} models converged in 20 minutes");
        await Task.Delay(500);
    }
}
