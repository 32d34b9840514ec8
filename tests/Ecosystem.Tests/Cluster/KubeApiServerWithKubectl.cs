using TestSupport;
using TestSupport.ControlPlane;

namespace Ecosystem.Tests.Cluster;

/// <summary>
/// A real control plane (etcd, kube-apiserver and kube-controller-manager 1.28, RBAC on) with the GruModel CRD and the
/// models of <see cref="KubectlPlugin.KubectlGruFixture"/>, an admin kubeconfig, and a second one for a ServiceAccount allowed only to
/// read GruModels in ml: RBAC denials come from the real authorizer, not an injected 403.
/// </summary>
public sealed class KubeApiServerWithKubectl : IAsyncLifetime
{
    private string _home = "";

    internal KubeControlPlane Plane { get; private set; } = null!;

    internal string Kubeconfig { get; private set; } = "";

    /// <summary>A kubeconfig (context "envtest") for ServiceAccount ml/viewer: get, list and watch on grumodels only.</summary>
    internal string ViewerKubeconfig { get; private set; } = "";

    internal IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string> { ["KUBECONFIG"] = Kubeconfig, ["HOME"] = _home };

    public async Task InitializeAsync()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var ct = deadline.Token;
        Plane = await KubeControlPlane.StartAsync(ct);
        _home = Directory.CreateTempSubdirectory("gru-kubectl-gru-envtest-").FullName;
        Kubeconfig = Plane.WriteKubeconfig(Path.Combine(_home, "kubeconfig"));
        await KubectlOkAsync(["apply", "-f", Path.Combine(Repository.Root, "config", "crds", "serving.gru.dev_grumodels.yaml")], ct);
        await KubectlOkAsync(["wait", "--for=condition=Established", "crd/grumodels.serving.gru.dev", "--timeout=60s"], ct);
        await KubectlOkAsync(["apply", "-f", "-"], ct, KubectlPlugin.KubectlGruFixture.Models);
        await KubectlOkAsync(["patch", "grumodel", "session-recs", "-n", "ml", "--subresource=status", "--type=merge", "-p", KubectlPlugin.KubectlGruFixture.CanaryStatus], ct);

        await KubectlOkAsync(["create", "serviceaccount", "viewer", "-n", "ml"], ct);
        await KubectlOkAsync(["create", "role", "gru-viewer", "-n", "ml", "--verb=get,list,watch", "--resource=grumodels.serving.gru.dev"], ct);
        await KubectlOkAsync(["create", "rolebinding", "gru-viewer", "-n", "ml", "--role=gru-viewer", "--serviceaccount=ml:viewer"], ct);
        var token = (await KubectlOkAsync(["create", "token", "viewer", "-n", "ml", "--duration=1h"], ct)).Trim();
        ViewerKubeconfig = Plane.WriteKubeconfig(Path.Combine(_home, "viewer.kubeconfig"), token);
    }

    /// <summary>Runs `kubectl gru ARGS` (the built kubectl-gru.dll) with the admin KUBECONFIG.</summary>
    internal Task<ToolRun> GruAsync(params string[] arguments) =>
        ExternalTool.Dotnet.RunAsync([BuildOutput.Locate("src/KubectlGru", "kubectl-gru.dll"), .. arguments], environment: Environment,
            cancellationToken: new CancellationTokenSource(TimeSpan.FromMinutes(1)).Token);

    internal async Task<string> KubectlOkAsync(IEnumerable<string> arguments, CancellationToken ct, string? stdin = null)
    {
        var run = await ExternalTool.Kubectl.RunAsync(arguments, _home, Environment, stdin, ct);
        return run.ExitCode == 0 ? run.Stdout : throw new InvalidOperationException($"kubectl {string.Join(' ', arguments)} failed: {run.Output}");
    }

    public async Task DisposeAsync()
    {
        if (Plane is not null) await Plane.DisposeAsync();
        try
        {
            Directory.Delete(_home, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or ArgumentException)
        {
            // a temp directory left behind is harmless
        }
    }
}

