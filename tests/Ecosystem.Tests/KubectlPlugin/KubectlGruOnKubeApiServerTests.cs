using System.Text.Json;
using TestSupport;
using TestSupport.ControlPlane;

namespace Ecosystem.Tests.KubectlPlugin;

/// <summary>
/// A real control plane (etcd, kube-apiserver and kube-controller-manager 1.28, RBAC on) with the GruModel CRD and the
/// models of <see cref="KubectlGruFixture"/>, an admin kubeconfig, and a second one for a ServiceAccount allowed only to
/// read GruModels in ml: RBAC denials come from the real authorizer, not an injected 403.
/// </summary>
public sealed class KubectlGruOnKubeApiServerFixture : IAsyncLifetime
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
        await KubectlOkAsync(["apply", "-f", "-"], ct, KubectlGruFixture.Models);
        await KubectlOkAsync(["patch", "grumodel", "session-recs", "-n", "ml", "--subresource=status", "--type=merge", "-p", KubectlGruFixture.CanaryStatus], ct);

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

/// <summary>`kubectl gru` against a real kube-apiserver: the same reads and writes as on LocalCluster, and real RBAC denials.</summary>
[Collection(Cluster.ProcessCollection.Name)]
public sealed class KubectlGruOnKubeApiServerTests(KubectlGruOnKubeApiServerFixture fixture) : IClassFixture<KubectlGruOnKubeApiServerFixture>
{
    private static CancellationToken Deadline => new CancellationTokenSource(TimeSpan.FromMinutes(1)).Token;

    [Fact]
    public async Task List_and_status_and_history_read_the_status_as_the_operator_writes_it()
    {
        var list = await fixture.GruAsync("list", "-A");
        var status = await fixture.GruAsync("status", "session-recs", "-n", "ml");
        var history = await fixture.GruAsync("history", "session-recs", "-n", "ml");

        Assert.True(list.ExitCode == 0, list.Output);
        var line = Assert.Single(list.Stdout.Split('\n'), l => l.Contains("session-recs", StringComparison.Ordinal));
        Assert.Equal(["ml", "session-recs", "Progressing", "4c1a2f9e8d7b", "10%", "1", "Passed", "3/3"], line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[..8]);
        Assert.Contains(list.Stdout.Split('\n'), l => l.Contains("default", StringComparison.Ordinal) && l.Contains("sample-gru", StringComparison.Ordinal));
        Assert.True(status.ExitCode == 0, status.Output);
        Assert.Contains("canary: revision 4, model 9f8e7d6c5b4a, step 1, weight 10%", status.Stdout, StringComparison.Ordinal);
        var metric = Assert.Single(status.Stdout.Split('\n'), l => l.TrimStart().StartsWith("latencyP95", StringComparison.Ordinal));
        Assert.Equal(["latencyP95", "0.081", "0.2", "0.079", "0.4124", "Passed"], metric.Split(' ', StringSplitOptions.RemoveEmptyEntries)[..6]);
        Assert.True(history.ExitCode == 0, history.Output);
        Assert.Equal(["2", "7a6b5c4d3e2f", "RolledBack", "AnalysisFailed"],
            Assert.Single(history.Stdout.Split('\n'), l => l.Contains("RolledBack", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[..4]);
    }

    [Theory]
    [InlineData("promote")]
    [InlineData("abort")]
    public async Task Actions_write_only_the_action_annotation(string action)
    {
        var before = await GetAsync("sample-gru", "default");

        var run = await fixture.GruAsync(action, "sample-gru");

        Assert.True(run.ExitCode == 0, run.Output);
        var after = await GetAsync("sample-gru", "default");
        Assert.Equal(action, after.GetProperty("metadata").GetProperty("annotations").GetProperty("serving.gru.dev/action").GetString());
        Assert.Equal(before.GetProperty("metadata").GetProperty("generation").GetInt64(), after.GetProperty("metadata").GetProperty("generation").GetInt64());
        Assert.Equal(before.GetProperty("spec").GetRawText(), after.GetProperty("spec").GetRawText());
        var mine = Assert.Single(after.GetProperty("metadata").GetProperty("managedFields").EnumerateArray(), m => m.GetProperty("manager").GetString() == "kubectl-gru");
        Assert.Equal(["f:annotations"], mine.GetProperty("fieldsV1").GetProperty("f:metadata").EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public async Task An_unknown_name_is_a_clear_error()
    {
        var run = await fixture.GruAsync("status", "sesion-recs", "-n", "ml");

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith("error: GruModel \"sesion-recs\" not found in namespace \"ml\"", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_real_authorizer_denial_says_who_may_not_do_what_where()
    {
        var read = await fixture.GruAsync("--kubeconfig", fixture.ViewerKubeconfig, "status", "session-recs", "-n", "ml");
        var promote = await fixture.GruAsync("--kubeconfig", fixture.ViewerKubeconfig, "promote", "session-recs", "-n", "ml");
        var elsewhere = await fixture.GruAsync("--kubeconfig", fixture.ViewerKubeconfig, "list", "-n", "default");

        Assert.True(read.ExitCode == 0, read.Output);
        Assert.Equal(1, promote.ExitCode);
        Assert.StartsWith("error: forbidden: context \"envtest\" may not patch grumodel \"session-recs\" in namespace \"ml\"", promote.Stderr, StringComparison.Ordinal);
        Assert.Contains("Ask for a Role granting patch on grumodels.serving.gru.dev", promote.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, elsewhere.ExitCode);
        Assert.StartsWith("error: forbidden: context \"envtest\" may not list", elsewhere.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", promote.Stderr + elsewhere.Stderr, StringComparison.Ordinal);
        // Nothing was written by the denied action.
        var model = await GetAsync("session-recs", "ml");
        Assert.False(model.GetProperty("metadata").TryGetProperty("annotations", out var annotations) && annotations.TryGetProperty("serving.gru.dev/action", out _));
    }

    private async Task<JsonElement> GetAsync(string name, string ns)
    {
        using var doc = JsonDocument.Parse(await fixture.KubectlOkAsync(["get", "grumodel", name, "-n", ns, "-o", "json", "--show-managed-fields"], Deadline));
        return doc.RootElement.Clone();
    }
}
