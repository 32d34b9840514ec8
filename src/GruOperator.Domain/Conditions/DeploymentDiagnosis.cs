namespace GruOperator.Domain.Conditions;

/// <summary>A condition of a Deployment as the API server reports it (apps/v1 DeploymentCondition).</summary>
public sealed record WorkloadCondition(string Type, string Status, string? Reason, string? Message);

/// <summary>
/// Reads a Deployment's own conditions for what waiting cannot fix: pods that cannot even be created, or a rollout
/// past its progress deadline. Each answer is the API server's words, so the user sees the cause, not a symptom.
/// </summary>
public static class DeploymentDiagnosis
{
    /// <summary>
    /// Why the Deployment's ReplicaSet cannot create pods (condition ReplicaFailure=True, reason FailedCreate: a missing
    /// RuntimeClass, an exceeded quota, an admission webhook's refusal), or null.
    /// </summary>
    /// <example>ReplicaFailure=True FailedCreate "pods "m-stable-7d9f-" is forbidden: exceeded quota: gpu, requested:
    /// requests.nvidia.com/gpu=1, used: 4, limited: 4" → that message.</example>
    public static string? ReplicaFailure(IEnumerable<WorkloadCondition> conditions, string deploymentName) =>
        conditions.FirstOrDefault(c => c is { Type: "ReplicaFailure", Status: Condition.True }) is { } failure
            ? Describe(failure, $"Deployment {deploymentName} cannot create pods")
            : null;

    // "FailedCreate: <the API server's refusal>": the reason says which step failed, the message why.

    /// <summary>The Deployment's message when it exceeded progressDeadlineSeconds (Progressing=False ProgressDeadlineExceeded), or null.</summary>
    public static string? Stalled(IEnumerable<WorkloadCondition> conditions, string deploymentName) =>
        conditions.FirstOrDefault(c => c is { Type: "Progressing", Status: Condition.False, Reason: ServingConditions.ProgressDeadlineExceeded }) is { } stalled
            ? (string.IsNullOrWhiteSpace(stalled.Message) ? $"Deployment {deploymentName} exceeded its progress deadline" : stalled.Message.Trim())
            : null;

    private static string Describe(WorkloadCondition condition, string fallback)
    {
        var message = condition.Message?.Trim();
        if (string.IsNullOrEmpty(message)) return string.IsNullOrEmpty(condition.Reason) ? fallback : $"{fallback} ({condition.Reason})";
        return string.IsNullOrEmpty(condition.Reason) ? message : $"{condition.Reason}: {message}";
    }
}
