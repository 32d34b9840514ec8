using GruOperator.Domain.Conditions;

namespace GruOperator.Tests.Domain;

public sealed class DeploymentDiagnosisTests
{
    private const string RuntimeClass = "pods \"recs-stable-7d9f5c-\" is forbidden: pod rejected: RuntimeClass \"nvidia\" not found";
    private const string Quota = "pods \"recs-stable-7d9f5c-x2\" is forbidden: exceeded quota: gpu, requested: requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=4, limited: requests.nvidia.com/gpu=4";
    private const string Webhook = "admission webhook \"policy.example.com\" denied the request: images must come from registry.example.com";

    private static readonly WorkloadCondition Available = new("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.");
    private static readonly WorkloadCondition Progressing = new("Progressing", "True", "ReplicaSetUpdated", "ReplicaSet \"recs-stable-7d9f5c\" is progressing.");

    public static TheoryData<string, WorkloadCondition[], string?> ReplicaFailureRows => new()
    {
        { "RuntimeClass not found", [Available, Progressing, new("ReplicaFailure", "True", "FailedCreate", RuntimeClass)], "FailedCreate: " + RuntimeClass },
        { "quota exceeded", [new("ReplicaFailure", "True", "FailedCreate", Quota)], "FailedCreate: " + Quota },
        { "admission denied", [new("ReplicaFailure", "True", "FailedCreate", Webhook)], "FailedCreate: " + Webhook },
        { "no message", [new("ReplicaFailure", "True", "FailedCreate", null)], "Deployment recs-stable cannot create pods (FailedCreate)" },
        { "resolved failure", [new("ReplicaFailure", "False", "FailedCreate", Quota)], null },
        { "healthy deployment", [Available with { Status = "True" }, Progressing], null },
        { "no conditions yet", [], null },
    };

    [Theory]
    [MemberData(nameof(ReplicaFailureRows))]
    public void ReplicaFailureQuotesTheApiServer(string scenario, WorkloadCondition[] conditions, string? expected)
    {
        Assert.True(expected == DeploymentDiagnosis.ReplicaFailure(conditions, "recs-stable"), scenario);
    }

    public static TheoryData<string, WorkloadCondition[], string?> StalledRows => new()
    {
        { "deadline exceeded", [new("Progressing", "False", "ProgressDeadlineExceeded", "ReplicaSet \"m-abc\" has timed out progressing.")], "ReplicaSet \"m-abc\" has timed out progressing." },
        { "deadline exceeded, no message", [new("Progressing", "False", "ProgressDeadlineExceeded", "")], "Deployment recs-stable exceeded its progress deadline" },
        { "progressing", [Progressing], null },
        { "replica failure is not a stall", [new("ReplicaFailure", "True", "FailedCreate", Quota)], null },
    };

    [Theory]
    [MemberData(nameof(StalledRows))]
    public void StalledQuotesTheDeployment(string scenario, WorkloadCondition[] conditions, string? expected)
    {
        Assert.True(expected == DeploymentDiagnosis.Stalled(conditions, "recs-stable"), scenario);
    }
}
