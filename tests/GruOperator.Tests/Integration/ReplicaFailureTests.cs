using GruOperator.Domain.Conditions;
using GruOperator.Tests.Support;
using k8s;
using k8s.Models;
using Kube.Local;

namespace GruOperator.Tests.Integration;

/// <summary>A ReplicaSet that cannot create pods (quota, RuntimeClass, admission) shows on the GruModel, not as a silent wait.</summary>
[Collection(IntegrationCollection.Name)]
public sealed class ReplicaFailureTests
{
    private const string Ns = "default";
    private const string Quota = "pods \"quota-stable-7d9f5c-x2\" is forbidden: exceeded quota: gpu, requested: requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=4, limited: requests.nvidia.com/gpu=4";

    [Fact]
    public async Task ReplicaFailureIsReadyFalseWithTheApiServersMessageAndAWarningEvent()
    {
        // No deployment controller: the test plays it, reporting what a real one reports when the quota refuses every pod.
        await using var harness = await OperatorHarness.StartAsync(options: new LocalClusterOptions { DeploymentController = false });
        await harness.StartOperatorAsync();
        await harness.CreateAsync(Models.Cpu("quota", Ns));
        var deployment = await harness.WaitForDeploymentAsync(Ns, "quota-stable", _ => true, "the stable Deployment");

        await PatchStatusAsync(harness, new
        {
            observedGeneration = deployment.Metadata.Generation,
            replicas = 0,
            conditions = new object[]
            {
                new { type = "Available", status = "False", reason = "MinimumReplicasUnavailable", message = "Deployment does not have minimum availability." },
                new { type = "ReplicaFailure", status = "True", reason = "FailedCreate", message = Quota },
            },
        });

        var refused = await harness.WaitForStatusAsync(Ns, "quota",
            m => ConditionSet.Find(m.Status!.Conditions, ConditionTypes.Ready)?.Reason == ServingConditions.ReplicaFailure, "Ready=False ReplicaFailure");
        var ready = ConditionSet.Find(refused.Status!.Conditions, ConditionTypes.Ready)!;
        Assert.Equal(Condition.False, ready.Status);
        Assert.Contains("FailedCreate: " + Quota, ready.Message, StringComparison.Ordinal);
        Assert.Equal(ModelPhase.Pending, refused.Status.Phase);
        Assert.Equal(Condition.False, ConditionSet.Find(refused.Status.Conditions, ConditionTypes.Progressing)!.Status);
        var warning = await Poll.UntilAsync(
            async () => (await harness.EventsAsync(Ns, "quota")).FirstOrDefault(e => e.Reason == ServingConditions.ReplicaFailure),
            _ => true, OperatorHarness.Timeout, "a ReplicaFailure Warning Event");
        Assert.Equal("Warning", warning.Type);
        Assert.Contains(Quota, warning.Message, StringComparison.Ordinal);

        // The quota is raised and the pods come up: the failure clears on its own, level-triggered.
        await PatchStatusAsync(harness, new
        {
            observedGeneration = deployment.Metadata.Generation,
            replicas = 1,
            readyReplicas = 1,
            updatedReplicas = 1,
            availableReplicas = 1,
            conditions = new object[] { new { type = "Available", status = "True", reason = "MinimumReplicasAvailable", message = "Deployment has minimum availability." } },
        });
        await harness.WaitForStatusAsync(Ns, "quota", m => m.Status!.Phase == ModelPhase.Healthy, "phase Healthy once pods can be created");
    }

    private static Task<V1Deployment> PatchStatusAsync(OperatorHarness harness, object status) =>
        harness.Client.AppsV1.PatchNamespacedDeploymentStatusAsync(
            new V1Patch(KubernetesJson.Serialize(new { status }), V1Patch.PatchType.MergePatch), "quota-stable", Ns);
}
