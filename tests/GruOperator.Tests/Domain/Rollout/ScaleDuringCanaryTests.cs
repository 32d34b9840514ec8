using GruOperator.Domain.Analysis;
using GruOperator.Domain.Rollout;
using static GruOperator.Tests.Domain.Rollout.RolloutWorld;

namespace GruOperator.Tests.Domain.Rollout;

/// <summary>
/// spec.serving.replicas changed in the middle of a canary step (kubectl scale, an HPA through /scale): the count
/// applies to the whole model, both tracks follow the step's proportions at the new count, and the step is neither
/// restarted (its start, readiness time and analysis runs are kept) nor skipped (the hold and the runs still count).
/// </summary>
public sealed class ScaleDuringCanaryTests
{
    private const int MaxTicks = 400;

    public static TheoryData<TrafficRouter, bool, int, int> Scales
    {
        get
        {
            var data = new TheoryData<TrafficRouter, bool, int, int>();
            foreach (var router in new[] { TrafficRouter.Replicas, TrafficRouter.GatewayApi })
                foreach (var surge in new[] { true, false })
                    foreach (var (from, to) in new[] { (3, 1), (3, 6), (10, 4), (1, 10), (5, 5) })
                        data.Add(router, surge, from, to);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Scales))]
    public void A_scale_mid_step_keeps_the_step_and_splits_the_new_count_by_its_weight(TrafficRouter router, bool surge, int from, int to)
    {
        var plan = Plan with { Router = router, Surge = surge };
        var sim = new RolloutSimulation(plan, from, _ => Verdict.Passed);
        Run(sim, s => s.Status.Canary is { StepReadyAt: not null, Analysis.Runs: >= 1 });
        var before = sim.Status.Canary!;

        sim.Replicas = to;
        var (_, decision) = sim.Step();

        var after = decision.Status.Canary!;
        Assert.Equal((before.Revision, before.Step, before.Weight), (after.Revision, after.Step, after.Weight));
        Assert.Equal(before.StepStartedAt, after.StepStartedAt);
        Assert.Equal(before.StepReadyAt, after.StepReadyAt);
        Assert.Equal(before.Analysis, after.Analysis);
        Assert.DoesNotContain(decision.Events(), e => e.Reason == RolloutReasons.CanaryStepChanged);
        var split = CanaryReplicaMath.Split(to, before.Weight, surge, router);
        Assert.Equal(split.Canary, decision.Single<EnsureCanary>().Replicas);

        // Once the pods settle, the tracks hold the split of the new count exactly.
        for (var i = 0; i < 2 * Math.Max(from, to) && sim.Status.Canary?.Step == before.Step; i++) sim.Step();
        if (sim.Status.Canary?.Step == before.Step) Assert.Equal((split.Stable, split.Canary), sim.Pods);
    }

    [Theory]
    [MemberData(nameof(Scales))]
    public void A_canary_scaled_mid_step_is_promoted_after_every_step_and_hold_at_the_new_count(TrafficRouter router, bool surge, int from, int to)
    {
        var sim = new RolloutSimulation(Plan with { Router = router, Surge = surge }, from, _ => Verdict.Passed);
        Run(sim, s => s.Status.Canary is { StepReadyAt: not null, Analysis.Runs: >= 1 });
        var readyAt = sim.Status.Canary!.StepReadyAt!.Value;

        sim.Replicas = to;
        Run(sim, s => s.Status.Canary is not { Step: 0 });
        var secondStep = sim.Status.Canary;
        Run(sim, s => s.Status.Canary is null && s.Status.History.Count > 0 && !s.CanaryExists);

        // Not skipped: step 2 came only after step 1's whole 2m hold; not restarted: the hold ran from the first readiness.
        Assert.NotNull(secondStep);
        Assert.Equal(1, secondStep.Step);
        Assert.InRange(secondStep.StepStartedAt - readyAt, Plan.EffectiveSteps[0].Pause, Plan.EffectiveSteps[0].Pause + 2 * Interval + TimeSpan.FromSeconds(5 * (to + 2)));
        Assert.Single(sim.Events, e => e.Reason == RolloutReasons.CanaryStepChanged);
        Assert.Single(sim.Events, e => e.Reason == RolloutReasons.CanaryStarted);
        var promoted = Assert.Single(sim.Status.History);
        Assert.Equal(RolloutOutcome.Promoted, promoted.Outcome);
        Assert.Equal((to, 0), sim.Pods);
        Assert.True(sim.FewestReadyStable >= 1, $"stable always had a ready pod (fewest {sim.FewestReadyStable})");
    }

    private static void Run(RolloutSimulation sim, Func<RolloutSimulation, bool> done)
    {
        for (var tick = 0; tick < MaxTicks; tick++)
        {
            if (done(sim)) return;
            sim.Step();
        }
        Assert.Fail($"not done within {MaxTicks} ticks: {Json(sim.Status)}");
    }
}
