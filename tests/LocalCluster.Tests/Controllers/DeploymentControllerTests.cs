using k8s;
using k8s.Models;
using Kube.Local.Tests.Support;

namespace Kube.Local.Tests.Controllers;

/// <summary>The optional deployment controller: Deployment → ReplicaSet → Pods, statuses from Pod readiness.</summary>
public sealed class DeploymentControllerTests : IClassFixture<ControllerClusterFixture>
{
    private readonly ControllerClusterFixture _f;

    public DeploymentControllerTests(ControllerClusterFixture f) => _f = f;

    private static V1Deployment Deployment(string name, int replicas, string image) => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Spec = new V1DeploymentSpec
        {
            Replicas = replicas,
            Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = name } },
            Template = new V1PodTemplateSpec
            {
                Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = name } },
                Spec = new V1PodSpec { Containers = [new V1Container { Name = "app", Image = image }] },
            },
        },
    };

    private async Task<string> NamespaceAsync()
    {
        var ns = $"dc-{Guid.NewGuid():N}"[..12];
        await _f.Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = ns } });
        return ns;
    }

    [Fact]
    public async Task A_deployment_gets_a_replicaset_and_ready_pods_and_reports_Available()
    {
        var ns = await NamespaceAsync();
        await _f.Client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("web", 3, "example/web:1"), ns);
        var d = await Eventually.GetAsync(() => _f.Client.AppsV1.ReadNamespacedDeploymentAsync("web", ns),
            x => x.Status?.AvailableReplicas == 3 && x.Status.ObservedGeneration == 1, "3 available replicas");
        Assert.Contains(d.Status.Conditions, c => c.Type == "Available" && c.Status == "True");
        Assert.Contains(d.Status.Conditions, c => c.Type == "Progressing" && c.Reason == "NewReplicaSetAvailable");
        var rs = Assert.Single((await _f.Client.AppsV1.ListNamespacedReplicaSetAsync(ns)).Items);
        Assert.Equal(d.Metadata.Uid, rs.Metadata.OwnerReferences.Single().Uid);
        var pods = (await _f.Client.CoreV1.ListNamespacedPodAsync(ns, labelSelector: "app=web")).Items;
        Assert.Equal(3, pods.Count);
        Assert.All(pods, p => Assert.Equal(rs.Metadata.Uid, p.Metadata.OwnerReferences.Single().Uid));
    }

    [Fact]
    public async Task A_failed_pod_is_replaced_and_no_longer_counted_as_kube_controller_manager_does()
    {
        var ns = await NamespaceAsync();
        await _f.Client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("job", 1, "example/job:1"), ns);
        await Eventually.GetAsync(() => _f.Client.AppsV1.ReadNamespacedDeploymentAsync("job", ns), x => x.Status?.AvailableReplicas == 1, "first pod ready");
        var first = Assert.Single((await _f.Client.CoreV1.ListNamespacedPodAsync(ns)).Items);

        await _f.Cluster.Pods.MarkFailedAsync(ns, first.Metadata.Name, "Error");

        var pods = await Eventually.GetAsync(() => _f.Client.CoreV1.ListNamespacedPodAsync(ns), x => x.Items.Count == 2, "a replacement pod");
        Assert.Equal("Failed", pods.Items.Single(p => p.Metadata.Name == first.Metadata.Name).Status.Phase);
        var rs = await Eventually.GetAsync(async () => Assert.Single((await _f.Client.AppsV1.ListNamespacedReplicaSetAsync(ns)).Items),
            x => x.Status?.Replicas == 1 && x.Status.ReadyReplicas == 1, "the ReplicaSet to count only the live pod");
        Assert.Equal(1, rs.Status.AvailableReplicas);
        await Eventually.GetAsync(() => _f.Client.AppsV1.ReadNamespacedDeploymentAsync("job", ns),
            x => x.Status?.Replicas == 1 && x.Status.AvailableReplicas == 1, "the Deployment to count only the live pod");
    }

    [Fact]
    public async Task Changing_the_template_rolls_to_a_new_replicaset_and_scales_the_old_one_down()
    {
        var ns = await NamespaceAsync();
        await _f.Client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("api", 2, "example/api:1"), ns);
        await Eventually.GetAsync(() => _f.Client.AppsV1.ReadNamespacedDeploymentAsync("api", ns), x => x.Status?.AvailableReplicas == 2, "first rollout");
        var patch = """{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"example/api:2"}]}}}}""";
        await _f.Client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch(patch, V1Patch.PatchType.StrategicMergePatch), "api", ns);
        await Eventually.GetAsync(() => _f.Client.AppsV1.ReadNamespacedDeploymentAsync("api", ns),
            x => x.Status?.ObservedGeneration == 2 && x.Status.UpdatedReplicas == 2 && x.Status.Replicas == 2 && x.Status.AvailableReplicas == 2, "second rollout");
        var sets = (await _f.Client.AppsV1.ListNamespacedReplicaSetAsync(ns)).Items;
        Assert.Equal(2, sets.Count);
        Assert.Contains(sets, s => s.Spec.Replicas == 0);
        var pods = (await _f.Client.CoreV1.ListNamespacedPodAsync(ns)).Items;
        Assert.All(pods, p => Assert.Equal("example/api:2", p.Spec.Containers[0].Image));
    }

    [Fact]
    public async Task Deleting_a_deployment_collects_its_replicasets_and_pods()
    {
        var ns = await NamespaceAsync();
        await _f.Client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("tmp", 2, "example/tmp:1"), ns);
        await Eventually.GetAsync(() => _f.Client.AppsV1.ReadNamespacedDeploymentAsync("tmp", ns), x => x.Status?.AvailableReplicas == 2, "rollout");
        await _f.Client.AppsV1.DeleteNamespacedDeploymentAsync("tmp", ns);
        await Eventually.GetAsync(async () => (await _f.Client.CoreV1.ListNamespacedPodAsync(ns)).Items.Count + (await _f.Client.AppsV1.ListNamespacedReplicaSetAsync(ns)).Items.Count,
            n => n == 0, "replicasets and pods to be collected");
    }
}
