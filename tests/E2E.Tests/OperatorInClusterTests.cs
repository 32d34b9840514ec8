using System.Text.Json;
using E2E.Tests.Lane;
using k8s;
using k8s.Models;
using Xunit.Abstractions;

namespace E2E.Tests;

/// <summary>
/// The operator as a user installs it (config/default through an overlay naming the images built here): pods in real
/// containers, under its own ServiceAccount token, with leader election on a Lease, probes and /metrics.
/// </summary>
[Collection(RealNodeCollection.Name)]
public sealed class OperatorInClusterTests(RealNodeLane lane, ITestOutputHelper output)
{
    [Fact]
    public async Task The_operator_runs_from_its_image_holds_the_lease_answers_probes_and_metrics_and_is_never_forbidden()
    {
        output.WriteLine($"lane set-up (packages present; control plane, registry, Prometheus, images, node Ready): {lane.SetupSeconds} s");
        output.WriteLine($"kubectl apply -k → operator Deployment available: {lane.OperatorInstallSeconds:0.0} s");
        output.WriteLine(lane.StartLog);

        var pods = (await lane.Client.CoreV1.ListNamespacedPodAsync(RealNodeLane.OperatorNamespace, labelSelector: "app.kubernetes.io/name=gru-operator")).Items;
        Assert.Equal(2, pods.Count(IsReady));
        foreach (var pod in pods)
        {
            Assert.Equal($"{lane.ImagePrefix}/gru-operator:{lane.ImageTag}", pod.Spec.Containers[0].Image);
            Assert.Equal("gru-operator", pod.Spec.ServiceAccountName);
            Assert.Equal(0, pod.Status.ContainerStatuses[0].RestartCount);
        }

        // One replica leads: the Lease names a running operator pod (the identity is the pod name, from the downward API).
        var lease = await RealNodeLane.UntilAsync(
            () => lane.Client.CoordinationV1.ReadNamespacedLeaseAsync("gru-operator-leader", RealNodeLane.OperatorNamespace),
            l => pods.Any(p => p.Metadata.Name == l.Spec.HolderIdentity), TimeSpan.FromSeconds(60), "a running operator pod to hold the Lease",
            l => l.Spec.HolderIdentity ?? "(none)");
        var leader = pods.Single(p => p.Metadata.Name == lease.Spec.HolderIdentity);

        // Probes and /metrics, over the pod addresses the CNI gave them, as the kubelet and Prometheus reach them.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        foreach (var pod in pods)
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync($"http://{pod.Status.PodIP}:8081/healthz")).StatusCode);
        }

        var metrics = await http.GetStringAsync($"http://{leader.Status.PodIP}:8080/metrics");
        Assert.Contains("controller_reconcile_total", metrics, StringComparison.Ordinal);

        var logs = await lane.KubectlAsync(["logs", "-n", RealNodeLane.OperatorNamespace, leader.Metadata.Name]);
        Assert.Contains($"{leader.Metadata.Name} is now the leader", logs, StringComparison.Ordinal);
        Assert.DoesNotContain("Forbidden", logs, StringComparison.Ordinal);

        // Not one request of the operator's ServiceAccount refused by the real authorizer, in the whole run so far. An Event
        // a finalizer records while a test namespace is being deleted is refused by NamespaceLifecycle admission, not by
        // RBAC (the operator drops it quietly, as client-go does): that 403 says nothing about the operator's permissions.
        var forbidden = File.ReadLines(lane.AuditLog)
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Where(e => e.GetProperty("user").GetProperty("username").GetString() == "system:serviceaccount:gru-system:gru-operator"
                && e.TryGetProperty("responseStatus", out var s) && s.TryGetProperty("code", out var code) && code.GetInt32() == 403
                && !IsNamespaceTerminating(s))
            .Select(e => $"{e.GetProperty("verb").GetString()} {e.GetProperty("requestURI").GetString()}")
            .ToList();
        Assert.True(forbidden.Count == 0, "403s for the operator: " + string.Join("\n", forbidden));
        Assert.Contains(File.ReadLines(lane.AuditLog), l => l.Contains("system:serviceaccount:gru-system:gru-operator", StringComparison.Ordinal));
    }

    private static bool IsNamespaceTerminating(JsonElement status) =>
        status.TryGetProperty("details", out var details) && details.TryGetProperty("causes", out var causes)
        && causes.EnumerateArray().Any(c => c.TryGetProperty("reason", out var r) && r.GetString() == "NamespaceTerminating");

    internal static bool IsReady(V1Pod pod) =>
        pod.Metadata.DeletionTimestamp is null && pod.Status?.Conditions?.Any(c => c is { Type: "Ready", Status: "True" }) == true;
}
