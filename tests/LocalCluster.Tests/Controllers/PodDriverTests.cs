using k8s;
using k8s.Models;
using Kube.Local.Tests.Support;

namespace Kube.Local.Tests.Controllers;

/// <summary>The pod-status driver writes what a scheduler and kubelet would report.</summary>
public sealed class PodDriverTests : IClassFixture<ClusterFixture>
{
    private readonly ClusterFixture _f;

    public PodDriverTests(ClusterFixture f) => _f = f;

    private async Task<string> PodAsync(string name)
    {
        var ns = await _f.NamespaceAsync("pd");
        var pod = await _f.Client.CoreV1.CreateNamespacedPodAsync(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = name },
            Spec = new V1PodSpec { Containers = [new V1Container { Name = "app", Image = "example/app:1" }] },
        }, ns);
        Assert.Equal("Pending", pod.Status.Phase);
        return ns;
    }

    [Fact]
    public async Task MarkReady_reports_Running_with_Ready_and_ContainersReady_true()
    {
        var ns = await PodAsync("ready");
        await _f.Cluster.Pods.MarkReadyAsync(ns, "ready");
        var pod = await _f.Client.CoreV1.ReadNamespacedPodAsync("ready", ns);
        Assert.Equal("Running", pod.Status.Phase);
        Assert.Contains(pod.Status.Conditions, c => c.Type == "Ready" && c.Status == "True");
        Assert.Contains(pod.Status.Conditions, c => c.Type == "PodScheduled" && c.Status == "True");
        Assert.True(pod.Status.ContainerStatuses.Single().Ready);
        Assert.False(string.IsNullOrEmpty(pod.Status.PodIP));
        Assert.Equal("local-node", pod.Spec.NodeName);
    }

    [Fact]
    public async Task MarkUnschedulable_reports_PodScheduled_False_with_reason_and_message()
    {
        var ns = await PodAsync("stuck");
        await _f.Cluster.Pods.MarkUnschedulableAsync(ns, "stuck", "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.");
        var pod = await _f.Client.CoreV1.ReadNamespacedPodAsync("stuck", ns);
        Assert.Equal("Pending", pod.Status.Phase);
        var scheduled = Assert.Single(pod.Status.Conditions);
        Assert.Equal(("PodScheduled", "False", "Unschedulable"), (scheduled.Type, scheduled.Status, scheduled.Reason));
        Assert.Equal("0/1 nodes are available: 1 Insufficient nvidia.com/gpu.", scheduled.Message);
    }

    [Fact]
    public async Task MarkRunningNotReady_reports_Running_with_Ready_false()
    {
        var ns = await PodAsync("warming");
        await _f.Cluster.Pods.MarkRunningNotReadyAsync(ns, "warming");
        var pod = await _f.Client.CoreV1.ReadNamespacedPodAsync("warming", ns);
        Assert.Equal("Running", pod.Status.Phase);
        var ready = pod.Status.Conditions.Single(c => c.Type == "Ready");
        Assert.Equal(("False", "ContainersNotReady"), (ready.Status, ready.Reason));
        await _f.Cluster.Pods.MarkReadyAsync(ns, "warming");
        var later = await _f.Client.CoreV1.ReadNamespacedPodAsync("warming", ns);
        Assert.Equal("True", later.Status.Conditions.Single(c => c.Type == "Ready").Status);
    }
}
