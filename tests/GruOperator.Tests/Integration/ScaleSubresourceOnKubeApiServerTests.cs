using GruOperator.Api;
using GruOperator.Tests.RealCluster;
using GruOperator.Tests.Support;
using k8s;
using k8s.Models;

namespace GruOperator.Tests.Integration;

/// <summary>
/// The GruModel's /scale subresource on a real kube-apiserver with kube-controller-manager (whose HPA controller
/// runs): kubectl scale sets spec.serving.replicas and the operator follows it, status.replicas counts the pods and
/// status.selector names them, and an autoscaling/v2 HorizontalPodAutoscaler can read and write the scale.
/// </summary>
[Collection(KubeApiServerCollection.Name)]
public sealed class ScaleSubresourceOnKubeApiServerTests(KubeApiServerFixture cluster)
{
    [Fact]
    public async Task Kubectl_scale_sets_the_models_replicas_and_status_reports_the_pods_and_their_selector()
    {
        await using var harness = await OperatorHarness.OnKubeApiServerAsync(cluster);
        await harness.StartOperatorAsync();
        await harness.CreateAsync(Models.Cpu("scaled", harness.Namespace));
        await harness.WaitForStatusAsync(harness.Namespace, "scaled", m => m.Status?.Replicas == 1, "status.replicas 1");

        var run = await cluster.Kubectl.RunAsync(["scale", "gru/scaled", "-n", harness.Namespace, "--replicas", "3"]);
        Assert.True(run.ExitCode == 0, run.ToString());

        var model = await harness.WaitForStatusAsync(harness.Namespace, "scaled", m => m.Status?.Replicas == 3 && m.Status.Stable?.ReadyReplicas == 3, "3 replicas ready");
        Assert.Equal(3, model.Spec.Serving!.Replicas);
        Assert.Equal("serving.gru.dev/model=scaled", model.Status!.Selector);
        var deployment = await harness.DeploymentAsync(harness.Namespace, "scaled-stable");
        Assert.Equal(3, deployment!.Spec.Replicas);
        var pods = await harness.Client.CoreV1.ListNamespacedPodAsync(harness.Namespace, labelSelector: model.Status.Selector);
        Assert.Equal(3, pods.Items.Count(p => p.Metadata.DeletionTimestamp is null));

        // What /scale itself answers: the spec's count, the status count and the selector.
        var scale = await ReadScaleAsync(harness);
        Assert.Equal((3, 3, "serving.gru.dev/model=scaled"), (scale.Spec.Replicas!.Value, scale.Status.Replicas, scale.Status.Selector));

        run = await cluster.Kubectl.RunAsync(["scale", "gru/scaled", "-n", harness.Namespace, "--replicas", "1"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        await harness.WaitForDeploymentAsync(harness.Namespace, "scaled-stable", d => d.Spec.Replicas == 1, "the Deployment scaled to 1");

        // /scale refuses what the spec refuses: the schema's bounds hold for it too.
        run = await cluster.Kubectl.RunAsync(["scale", "gru/scaled", "-n", harness.Namespace, "--replicas", "5000"]);
        Assert.NotEqual(0, run.ExitCode);
    }

    [Fact]
    public async Task A_HorizontalPodAutoscaler_reads_the_scale_and_writes_the_models_replicas()
    {
        await using var harness = await OperatorHarness.OnKubeApiServerAsync(cluster);
        await harness.StartOperatorAsync();
        await harness.CreateAsync(Models.Cpu("hpa", harness.Namespace));
        await harness.WaitForStatusAsync(harness.Namespace, "hpa", m => m.Status?.Replicas == 1 && m.Status.Selector is not null, "status.replicas 1");

        await harness.Client.AutoscalingV2.CreateNamespacedHorizontalPodAutoscalerAsync(new V2HorizontalPodAutoscaler
        {
            Metadata = new V1ObjectMeta { Name = "hpa" },
            Spec = new V2HorizontalPodAutoscalerSpec
            {
                ScaleTargetRef = new V2CrossVersionObjectReference { ApiVersion = GruModel.GroupVersion, Kind = GruModel.KindName, Name = "hpa" },
                MinReplicas = 2,
                MaxReplicas = 4,
                Metrics =
                [
                    new V2MetricSpec
                    {
                        Type = "Resource",
                        Resource = new V2ResourceMetricSource { Name = "cpu", Target = new V2MetricTarget { Type = "Utilization", AverageUtilization = 70 } },
                    },
                ],
            },
        }, harness.Namespace);

        // The HPA controller got the scale (AbleToScale) and, below minReplicas, wrote 2 through /scale; the operator followed.
        var hpa = await Poll.UntilAsync(
            async () => (V2HorizontalPodAutoscaler?)await harness.Client.AutoscalingV2.ReadNamespacedHorizontalPodAutoscalerAsync("hpa", harness.Namespace),
            h => h.Status?.Conditions?.Any(c => c.Type == "AbleToScale" && c.Status == "True") == true,
            OperatorHarness.Timeout, "the HPA's AbleToScale=True");
        var able = hpa.Status.Conditions.Single(c => c.Type == "AbleToScale");
        Assert.Contains(able.Reason, new[] { "SucceededGetScale", "SucceededRescale" }); // read the scale; or wrote it as well
        var model = await harness.WaitForStatusAsync(harness.Namespace, "hpa", m => m.Spec.Serving?.Replicas == 2 && m.Status?.Replicas == 2, "the HPA's minimum of 2 replicas");
        Assert.Equal(2, model.Status!.Stable!.Replicas);
        await harness.WaitForDeploymentAsync(harness.Namespace, "hpa-stable", d => d.Spec.Replicas == 2, "the Deployment at 2");
    }

    private static async Task<V1Scale> ReadScaleAsync(OperatorHarness harness) =>
        KubernetesJson.Deserialize<V1Scale>(KubernetesJson.Serialize(
            await harness.Client.CustomObjects.GetNamespacedCustomObjectScaleAsync(GruModel.Group, GruModel.Version, harness.Namespace, GruModel.Plural, "scaled")));
}
