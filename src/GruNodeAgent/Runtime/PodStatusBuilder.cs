using k8s.Models;

namespace GruNodeAgent.Runtime;

/// <summary>What a pod worker knows of its pod when it reports status.</summary>
internal sealed record PodState(
    IReadOnlyList<ContainerRecord> Init,
    IReadOnlyList<ContainerRecord> Main,
    string? FailedReason,
    string? FailedMessage,
    bool Finished,
    bool Initialized,
    string Ip,
    DateTime StartTime,
    string? QosClass);

/// <summary>
/// The pod status the kubelet would report for a <see cref="PodState"/>: its getPhase rules and its conditions, each
/// keeping its lastTransitionTime while its status stays the same (the kubelet's status manager keeps this apart from
/// the pod workers, and so does the agent).
/// </summary>
internal sealed class PodStatusBuilder
{
    private readonly Dictionary<string, (string Status, DateTime Since)> _conditions = new(StringComparer.Ordinal);

    /// <summary>Starts from the conditions the pod already has, so a restarted agent keeps their transition times.</summary>
    public PodStatusBuilder(IEnumerable<V1PodCondition>? existing, DateTime startTime)
    {
        foreach (var c in existing ?? [])
        {
            _conditions[c.Type] = (c.Status, c.LastTransitionTime ?? startTime);
        }
    }

    /// <summary>The status for <paramref name="state"/> at <paramref name="now"/>; not thread-safe (the worker holds its lock).</summary>
    public V1PodStatus Build(PodState state, DateTime now)
    {
        var main = state.Main.Select(r => r.ToStatus()).ToList();
        var init = state.Init.Select(r => r.ToStatus()).ToList();
        string phase;
        if (state.FailedReason is not null) phase = "Failed";
        else if (state.Finished)
        {
            phase = state.Init.Any(r => r.State.Terminated is { ExitCode: not 0 }) || state.Main.Any(r => r.State.Terminated is { ExitCode: not 0 }) ? "Failed" : "Succeeded";
            if (state.Main.Any(r => r.State.Terminated is null) && phase == "Succeeded") phase = "Failed";
        }
        else if (state.Initialized && state.Main.Any(r => r.State.Running is not null || r.RestartCount > 0 || r.State.Terminated is not null)) phase = "Running";
        else phase = "Pending";

        var terminal = phase is "Failed" or "Succeeded";
        var notReady = state.Main.Where(r => !r.Ready).Select(r => r.Spec.Name).ToList();
        var incomplete = state.Init.Where(r => r.State.Terminated is not { ExitCode: 0 }).Select(r => r.Spec.Name).ToList();
        var readyReason = terminal ? (phase == "Failed" ? "PodFailed" : "PodCompleted") : "ContainersNotReady";
        var readyMessage = terminal ? null : $"containers with unready status: [{string.Join(' ', notReady)}]";
        var conditions = new List<V1PodCondition>
        {
            Condition("Initialized", state.Initialized || incomplete.Count == 0, now, "ContainersNotInitialized", $"containers with incomplete status: [{string.Join(' ', incomplete)}]"),
            Condition("Ready", !terminal && notReady.Count == 0, now, readyReason, readyMessage),
            Condition("ContainersReady", !terminal && notReady.Count == 0, now, readyReason, readyMessage),
            Condition("PodScheduled", true, now, null, null),
        };
        return new V1PodStatus
        {
            Phase = phase,
            Reason = state.FailedReason,
            Message = state.FailedMessage,
            HostIP = "127.0.0.1",
            PodIP = state.Ip.Length == 0 ? null : state.Ip,
            PodIPs = state.Ip.Length == 0 ? null : [new V1PodIP { Ip = state.Ip }],
            StartTime = state.StartTime,
            Conditions = conditions,
            InitContainerStatuses = init.Count == 0 ? null : init,
            ContainerStatuses = main,
            QosClass = state.QosClass,
        };
    }

    private V1PodCondition Condition(string type, bool ok, DateTime now, string? reason, string? message)
    {
        var status = ok ? "True" : "False";
        if (!_conditions.TryGetValue(type, out var previous) || previous.Status != status)
        {
            previous = (status, now);
            _conditions[type] = previous;
        }

        return new V1PodCondition
        {
            Type = type,
            Status = status,
            LastTransitionTime = previous.Since,
            Reason = ok ? null : reason,
            Message = ok ? null : message,
        };
    }
}
