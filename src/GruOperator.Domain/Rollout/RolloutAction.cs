namespace GruOperator.Domain.Rollout;

/// <summary>
/// Something the reconciler must do in the cluster, as data. Ensure* actions are desired state, emitted on every
/// decision (server-side apply makes repeats free); events are emitted once, on the transition that causes them.
/// </summary>
public abstract record RolloutAction;

/// <summary>The stable Deployment serves <paramref name="Model"/> at <paramref name="Revision"/> with <paramref name="Replicas"/> pods.</summary>
public sealed record EnsureStable(string Revision, ModelIdentity Model, int Replicas) : RolloutAction
{
    /// <summary>Set during a shadow step: stable's pods copy this share of their requests to the canary, and the
    /// model's Service selects stable's pods only, so no user reaches the canary.</summary>
    public double? MirrorSample { get; init; }
}

/// <summary>The canary Deployment serves <paramref name="Model"/> at <paramref name="Revision"/> with <paramref name="Replicas"/> pods.</summary>
public sealed record EnsureCanary(string Revision, ModelIdentity Model, int Replicas) : RolloutAction;

/// <summary>The canary Deployment must not exist.</summary>
public sealed record DeleteCanary : RolloutAction;

/// <summary>The HTTPRoute's backendRefs carry exactly these weights (Gateway API routing only).</summary>
public sealed record SetTrafficWeights(int Stable, int Canary) : RolloutAction;

/// <summary>
/// Run the canary analysis for <paramref name="Revision"/> at <paramref name="Step"/> over traffic since
/// <paramref name="Since"/> (the previous run or the step's start) until <paramref name="Until"/>, and feed the run
/// back as <see cref="RolloutInput.Analysis"/>. <paramref name="EvidenceSince"/>, when set, is where the run's second
/// look at its rate SLIs starts: the previous run's window (within the step), while no failure is counted (so a breach that
/// began late in the previous, passed window is judged on all its requests; two counted failures never share a request).
/// <paramref name="StableServes"/> is false when the canary takes all traffic, so stable may have no series.
/// <paramref name="StepSince"/>, when set, is where the run's step look starts: the moment the step was reached (its
/// traffic so far is judged by anytime-valid tests, beside the run's own window). <paramref name="ClosesStep"/>: the run comes
/// after the step's hold, so its Passed would let the step pass; the step look then also tests all the step's requests
/// against the SLO once, with an exact test.
/// </summary>
public sealed record RunAnalysis(
    string Revision, int Step, DateTimeOffset Since, DateTimeOffset Until, DateTimeOffset? EvidenceSince = null, bool StableServes = true,
    DateTimeOffset? StepSince = null, bool ClosesStep = false) : RolloutAction;

/// <summary>Kubernetes Event severity.</summary>
public enum RolloutEventType
{
    /// <summary>Normal.</summary>
    Normal,

    /// <summary>Warning.</summary>
    Warning,
}

/// <summary>Record a Kubernetes Event on the GruModel.</summary>
public sealed record RecordEvent(RolloutEventType Type, string Reason, string Message) : RolloutAction;

/// <summary>Remove the serving.gru.dev/action annotation: the command was acted on (or refused, with an event saying why).</summary>
public sealed record AcknowledgeCommand(RolloutCommand Command) : RolloutAction;
