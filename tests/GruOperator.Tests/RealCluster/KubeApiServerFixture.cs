using System.Net;
using GruOperator.Api;
using GruOperator.Tests.Support;
using k8s;
using k8s.Autorest;
using k8s.Models;
using TestSupport.ControlPlane;

namespace GruOperator.Tests.RealCluster;

/// <summary>
/// One real control plane (etcd + kube-apiserver + kube-controller-manager v1.28) for every test of the
/// <see cref="KubeApiServerCollection"/>, installed the way a user installs the operator: <c>kubectl apply -k config/default</c>.
/// Tests isolate themselves by namespace (<see cref="NewNamespaceAsync"/>). Missing binaries fail every test with one message.
/// </summary>
public sealed class KubeApiServerFixture : IAsyncLifetime
{
    private string _home = "";
    private int _namespaces;

    public KubeControlPlane ControlPlane { get; private set; } = null!;

    public IKubernetes Client { get; private set; } = null!;

    /// <summary>kubectl against this cluster as cluster-admin.</summary>
    public Kubectl Kubectl { get; private set; } = null!;

    public string Kubeconfig { get; private set; } = "";

    /// <summary>What the first <c>kubectl apply -k config/default</c> answered.</summary>
    public KubectlRun Install { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        ControlPlane = await KubeControlPlane.StartAsync();
        Client = new Kubernetes(ControlPlane.ClientConfiguration);
        _home = Directory.CreateTempSubdirectory("gru-envtest-kubectl-").FullName;
        Kubeconfig = ControlPlane.WriteKubeconfig(Path.Combine(_home, "kubeconfig"));
        Kubectl = new Kubectl(Kubeconfig, _home);

        Install = await Kubectl.RunAsync(["apply", "-k", RepositoryRoot.Combine("config", "default")]);
        if (Install.ExitCode != 0)
        {
            throw new InvalidOperationException($"kubectl apply -k config/default failed on kube-apiserver 1.28:\n{Install}");
        }

        var wait = await Kubectl.RunAsync(["wait", "--for=condition=Established", $"crd/{GruModel.Plural}.{GruModel.Group}", "--timeout=60s"]);
        if (wait.ExitCode != 0)
        {
            throw new InvalidOperationException($"the GruModel CRD was not Established:\n{wait}");
        }

        // Clusters with GPU nodes define the RuntimeClass GPU models name; without it the RuntimeClass admission plugin
        // refuses their pods (FailedCreate), which is not what the shared tests are about.
        await Client.NodeV1.CreateRuntimeClassAsync(new V1RuntimeClass { Metadata = new V1ObjectMeta { Name = "nvidia" }, Handler = "nvidia" });
    }

    /// <summary>A fresh namespace, with its default ServiceAccount (which Pods need) already created by the controller manager.</summary>
    public async Task<string> NewNamespaceAsync(string prefix)
    {
        var name = $"{prefix}-{Interlocked.Increment(ref _namespaces)}";
        await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = name } });
        await Poll.UntilAsync(async () =>
        {
            try
            {
                return await Client.CoreV1.ReadNamespacedServiceAccountAsync("default", name);
            }
            catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
            {
                return null;
            }
        }, _ => true, TimeSpan.FromSeconds(60), $"the default ServiceAccount in {name}");
        return name;
    }

    public async Task DisposeAsync()
    {
        Client?.Dispose();
        if (ControlPlane is not null)
        {
            await ControlPlane.DisposeAsync();
        }

        try
        {
            Directory.Delete(_home, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or ArgumentException)
        {
            // best-effort cleanup of a temp directory
        }
    }
}

/// <summary>Every test on the real control plane: one cluster, one test at a time (the machine has two cores).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class KubeApiServerCollection : ICollectionFixture<KubeApiServerFixture>
{
    public const string Name = "KubeApiServer";
}
