using System.Net;
using ControllerRuntime.Leadership;
using GruOperator.Api;
using GruOperator.Api.Schema;
using GruOperator.Hosting;
using GruOperator.Tests.Support;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Kube.Local;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace GruOperator.Tests.Integration;

/// <summary>A LocalCluster with the GruModel CRD installed, and operators hosted in-process against it.</summary>
internal sealed class OperatorHarness : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);
    public const string ServerImage = "test.local/gru-server:1";

    private readonly List<WebApplication> _operators = [];

    private OperatorHarness(LocalCluster cluster)
    {
        Cluster = cluster;
        Client = new Kubernetes(cluster.ClientConfiguration);
    }

    public LocalCluster Cluster { get; }

    public IKubernetes Client { get; }

    public static async Task<OperatorHarness> StartAsync(bool autoReadyPods = true, LocalClusterOptions? options = null)
    {
        var cluster = await LocalCluster.StartAsync(options ?? new LocalClusterOptions { DeploymentController = true, AutoReadyPods = autoReadyPods });
        var harness = new OperatorHarness(cluster);
        await harness.Client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(CrdGenerator.Build());
        await Poll.UntilAsync(
            async () => await harness.Client.CustomObjects.ListNamespacedCustomObjectAsync<GruModelList>(GruModel.Group, GruModel.Version, "default", GruModel.Plural),
            _ => true, Timeout, "the GruModel CRD to be served");
        return harness;
    }

    /// <summary>Starts an operator in this process against the cluster; returns it so a test can stop it.</summary>
    public async Task<WebApplication> StartOperatorAsync(string identity = "op-1", bool leaderElection = false, int workers = 2, int metricsPort = 0)
    {
        var app = OperatorHost.Build(
        [
            "--metrics-port", metricsPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--health-port", "0", "--bind-address", "127.0.0.1",
            "--server-image", ServerImage, "--workers", workers.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--leader-elect", leaderElection ? "true" : "false", "--identity", identity, "--lease-namespace", "default",
        ],
        Cluster.ClientConfiguration,
        new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = Environment.GetEnvironmentVariable("GRU_TEST_LOG_LEVEL") ?? "Warning",
            ["LeaderElection:LeaseDuration"] = "00:00:04",
            ["LeaderElection:RenewDeadline"] = "00:00:03",
            ["LeaderElection:RetryPeriod"] = "00:00:00.500",
        });
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

    public async Task<IReadOnlyList<Corev1Event>> EventsAsync(string ns, string involvedName) =>
        (await Client.CoreV1.ListNamespacedEventAsync(ns)).Items.Where(e => e.InvolvedObject?.Name == involvedName).ToList();

    /// <summary>Waits until the model's status satisfies <paramref name="done"/>.</summary>
    public Task<GruModel> WaitForStatusAsync(string ns, string name, Func<GruModel, bool> done, string what) =>
        Poll.UntilAsync(() => GetAsync(ns, name), m => m.Status is not null && done(m), Timeout, what);

    public Task<V1Deployment> WaitForDeploymentAsync(string ns, string name, Func<V1Deployment, bool> done, string what) =>
        Poll.UntilAsync(() => DeploymentAsync(ns, name), done, Timeout, what);

    public async ValueTask DisposeAsync()
    {
        foreach (var app in _operators.ToList())
        {
            try
            {
                await app.StopAsync();
            }
            finally
            {
                await app.DisposeAsync();
            }
        }
        Client.Dispose();
        await Cluster.DisposeAsync();
    }
}
