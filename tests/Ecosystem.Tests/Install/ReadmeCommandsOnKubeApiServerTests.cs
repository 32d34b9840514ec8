using System.Text.Json;
using Ecosystem.Tests.Cluster;
using Ecosystem.Tests.Monitoring;
using TestSupport;

namespace Ecosystem.Tests.Install;

/// <summary>
/// Commands of docs/operations.md on a real kube-apiserver. `kubectl apply -k config/monitoring`, RBAC included (LocalCluster serves none): it installs,
/// re-applies without a diff, the PrometheusRule passes the Prometheus Operator's own CRD schema (vendored, v0.82.2), and
/// the operator's ServiceAccount may do exactly what the Gateway API router and the SLO rule controller need.
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed class ReadmeCommandsOnKubeApiServerTests(KubeApiServerWithKubectl cluster) : IClassFixture<KubeApiServerWithKubectl>
{
    private const string OperatorAccount = "system:serviceaccount:gru-system:gru-operator";

    /// <summary>docs/operations.md "With Argo CD": the patch command merges the health check into an existing argocd-cm, keeping its keys.</summary>
    [Fact]
    public async Task The_argocd_cm_patch_command_adds_the_health_check_and_keeps_what_was_there()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var ct = deadline.Token;
        await cluster.KubectlOkAsync(["apply", "-f", "-"], ct, """
            apiVersion: v1
            kind: Namespace
            metadata: {name: argocd}
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: argocd-cm, namespace: argocd}
            data:
              url: https://argocd.example.com
              resource.customizations.health.argoproj.io_Rollout: "hs = {}\nreturn hs\n"
            """);

        // Exactly as docs/operations.md says, from the repository root.
        var patch = await ExternalTool.Kubectl.RunAsync(["-n", "argocd", "patch", "configmap", "argocd-cm", "--patch-file", "config/argocd/argocd-cm-patch.yaml"],
            Repository.Root, cluster.Environment, cancellationToken: ct);
        Assert.True(patch.ExitCode == 0, patch.Output);

        using var cm = JsonDocument.Parse(await cluster.KubectlOkAsync(["get", "configmap", "argocd-cm", "-n", "argocd", "-o", "json"], ct));
        var data = cm.RootElement.GetProperty("data");
        Assert.Equal(await File.ReadAllTextAsync(Path.Combine(Repository.Root, "config", "argocd", "serving.gru.dev", "GruModel", "health.lua"), ct),
            data.GetProperty("resource.customizations.health.serving.gru.dev_GruModel").GetString());
        Assert.Equal("https://argocd.example.com", data.GetProperty("url").GetString());
        Assert.True(data.TryGetProperty("resource.customizations.health.argoproj.io_Rollout", out _));
    }

    [Fact]
    public async Task The_overlay_installs_with_its_rbac_reapplies_without_diff_and_grants_the_operator_what_it_uses()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var ct = deadline.Token;
        // The real PrometheusRule CRD; PodMonitor and ServiceMonitor as open-schema stand-ins of the same kinds.
        var standIns = string.Join("\n---\n", MonitoringOverlayTests.MonitoringCrds.Split("---\n").Where(d => !d.Contains("prometheusrules", StringComparison.Ordinal)));
        await cluster.KubectlOkAsync(["apply", "-f", "-"], ct, standIns);
        await cluster.KubectlOkAsync(["apply", "-f", Path.Combine(Repository.Root, "tests", "crds", "prometheus-operator", "monitoring.coreos.com_prometheusrules.yaml")], ct);
        // The Gateway API HTTPRoute CRD too, so the authorizer questions below name a served resource.
        await cluster.KubectlOkAsync(["apply", "-f", Path.Combine(Repository.Root, "tests", "crds", "gateway-api", "httproutes.gateway.networking.k8s.io.yaml")], ct);
        await cluster.KubectlOkAsync(["wait", "--for=condition=Established", "crd/httproutes.gateway.networking.k8s.io", "--timeout=60s"], ct);
        foreach (var crd in new[] { "podmonitors", "servicemonitors", "prometheusrules" })
        {
            await cluster.KubectlOkAsync(["wait", "--for=condition=Established", $"crd/{crd}.monitoring.coreos.com", "--timeout=60s"], ct);
        }

        var overlay = Path.Combine(Repository.Root, "config", "monitoring");
        await cluster.KubectlOkAsync(["apply", "-k", overlay], ct);
        await cluster.KubectlOkAsync(["apply", "-k", overlay], ct);
        var diff = await ExternalTool.Kubectl.RunAsync(["diff", "-k", overlay], environment: cluster.Environment, cancellationToken: ct);
        Assert.True(diff.ExitCode == 0, $"re-applied overlay still differs: {diff.Output}");

        using var rule = JsonDocument.Parse(await cluster.KubectlOkAsync(["get", "prometheusrule", "gru-operator", "-n", "gru-system", "-o", "json"], ct));
        var alerts = rule.RootElement.GetProperty("spec").GetProperty("groups").EnumerateArray()
            .SelectMany(g => g.GetProperty("rules").EnumerateArray())
            .Where(r => r.TryGetProperty("alert", out _)).Select(r => r.GetProperty("alert").GetString()).ToList();
        Assert.Contains("GruModelLatencyBudgetBurnFast", alerts);
        Assert.Contains("GruModelErrorBudgetBurnSlow", alerts);

        // What config/rbac grants the operator's ServiceAccount, asked of the real authorizer.
        foreach (var (verb, resource, allowed) in new[]
        {
            ("patch", "httproutes.gateway.networking.k8s.io", true), ("get", "httproutes.gateway.networking.k8s.io", true),
            ("delete", "httproutes.gateway.networking.k8s.io", false), ("create", "httproutes.gateway.networking.k8s.io", false),
            ("create", "prometheusrules.monitoring.coreos.com", true), ("patch", "prometheusrules.monitoring.coreos.com", true),
            ("delete", "prometheusrules.monitoring.coreos.com", false), ("patch", "grumodels.serving.gru.dev", true),
            ("update", "grumodels.serving.gru.dev", false),
        })
        {
            var run = await ExternalTool.Kubectl.RunAsync(["auth", "can-i", verb, resource, "-n", "ml", $"--as={OperatorAccount}"], environment: cluster.Environment, cancellationToken: ct);
            Assert.True(run.Stdout.Trim() == (allowed ? "yes" : "no"), $"can-i {verb} {resource}: {run.Output}");
        }
    }
}
