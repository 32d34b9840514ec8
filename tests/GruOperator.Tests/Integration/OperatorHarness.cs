using System.Net;
using ControllerRuntime.Leadership;
using GruOperator.Api;
using GruOperator.Api.Schema;
using GruOperator.Hosting;
using GruOperator.Serving;
using GruOperator.Tests.RealCluster;
using GruOperator.Tests.Support;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Kube.Local;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using TestSupport.ControlPlane;

namespace GruOperator.Tests.Integration;

/// <summary>
/// One test's cluster and the operators it hosts in-process, on either lane: a fresh LocalCluster with the GruModel CRD
/// (<see cref="StartAsync"/>), or a fresh namespace of the shared real kube-apiserver (<see cref="OnKubeApiServerAsync"/>).
/// Tests use <see cref="Namespace"/> and <see cref="Pods"/> (status writes through the API, the same on both lanes) so one
/// test body runs on both; <see cref="Cluster"/> (fault injection) exists on the LocalCluster lane only.
/// </summary>
internal sealed class OperatorHarness : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);
    public const string ServerImage = "test.local/gru-server:1";

    private readonly List<WebApplication> _operators = [];
    private readonly LocalCluster? _local;
    private readonly CancellationTokenSource _kubelet = new();
    private Task _autoReady = Task.CompletedTask;

    private OperatorHarness(KubernetesClientConfiguration configuration, string @namespace, LocalCluster? local, string? watchNamespace)
    {
        ClientConfiguration = configuration;
        Namespace = @namespace;
        _local = local;
        WatchNamespace = watchNamespace;
        Client = new Kubernetes(configuration);
        Pods = new PodStatusWriter(Client);
    }

    /// <summary>The LocalCluster of this test; LocalCluster-only tests (fault injection) use it.</summary>
    public LocalCluster Cluster => _local ?? throw new InvalidOperationException("fault injection exists on the LocalCluster lane only");

    /// <summary>Which lane this is, for messages.</summary>
    public string Lane => _local is null ? "kube-apiserver" : "LocalCluster";

    /// <summary>The namespace this test owns: default on its own LocalCluster, a fresh one on the shared real server.</summary>
    public string Namespace { get; }

    /// <summary>The namespace operators watch and hold their Lease in: only the test's own on the shared real server.</summary>
    private string? WatchNamespace { get; }

    public KubernetesClientConfiguration ClientConfiguration { get; }

    public IKubernetes Client { get; }

    /// <summary>Scheduler and kubelet stand-in: writes pod status through the API.</summary>
    public PodStatusWriter Pods { get; }

    /// <summary>A fresh LocalCluster with the CRD; pods are marked ready as they appear unless <paramref name="autoReadyPods"/> is false.</summary>
    public static async Task<OperatorHarness> StartAsync(bool autoReadyPods = true, LocalClusterOptions? options = null)
    {
        // LocalCluster marks pods ready in-process: its API requests would otherwise consume the faults a test injects for
        // the operator.
        var cluster = await LocalCluster.StartAsync(options ?? new LocalClusterOptions { DeploymentController = true, AutoReadyPods = autoReadyPods });
        var harness = new OperatorHarness(cluster.ClientConfiguration, "default", cluster, watchNamespace: null);
        await harness.Client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(CrdGenerator.Build());
        await Poll.UntilAsync(
            async () => await harness.Client.CustomObjects.ListNamespacedCustomObjectAsync<GruModelList>(GruModel.Group, GruModel.Version, "default", GruModel.Plural),
            _ => true, Timeout, "the GruModel CRD to be served");
        return harness;
    }

    /// <summary>A fresh namespace on the shared real kube-apiserver (CRD installed by <c>kubectl apply -k config/default</c>).</summary>
    public static async Task<OperatorHarness> OnKubeApiServerAsync(KubeApiServerFixture fixture, bool autoReadyPods = true)
    {
        var ns = await fixture.NewNamespaceAsync("it");
        var harness = new OperatorHarness(fixture.ControlPlane.ClientConfiguration, ns, local: null, watchNamespace: ns);
        harness.StartKubelet(autoReadyPods);
        return harness;
    }

    /// <summary>Starts an operator in this process against the cluster; returns it so a test can stop it.</summary>
    public async Task<WebApplication> StartOperatorAsync(string identity = "op-1", bool leaderElection = false, int workers = 2, int metricsPort = 0,
        IReadOnlyList<string>? extraArgs = null, IReadOnlyDictionary<string, string?>? overrides = null, bool verifyServedModels = false)
    {
        var args = new List<string>
        {
            "--metrics-port", metricsPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--health-port", "0", "--bind-address", "127.0.0.1",
            "--server-image", ServerImage, "--workers", workers.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--leader-elect", leaderElection ? "true" : "false", "--identity", identity, "--lease-namespace", Namespace,
            // Off unless a test asks: most tests' pods are marked ready with no server behind their IPs, which would keep
            // every canary's promotion gate closed. The integrity tests run it against real GruServer processes.
            "--verify-served-models", verifyServedModels ? "true" : "false",
        };
        if (WatchNamespace is not null) args.AddRange(["--namespaces", WatchNamespace]);
        args.AddRange(extraArgs ?? []);
        var configuration = new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = Environment.GetEnvironmentVariable("GRU_TEST_LOG_LEVEL") ?? "Warning",
            ["LeaderElection:LeaseDuration"] = "4s",
            ["LeaderElection:RenewDeadline"] = "3s",
            ["LeaderElection:RetryPeriod"] = "500ms",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>()) configuration[key] = value;
        var app = OperatorHost.Build([.. args], ClientConfiguration, configuration);
        await app.StartAsync();
        _operators.Add(app);
        return app;
    }

    public static bool IsLeader(WebApplication app) => app.Services.GetRequiredService<LeadershipState>().IsLeader;

    public async Task StopOperatorAsync(WebApplication app)
    {
        _operators.Remove(app);
        await app.StopAsync();
        await app.DisposeAsync();
    }

    /// <summary>The first pod of a model, once its ReplicaSet has created one.</summary>
    public Task<V1Pod> FirstPodAsync(string model) =>
        Poll.UntilAsync(
            async () => (await Client.CoreV1.ListNamespacedPodAsync(Namespace, labelSelector: $"{Labels.Model}={model}")).Items.FirstOrDefault(),
            _ => true, Timeout, $"a pod of {model}");

    private void StartKubelet(bool autoReadyPods)
    {
        if (autoReadyPods) _autoReady = Task.Run(() => Pods.MarkAllReadyAsync(Namespace, _kubelet.Token));
    }

    public Task<GruModel> CreateAsync(GruModel model) =>
        Client.CustomObjects.CreateNamespacedCustomObjectAsync<GruModel>(model, GruModel.Group, GruModel.Version, model.Metadata.NamespaceProperty, GruModel.Plural);

    public async Task<GruModel?> GetAsync(string ns, string name)
    {
        try
        {
            return await Client.CustomObjects.GetNamespacedCustomObjectAsync<GruModel>(GruModel.Group, GruModel.Version, ns, GruModel.Plural, name);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public Task<GruModel> PatchSpecAsync(string ns, string name, object specPatch) =>
        Client.CustomObjects.PatchNamespacedCustomObjectAsync<GruModel>(
            new V1Patch(KubernetesJson.Serialize(new { spec = specPatch }), V1Patch.PatchType.MergePatch),
            GruModel.Group, GruModel.Version, ns, GruModel.Plural, name);

    /// <summary>Sets (or with null removes) one annotation with a merge patch, as <c>kubectl annotate</c> does.</summary>
    public Task<GruModel> AnnotateAsync(string ns, string name, string key, string? value) =>
        Client.CustomObjects.PatchNamespacedCustomObjectAsync<GruModel>(
            new V1Patch(KubernetesJson.Serialize(new { metadata = new { annotations = new Dictionary<string, string?> { [key] = value } } }), V1Patch.PatchType.MergePatch),
            GruModel.Group, GruModel.Version, ns, GruModel.Plural, name);

    /// <summary>The pods of one track of a model.</summary>
    public async Task<IReadOnlyList<V1Pod>> PodsAsync(string model, string track) =>
        (await Client.CoreV1.ListNamespacedPodAsync(Namespace, labelSelector: $"{Labels.Model}={model},{Labels.Track}={track}")).Items
            .Where(p => p.Metadata.DeletionTimestamp is null).ToList();

    public async Task<V1Deployment?> DeploymentAsync(string ns, string name)
    {
        try
        {
            return await Client.AppsV1.ReadNamespacedDeploymentAsync(name, ns);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<V1Service?> ServiceAsync(string ns, string name)
    {
        try
        {
            return await Client.CoreV1.ReadNamespacedServiceAsync(name, ns);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>Events about the GruModel <paramref name="involvedName"/> (a real cluster's controllers also report on its Service and Endpoints).</summary>
    public async Task<IReadOnlyList<Corev1Event>> EventsAsync(string ns, string involvedName) =>
        (await Client.CoreV1.ListNamespacedEventAsync(ns)).Items
            .Where(e => e.InvolvedObject?.Name == involvedName && e.InvolvedObject.Kind == GruModel.KindName).ToList();

    /// <summary>Waits until the model's status satisfies <paramref name="done"/>.</summary>
    public Task<GruModel> WaitForStatusAsync(string ns, string name, Func<GruModel, bool> done, string what) =>
        Poll.UntilAsync(() => GetAsync(ns, name), m => m.Status is not null && done(m), Timeout, what);

    /// <summary>Waits until the Deployment no longer exists.</summary>
    public Task WaitForDeploymentGoneAsync(string ns, string name) =>
        Poll.UntilAsync(async () => await DeploymentAsync(ns, name) is null ? "gone" : null, _ => true, Timeout, $"Deployment {name} to go");

    public Task<V1Deployment> WaitForDeploymentAsync(string ns, string name, Func<V1Deployment, bool> done, string what) =>
        Poll.UntilAsync(() => DeploymentAsync(ns, name), done, Timeout, what);

    public async ValueTask DisposeAsync()
    {
        await _kubelet.CancelAsync();
        await _autoReady;
        _kubelet.Dispose();
        foreach (var app in _operators.ToList())
        {
            try
            {
                // Bounded: a test that failed half-way must not hang the run on an operator that will not stop.
                using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await app.StopAsync(stopping.Token);
            }
            finally
            {
                await app.DisposeAsync();
            }
        }
        Client.Dispose();
        // The real server is shared: its namespace is left behind (the operator that would clear finalizers is gone) and
        // goes with the control plane at the end of the collection.
        if (_local is not null) await _local.DisposeAsync();
    }
}
