using System.Net;
using System.Text.Json.Nodes;
using GruOperator.Api;
using GruOperator.Domain.Conditions;
using GruOperator.Tests.Integration;
using GruOperator.Tests.RealCluster;
using GruOperator.Tests.Support;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace GruOperator.Tests.Alerting;

/// <summary>
/// The operator's SLO rule controller with the Prometheus Operator's PrometheusRule CRD (tests/crds/prometheus-operator,
/// v0.82.2) installed, on both API server lanes: a GruModel gets its PrometheusRule, an objective change reaches it,
/// and it goes with the model.
/// </summary>
public abstract class SloRuleControllerTests
{
    private protected abstract Task<OperatorHarness> StartHarnessAsync();

    [Fact]
    public async Task AGruModelGetsItsPrometheusRuleWhichFollowsItsSloAndGoesWithIt()
    {
        await using var harness = await StartHarnessAsync();
        await InstallCrdAsync(harness.Client, harness.Namespace);
        await harness.StartOperatorAsync();
        var model = Models.Cpu("recs", harness.Namespace);
        model.Metadata.Uid = null;
        model.Spec.Slo = new SloSpec { LatencyP95 = "200ms", ErrorRate = "0.01" };
        var created = await harness.CreateAsync(model);

        var rule = await Poll.UntilAsync(() => RuleAsync(harness), _ => true, OperatorHarness.Timeout, "the PrometheusRule recs-slo");
        Assert.Equal(created.Metadata.Uid, rule["metadata"]!["ownerReferences"]![0]!["uid"]!.GetValue<string>());
        Assert.Equal("recs", rule["metadata"]!["labels"]!["serving.gru.dev/model"]!.GetValue<string>());
        Assert.Equal(5, rule["spec"]!["groups"]![0]!["rules"]!.AsArray().Count);
        Assert.Contains("gru-operator", rule["metadata"]!["managedFields"]!.AsArray().Select(m => m!["manager"]!.GetValue<string>()));

        await harness.PatchSpecAsync(harness.Namespace, "recs", new { slo = new { errorRate = "0.002" } });
        await Poll.UntilAsync(() => RuleAsync(harness), r => r.ToJsonString().Contains("(14.4 * 0.002)", StringComparison.Ordinal),
            OperatorHarness.Timeout, "the rule to use errorRate 0.002");
        // Serving is not held up by it.
        await harness.WaitForStatusAsync(harness.Namespace, "recs", m => m.Status!.Phase == ModelPhase.Healthy && m.Status.ObservedGeneration == 2, "recs Healthy");

        await harness.Client.CustomObjects.DeleteNamespacedCustomObjectAsync(GruModel.Group, GruModel.Version, harness.Namespace, GruModel.Plural, "recs");
        await Poll.UntilAsync(async () => await RuleAsync(harness) is null ? "gone" : null, _ => true, OperatorHarness.Timeout, "the rule to go with its GruModel");
    }

    private static async Task<JsonObject?> RuleAsync(OperatorHarness harness)
    {
        try
        {
            return await harness.Client.CustomObjects.GetNamespacedCustomObjectAsync<JsonObject>("monitoring.coreos.com", "v1", harness.Namespace, "prometheusrules", "recs-slo");
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    private static async Task InstallCrdAsync(IKubernetes client, string ns)
    {
        var yaml = await File.ReadAllTextAsync(RepositoryRoot.Combine("tests", "crds", "prometheus-operator", "monitoring.coreos.com_prometheusrules.yaml"));
        try
        {
            await client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(KubernetesYaml.Deserialize<V1CustomResourceDefinition>(yaml));
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.Conflict)
        {
            // already installed (the real lane's cluster is shared)
        }
        await Poll.UntilAsync(async () =>
        {
            await client.CustomObjects.ListNamespacedCustomObjectAsync("monitoring.coreos.com", "v1", ns, "prometheusrules");
            return "served";
        }, _ => true, OperatorHarness.Timeout, "PrometheusRules to be served");
    }
}

[Collection(IntegrationCollection.Name)]
public sealed class SloRuleControllerOnLocalClusterTests : SloRuleControllerTests
{
    private protected override Task<OperatorHarness> StartHarnessAsync() => OperatorHarness.StartAsync();
}

[Collection(KubeApiServerCollection.Name)]
public sealed class SloRuleControllerOnKubeApiServerTests(KubeApiServerFixture cluster) : SloRuleControllerTests
{
    private protected override Task<OperatorHarness> StartHarnessAsync() => OperatorHarness.OnKubeApiServerAsync(cluster);
}
