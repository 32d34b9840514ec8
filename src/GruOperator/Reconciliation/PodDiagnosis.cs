using k8s.Models;

namespace GruOperator.Reconciliation;

/// <summary>Reads why a serving pod is not coming up, in the words the kubelet and scheduler used.</summary>
internal static class PodDiagnosis
{
    // Waiting reasons that will not resolve by waiting: a person has to act (image, config, crash).
    private static readonly HashSet<string> StuckReasons = new(StringComparer.Ordinal)
    {
        "CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError",
    };

    /// <summary>The scheduler's message when the pod cannot be placed, else null.</summary>
    public static string? Unschedulable(V1Pod pod) =>
        pod.Status?.Conditions?.FirstOrDefault(c => c is { Type: "PodScheduled", Status: "False", Reason: "Unschedulable" }) is { } condition
            ? condition.Message ?? ""
            : null;

    /// <summary>A sentence naming the pod, the container and the failure, or null when nothing failed.</summary>
    public static string? Failure(V1Pod pod)
    {
        var name = pod.Metadata.Name;
        var container = ContainerFailure(pod);
        if (pod.Status?.Phase == "Failed")
        {
            var why = string.Join(": ", new[] { pod.Status.Reason, pod.Status.Message }.Where(s => !string.IsNullOrEmpty(s)));
            return $"pod {name} failed{Suffix(why)}{(container is null ? "" : "; " + container)}";
        }
        return container is null ? null : $"pod {name} {container}";
    }

    private static string? ContainerFailure(V1Pod pod)
    {
        var statuses = (pod.Status?.InitContainerStatuses ?? []).Concat(pod.Status?.ContainerStatuses ?? []);
        foreach (var container in statuses)
        {
            if (container.State?.Waiting is { Reason: { } reason } waiting && StuckReasons.Contains(reason))
            {
                return $"container {container.Name} is {reason}{Suffix(waiting.Message ?? container.LastState?.Terminated?.Message)}";
            }
            if (container.State?.Terminated is { ExitCode: not 0 } terminated)
            {
                return $"container {container.Name} exited with code {terminated.ExitCode} ({terminated.Reason ?? "Error"}){Suffix(terminated.Message)}";
            }
        }
        return null;
    }

    private static string Suffix(string? detail) => string.IsNullOrWhiteSpace(detail) ? "" : ": " + detail.Trim();
}
