using GruOperator.Reconciliation;
using k8s.Models;

namespace GruOperator.Tests.Reconciliation;

public sealed class PodDiagnosisTests
{
    public static TheoryData<string, V1PodStatus, string?> FailureRows => new()
    {
        { "running and ready", new V1PodStatus { Phase = "Running", ContainerStatuses = [Running("gru-server")] }, null },
        { "still pulling is not a failure", new V1PodStatus { Phase = "Pending", ContainerStatuses = [Waiting("gru-server", "ContainerCreating", null)] }, null },
        { "crash loop names the container and the last message", new V1PodStatus
            {
                Phase = "Running",
                ContainerStatuses = [new V1ContainerStatus { Name = "gru-server", State = new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "CrashLoopBackOff" } }, LastState = new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = 1, Message = "model digest mismatch" } } }],
            }, "pod p container gru-server is CrashLoopBackOff: model digest mismatch" },
        { "failed model fetch in the init container", new V1PodStatus
            {
                Phase = "Pending",
                InitContainerStatuses = [new V1ContainerStatus { Name = "model-fetcher", State = new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = 3, Reason = "Error", Message = "sha256 mismatch" } } }],
            }, "pod p container model-fetcher exited with code 3 (Error): sha256 mismatch" },
        { "image pull", new V1PodStatus { Phase = "Pending", ContainerStatuses = [Waiting("gru-server", "ImagePullBackOff", "Back-off pulling image x")] }, "pod p container gru-server is ImagePullBackOff: Back-off pulling image x" },
        { "failed pod with a reason", new V1PodStatus { Phase = "Failed", Reason = "Evicted", Message = "low on memory" }, "pod p failed: Evicted: low on memory" },
    };

    [Theory]
    [MemberData(nameof(FailureRows))]
    public void FailureIsDescribedInTheKubeletsWords(string scenario, V1PodStatus status, string? expected)
    {
        var pod = new V1Pod { Metadata = new V1ObjectMeta { Name = "p" }, Status = status };
        Assert.True(expected == PodDiagnosis.Failure(pod), $"{scenario}: {PodDiagnosis.Failure(pod)}");
    }

    [Fact]
    public void UnschedulableReturnsTheSchedulersMessage()
    {
        var pod = new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "p" },
            Status = new V1PodStatus { Conditions = [new V1PodCondition { Type = "PodScheduled", Status = "False", Reason = "Unschedulable", Message = "0/2 nodes: Insufficient nvidia.com/gpu" }] },
        };
        Assert.Equal("0/2 nodes: Insufficient nvidia.com/gpu", PodDiagnosis.Unschedulable(pod));
        Assert.Null(PodDiagnosis.Unschedulable(new V1Pod { Metadata = new V1ObjectMeta { Name = "q" }, Status = new V1PodStatus() }));
    }

    private static V1ContainerStatus Running(string name) => new() { Name = name, Ready = true, State = new V1ContainerState { Running = new V1ContainerStateRunning() } };

    private static V1ContainerStatus Waiting(string name, string reason, string? message) =>
        new() { Name = name, State = new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = reason, Message = message } } };
}
