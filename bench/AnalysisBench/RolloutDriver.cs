using GruOperator.Domain.Analysis;
using GruOperator.Domain.Conditions;
using GruOperator.Domain.Rollout;

namespace AnalysisBench;

/// <summary>How one simulated rollout ended.</summary>
public enum Outcome
{
    /// <summary>The canary passed every step and promotion began.</summary>
    Promoted,

    /// <summary>Analysis (or the progress deadline) rolled it back.</summary>
    RolledBack,

    /// <summary>Paused on inconclusive analysis, waiting for a human.</summary>
    Paused,

    /// <summary>Still running when the simulation's time ran out.</summary>
    Unfinished,
}

/// <summary>One rollout: its outcome, when, and every run the state machine recorded (or let wait).</summary>
public sealed record RolloutResult(Outcome Outcome, double Seconds, string? Reason, IReadOnlyList<AnalysisRun> Runs, int WaitingRuns);

/// <summary>
/// Drives a whole canary rollout through the real state machine (<see cref="CanaryRollout.Decide"/>) the way the
/// reconciler does: every tick it observes the Deployments (pods ready as soon as asked for), decides, runs the analysis
/// the decision asks for through <see cref="CanaryAnalysis"/> over [Since, Until], and decides again with the run.
/// Decisions come when the state machine's RequeueAfter asks (at most <c>tick</c> apart) or a second after the pods
/// changed, as watch events would bring them. Traffic follows the canary's effective weight.
/// </summary>
public sealed class RolloutDriver(RolloutPlan plan, SloSpec slo, int replicas, TimeSpan tick, TimeSpan limit)
{
    private static readonly ModelIdentity Old = new("oci://registry/models/m:1", new string('a', 64));
    private static readonly ModelIdentity New = new("oci://registry/models/m:2", new string('b', 64));

    public RolloutResult Run(TrafficSimulation traffic, IMetricProvider provider)
    {
        var analysis = new CanaryAnalysis(provider, ComparisonPolicy.Default);
        var now = traffic.Start;
        var status = new RolloutState(new TrackRevision("3", Old), null, null, [], []);
        var stable = Observed("3", Old, replicas);
        ObservedTrack? canary = null;
        var runs = new List<AnalysisRun>();
        var waiting = 0;
        while (now - traffic.Start <= limit)
        {
            var input = new RolloutInput(1, New, replicas, plan, status, stable, canary, null, RolloutCommand.None, PromotionGate.Unchecked, now);
            var decision = CanaryRollout.Decide(input);
            if (decision.Actions.OfType<RunAnalysis>().FirstOrDefault() is { } ask)
            {
                var run = analysis.RunAsync(new AnalysisRequest(slo, plan.Analysis, "bench", "m", "3", ask.Revision,
                    AnalysisWindow.Between(ask.Since, ask.Until),
                    ask.EvidenceSince is { } since ? AnalysisWindow.Between(since, ask.Until) : null, ask.StableServes,
                    ask.StepSince is { } from ? AnalysisWindow.Between(from, ask.Until) : null, ask.ClosesStep), CancellationToken.None).GetAwaiter().GetResult();
                decision = CanaryRollout.Decide(input with { Analysis = new AnalysisResult(ask.Revision, ask.Step, run) });
                if (decision.RecordedRun is { } recorded)
                {
                    runs.Add(recorded);
                }
                else if (run.WaitingForData)
                {
                    waiting++;
                }
            }

            status = decision.Status;
            var seconds = (now - traffic.Start).TotalSeconds;
            if (status.RolledBack is { } rolledBack)
            {
                return new RolloutResult(Outcome.RolledBack, seconds, rolledBack.Reason, runs, waiting);
            }

            if (status.Canary is { IsPromoting: true })
            {
                return new RolloutResult(Outcome.Promoted, seconds, null, runs, waiting);
            }

            if (status.Canary is { IsPaused: true })
            {
                return new RolloutResult(Outcome.Paused, seconds, status.Canary.PauseConditions[0].Reason.ToString(), runs, waiting);
            }

            var stablePodsBefore = stable.Workload.ReadyReplicas;
            var canaryPodsBefore = canary?.Workload.ReadyReplicas ?? 0;

            // Carry out the actions: Deployments get their pods at once (pod start-up is not what is measured here).
            foreach (var action in decision.Actions)
            {
                switch (action)
                {
                    case EnsureStable s: stable = Observed(s.Revision, s.Model, s.Replicas); break;
                    case EnsureCanary c: canary = Observed(c.Revision, c.Model, c.Replicas); break;
                    case DeleteCanary: canary = null; break;
                }
            }

            // Decide again when the state machine asks (RequeueAfter) or, sooner, when a Deployment changed (a watch event).
            var podsChanged = stable.Workload.ReadyReplicas != stablePodsBefore || (canary?.Workload.ReadyReplicas ?? 0) != canaryPodsBefore;
            var wait = podsChanged ? TimeSpan.FromSeconds(1) : decision.RequeueAfter ?? tick;
            var next = now + (wait < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : wait > tick ? tick : wait);
            var stablePods = stable.Workload.ReadyReplicas;
            var canaryPods = canary?.Workload.ReadyReplicas ?? 0;
            var share = stablePods + canaryPods == 0 ? 0 : (status.Canary?.EffectiveWeight ?? 0) / 100.0;
            traffic.AdvanceTo(next, stablePods, canaryPods, share);
            now = next;
        }

        return new RolloutResult(Outcome.Unfinished, limit.TotalSeconds, null, runs, waiting);
    }

    private static ObservedTrack Observed(string revision, ModelIdentity model, int pods) =>
        new(new TrackObservation(pods, pods, pods, true, 0, null, revision), model);
}
