using GruOperator.Domain.Analysis;
using GruOperator.Domain.Conditions;
using GruOperator.Domain.Rollout;
using static GruOperator.Tests.Domain.Rollout.RolloutWorld;

namespace GruOperator.Tests.Domain.Rollout;

/// <summary>Where a reconcile dies.</summary>
public enum Crash
{
    /// <summary>It does not.</summary>
    None,

    /// <summary>After the status write, before the actions (the order the reconciler keeps: status first).</summary>
    ActionsLost,

    /// <summary>After the actions, before the status write (the wrong order; the rollout must still converge).</summary>
    StatusLost,
}

/// <summary>
/// A whole rollout played tick by tick against a small model of the cluster: Deployments move one pod per tick
/// towards what the actions ask (a template change keeps the old pods ready until every pod is updated, as
/// maxUnavailable 0 does), analysis runs answer from a script, and the decision is called the way the reconciler
/// will call it (again with the run when it asked for one). Status is what survives between ticks, as in the cluster.
/// </summary>
internal sealed class RolloutSimulation
{
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(5);

    private sealed class Deployment(string revision, ModelIdentity model, int desired)
    {
        public string Revision = revision;
        public ModelIdentity Model = model;
        public int Desired = desired;
        public int Ready;
        public int Updated;
    }

    private readonly Func<int, Verdict> _verdictAtStep;
    private Deployment _stable;
    private Deployment? _canary;

    public RolloutSimulation(RolloutPlan plan, int replicas, Func<int, Verdict> verdictAtStep, bool canaryUnschedulable = false)
    {
        Plan = plan;
        Replicas = replicas;
        _verdictAtStep = verdictAtStep;
        CanaryUnschedulable = canaryUnschedulable;
        _stable = new Deployment("3", A, replicas) { Ready = replicas, Updated = replicas };
        Status = Healthy(replicas).Status;
    }

    public RolloutPlan Plan { get; set; }

    /// <summary>spec.serving.replicas; a test may change it between ticks (kubectl scale, an HPA).</summary>
    public int Replicas { get; set; }

    public bool CanaryUnschedulable { get; }

    public RolloutState Status { get; private set; }

    public DateTimeOffset Now { get; private set; } = T0;

    public ModelIdentity Desired { get; set; } = B;

    public List<RecordEvent> Events { get; } = [];

    /// <summary>Fewest ready stable pods seen at any tick while a canary or promotion was under way.</summary>
    public int FewestReadyStable { get; private set; } = int.MaxValue;

    public bool CanaryExists => _canary is not null;

    /// <summary>Pods the stable and canary Deployments are asked for now.</summary>
    public (int Stable, int Canary) Pods => (_stable.Desired, _canary?.Desired ?? 0);

    /// <summary>The input the reconciler would build now.</summary>
    public RolloutInput Input(RolloutCommand command = RolloutCommand.None) => new(
        7, Desired, Replicas, Plan, Status, Observe(_stable), _canary is null ? null : Observe(_canary), null, command, PromotionGate.Unchecked, Now);

    /// <summary>
    /// One reconcile: decide, run the analysis if asked and decide again, then (unless the status write is lost)
    /// keep the status; carry out the actions; let a tick pass. Returns the final decision and its input.
    /// </summary>
    public (RolloutInput Input, RolloutDecision Decision) Step(RolloutCommand command = RolloutCommand.None, Crash crash = Crash.None)
    {
        var input = Input(command);
        var decision = CanaryRollout.Decide(input);
        if (decision.Actions.OfType<RunAnalysis>().SingleOrDefault() is { } run)
        {
            var result = new AnalysisResult(run.Revision, run.Step, new AnalysisRun(run.Until, _verdictAtStep(run.Step), $"scripted {_verdictAtStep(run.Step)}", [], []));
            input = input with { Analysis = result };
            decision = CanaryRollout.Decide(input);
        }
        if (crash != Crash.StatusLost) Status = decision.Status;
        if (crash != Crash.ActionsLost) Carry(decision.Actions);
        if (_canary is not null || decision.Status.Canary is not null) FewestReadyStable = Math.Min(FewestReadyStable, _stable.Ready);
        Converge();
        Now += Tick;
        return (input, decision);
    }

    private void Carry(IReadOnlyList<RolloutAction> actions)
    {
        foreach (var action in actions)
        {
            switch (action)
            {
                case EnsureStable s:
                    _stable = Ensure(_stable, s.Revision, s.Model, s.Replicas);
                    break;
                case EnsureCanary c:
                    _canary = Ensure(_canary, c.Revision, c.Model, c.Replicas);
                    break;
                case DeleteCanary:
                    _canary = null;
                    break;
                case RecordEvent e:
                    Events.Add(e);
                    break;
            }
        }
    }

    private static Deployment Ensure(Deployment? deployment, string revision, ModelIdentity model, int replicas)
    {
        if (deployment is null) return new Deployment(revision, model, replicas);
        if (deployment.Revision != revision || deployment.Model != model)
        {
            deployment.Revision = revision;
            deployment.Model = model;
            deployment.Updated = 0;
        }
        deployment.Desired = replicas;
        return deployment;
    }

    private void Converge()
    {
        _stable.Updated = Math.Min(_stable.Desired, _stable.Updated + 1);
        // Old pods stay ready until the new template is everywhere (maxUnavailable 0).
        _stable.Ready = _stable.Updated == _stable.Desired ? StepTowards(_stable.Ready, _stable.Desired) : Math.Min(_stable.Ready, _stable.Desired);
        if (_canary is null) return;
        if (CanaryUnschedulable)
        {
            _canary.Updated = _canary.Desired;
            _canary.Ready = 0;
            return;
        }
        _canary.Updated = Math.Min(_canary.Desired, _canary.Updated + 1);
        _canary.Ready = _canary.Updated == _canary.Desired ? StepTowards(_canary.Ready, _canary.Desired) : Math.Min(_canary.Ready, _canary.Updated);
    }

    private static int StepTowards(int value, int target) => value < target ? value + 1 : target;

    private ObservedTrack Observe(Deployment d) => new(
        new TrackObservation(d.Desired, d.Ready, d.Updated, TemplateObserved: true,
            UnschedulablePods: d == _canary && CanaryUnschedulable ? d.Desired : 0,
            UnschedulableMessage: d == _canary && CanaryUnschedulable ? "0/4 nodes are available: 4 Insufficient nvidia.com/gpu" : null,
            d.Revision),
        d.Model);
}
