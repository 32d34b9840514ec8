using System.Text.Json;
using Ecosystem.Tests.Cluster;
using TestSupport;

namespace Ecosystem.Tests.Monitoring;

/// <summary>
/// docs/operations.md "Monitoring" as written: `kubectl apply -k config/monitoring` on a cluster with the Prometheus Operator's CRDs
/// installs, re-applies without a diff, and its monitors select what really exists: the operator's metrics Service and
/// pods, and the serving pods the operator creates for a GruModel (named port "metrics").
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed partial class MonitoringOverlayTests
{
    /// <summary>
    /// Stand-ins for the Prometheus Operator's CRDs (same group, version, kinds and scope; schema left open): the tests
    /// check what this repository ships, not the Prometheus Operator's own validation.
    /// </summary>
    internal static readonly string MonitoringCrds = string.Join("---\n", new[] { ("PodMonitor", "podmonitors"), ("ServiceMonitor", "servicemonitors"), ("PrometheusRule", "prometheusrules") }
        .Select(k => $$"""
            apiVersion: apiextensions.k8s.io/v1
            kind: CustomResourceDefinition
            metadata: {name: {{k.Item2}}.monitoring.coreos.com}
            spec:
              group: monitoring.coreos.com
              scope: Namespaced
              names: {kind: {{k.Item1}}, listKind: {{k.Item1}}List, plural: {{k.Item2}}, singular: {{k.Item1.ToLowerInvariant()}}}
              versions:
                - name: v1
                  served: true
                  storage: true
                  schema:
                    openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}

            """));

    [Fact]
    public async Task The_overlay_installs_reapplies_without_diff_and_its_monitors_select_the_operator_and_the_serving_pods()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var ct = deadline.Token;
        await using var cluster = await LocalClusterWithKubectl.StartAsync(ct);
        await cluster.KubectlOkAsync(["apply", "-f", "-"], ct, MonitoringCrds);
        foreach (var crd in new[] { "podmonitors", "servicemonitors", "prometheusrules" })
        {
            await cluster.KubectlOkAsync(["wait", "--for=condition=Established", $"crd/{crd}.monitoring.coreos.com", "--timeout=60s"], ct);
        }

        var rendered = await cluster.KubectlOkAsync(["kustomize", Path.Combine(Repository.Root, "config", "monitoring")], ct);
        // LocalCluster serves no RBAC API (docs/development.md "What it knowingly does not do"), so the RBAC objects of config/default
        // are left out here; everything else goes in exactly as rendered.
        var objects = string.Join("\n---\n", rendered.Split("\n---\n").Where(o => !RbacKind().IsMatch(o)));
        Assert.Contains("kind: PrometheusRule", objects, StringComparison.Ordinal);
        await cluster.KubectlOkAsync(["apply", "-f", "-"], ct, objects);
        await cluster.KubectlOkAsync(["apply", "-f", "-"], ct, objects);
        var diff = await cluster.KubectlAsync(["diff", "-f", "-"], ct, objects);
        Assert.True(diff.ExitCode == 0, $"re-applied overlay still differs: {diff.Output}");

        var service = await GetAsync(cluster, "service", "gru-operator-metrics", ct);
        var serviceMonitor = await GetAsync(cluster, "servicemonitor", "gru-operator", ct);
        var manager = await GetAsync(cluster, "deployment", "gru-operator", ct);
        Assert.True(Selects(serviceMonitor.GetProperty("spec").GetProperty("selector").GetProperty("matchLabels"), Labels(service.GetProperty("metadata"))),
            "the ServiceMonitor does not select the gru-operator-metrics Service");
        var managerPod = manager.GetProperty("spec").GetProperty("template");
        Assert.True(Selects(service.GetProperty("spec").GetProperty("selector"), Labels(managerPod.GetProperty("metadata"))),
            "the metrics Service does not select the operator's pods");
        var servicePort = Assert.Single(service.GetProperty("spec").GetProperty("ports").EnumerateArray());
        Assert.Equal(servicePort.GetProperty("name").GetString(), Assert.Single(serviceMonitor.GetProperty("spec").GetProperty("endpoints").EnumerateArray()).GetProperty("port").GetString());
        Assert.Contains(servicePort.GetProperty("targetPort").GetString(), PortNames(managerPod));
        Assert.Contains("--metrics-port=8080", manager.GetProperty("spec").GetProperty("template").GetProperty("spec").GetProperty("containers")[0].GetProperty("args").EnumerateArray().Select(a => a.GetString()));

        // The serving pods: what the operator really creates for a GruModel.
        await cluster.KubectlOkAsync(["apply", "-f", Path.Combine(Repository.Root, "config", "samples", "cpu-minimal.yaml")], ct);
        await using var op = await cluster.StartOperatorAsync(ct);
        var serving = await WaitForAsync(cluster, "deployment", "sample-gru-stable", "default", op, ct);
        var podMonitor = await GetAsync(cluster, "podmonitor", "gru-serving", ct);
        var servingPod = serving.GetProperty("spec").GetProperty("template");
        var podLabels = Labels(servingPod.GetProperty("metadata"));
        foreach (var requirement in podMonitor.GetProperty("spec").GetProperty("selector").GetProperty("matchExpressions").EnumerateArray())
        {
            Assert.Equal("Exists", requirement.GetProperty("operator").GetString());
            Assert.True(podLabels.ContainsKey(requirement.GetProperty("key").GetString()!), $"serving pods lack label {requirement.GetProperty("key")}");
        }

        Assert.True(podMonitor.GetProperty("spec").GetProperty("namespaceSelector").GetProperty("any").GetBoolean());
        Assert.Contains(Assert.Single(podMonitor.GetProperty("spec").GetProperty("podMetricsEndpoints").EnumerateArray()).GetProperty("port").GetString(), PortNames(servingPod));
        var dashboard = await GetAsync(cluster, "configmap", "gru-model-dashboard", ct);
        Assert.Equal("1", Labels(dashboard.GetProperty("metadata"))["grafana_dashboard"]);
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"(?m)^kind: (Cluster)?Role(Binding)?$")]
    private static partial System.Text.RegularExpressions.Regex RbacKind();

    private static Dictionary<string, string> Labels(JsonElement metadata) =>
        metadata.GetProperty("labels").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);

    private static bool Selects(JsonElement selector, IReadOnlyDictionary<string, string> labels) =>
        selector.EnumerateObject().All(p => labels.TryGetValue(p.Name, out var v) && v == p.Value.GetString());

    private static List<string?> PortNames(JsonElement podTemplate) =>
        podTemplate.GetProperty("spec").GetProperty("containers").EnumerateArray()
            .SelectMany(c => c.TryGetProperty("ports", out var ports) ? ports.EnumerateArray() : Enumerable.Empty<JsonElement>())
            .Select(p => p.GetProperty("name").GetString()).ToList();

    private static async Task<JsonElement> GetAsync(LocalClusterWithKubectl cluster, string kind, string name, CancellationToken ct, string ns = "gru-system")
    {
        using var doc = JsonDocument.Parse(await cluster.KubectlOkAsync(["get", kind, name, "-n", ns, "-o", "json"], ct));
        return doc.RootElement.Clone();
    }

    private static async Task<JsonElement> WaitForAsync(LocalClusterWithKubectl cluster, string kind, string name, string ns, OperatorProcess op, CancellationToken ct)
    {
        while (true)
        {
            var run = await cluster.KubectlAsync(["get", kind, name, "-n", ns, "-o", "json"], ct);
            if (run.ExitCode == 0)
            {
                using var doc = JsonDocument.Parse(run.Stdout);
                return doc.RootElement.Clone();
            }

            try
            {
                await Task.Delay(250, ct);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"{kind} {ns}/{name} never appeared; operator output:\n{op.Output}");
            }
        }
    }
}
