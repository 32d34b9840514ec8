using k8s.Models;

namespace GruNodeAgent.Runtime;

/// <summary>The agent's view of one container of a pod across its restarts (guarded by the pod worker's lock).</summary>
internal sealed class ContainerRecord(V1Container spec, bool init)
{
    public V1Container Spec { get; } = spec;
    public bool Init { get; } = init;
    public LaunchSpec? Launch { get; set; }
    public V1ContainerState State { get; set; } = new() { Waiting = new V1ContainerStateWaiting { Reason = init ? "PodInitializing" : "ContainerCreating" } };
    public V1ContainerState? LastState { get; set; }
    public int RestartCount { get; set; }
    public bool Ready { get; set; }
    public bool Started { get; set; }
    public string? ContainerId { get; set; }
    public ContainerProcess? Process { get; set; }

    /// <summary>Why the agent killed the running process (a failed probe), for its terminated state's message.</summary>
    public string? KillMessage { get; set; }

    /// <summary>Consecutive quick restarts, for the CrashLoopBackOff delay.</summary>
    public int BackoffStep { get; set; }

    public V1ContainerStatus ToStatus() => new()
    {
        Name = Spec.Name,
        Image = Spec.Image,
        ImageID = "",
        ContainerID = ContainerId,
        Ready = Ready,
        Started = Init ? null : Started && State.Running is not null,
        RestartCount = RestartCount,
        State = State,
        LastState = LastState ?? new V1ContainerState(),
    };
}
