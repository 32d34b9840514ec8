using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Kube.Local.Tests.Support;

namespace Kube.Local.Tests.Controllers;

/// <summary>
/// What a scheduler and a kubelet rely on, as the real API server does it: Nodes, pods/binding (once only), and
/// graceful pod deletion (a pod on a registered node stays, marked, until deleted with grace 0).
/// </summary>
public sealed class BindingAndGracefulDeletionTests : IClassFixture<ClusterFixture>
{
    private readonly ClusterFixture _f;

    public BindingAndGracefulDeletionTests(ClusterFixture f) => _f = f;

    [Fact]
    public async Task Binding_sets_the_node_and_PodScheduled_once_and_a_second_binding_conflicts()
    {
        var (ns, node) = await PodAndNodeAsync("bind");
        await BindAsync(ns, "bind", node);
        var pod = await _f.Client.CoreV1.ReadNamespacedPodAsync("bind", ns);
        Assert.Equal(node, pod.Spec.NodeName);
        Assert.Contains(pod.Status.Conditions, c => c is { Type: "PodScheduled", Status: "True" });
        var e = await Assert.ThrowsAsync<HttpOperationException>(() => BindAsync(ns, "bind", "elsewhere"));
        Assert.Equal(HttpStatusCode.Conflict, e.Response.StatusCode);
        var message = System.Text.Json.Nodes.JsonNode.Parse(e.Response.Content)!["message"]!.GetValue<string>();
        Assert.Equal($"Operation cannot be fulfilled on pods/binding \"bind\": pod bind is already assigned to node \"{node}\"", message);
    }

    [Fact]
    public async Task A_pod_on_a_registered_node_waits_out_its_grace_period_until_deleted_with_grace_0()
    {
        var (ns, node) = await PodAndNodeAsync("graceful");
        await BindAsync(ns, "graceful", node);
        await _f.Client.CoreV1.DeleteNamespacedPodAsync("graceful", ns, new V1DeleteOptions { GracePeriodSeconds = 20 });
        var terminating = await _f.Client.CoreV1.ReadNamespacedPodAsync("graceful", ns);
        Assert.Equal(20, terminating.Metadata.DeletionGracePeriodSeconds);
        Assert.NotNull(terminating.Metadata.DeletionTimestamp);

        // The kubelet's status writes during termination do not remove it.
        await _f.Client.CoreV1.PatchNamespacedPodStatusAsync(new V1Patch("""{"status":{"phase":"Running"}}""", V1Patch.PatchType.MergePatch), "graceful", ns);
        Assert.NotNull(await _f.Client.CoreV1.ReadNamespacedPodAsync("graceful", ns));

        await _f.Client.CoreV1.DeleteNamespacedPodAsync("graceful", ns, new V1DeleteOptions { GracePeriodSeconds = 0 });
        var gone = await Assert.ThrowsAsync<HttpOperationException>(() => _f.Client.CoreV1.ReadNamespacedPodAsync("graceful", ns));
        Assert.Equal(HttpStatusCode.NotFound, gone.Response.StatusCode);
    }

    [Fact]
    public async Task An_unbound_pod_goes_at_once()
    {
        var (ns, _) = await PodAndNodeAsync("unbound");
        await _f.Client.CoreV1.DeleteNamespacedPodAsync("unbound", ns);
        var gone = await Assert.ThrowsAsync<HttpOperationException>(() => _f.Client.CoreV1.ReadNamespacedPodAsync("unbound", ns));
        Assert.Equal(HttpStatusCode.NotFound, gone.Response.StatusCode);
    }

    private async Task<(string Ns, string Node)> PodAndNodeAsync(string name)
    {
        var ns = await _f.NamespaceAsync("bg");
        var node = "node-" + ns;
        await _f.Client.CoreV1.CreateNodeAsync(new V1Node { Metadata = new V1ObjectMeta { Name = node } });
        await _f.Client.CoreV1.CreateNamespacedPodAsync(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = name },
            Spec = new V1PodSpec { Containers = [new V1Container { Name = "app", Image = "example/app:1" }] },
        }, ns);
        return (ns, node);
    }

    private async Task BindAsync(string ns, string pod, string node)
    {
        using var _ = await _f.Client.CoreV1.CreateNamespacedPodBindingWithHttpMessagesAsync(new V1Binding
        {
            Metadata = new V1ObjectMeta { Name = pod },
            Target = new V1ObjectReference { Kind = "Node", Name = node },
        }, pod, ns);
    }
}
