using GruOperator.Domain.Analysis;
using GruOperator.Domain.Rollout;
using static GruOperator.Tests.Domain.Rollout.RolloutWorld;

namespace GruOperator.Tests.Domain.Rollout;

/// <summary>A shadow first step: one canary pod with no users (effective weight 0) while stable's pods mirror to it,
/// then the ordinary steps with mirroring off; a failing shadow step rolls back before any weight is given.</summary>
public sealed class ShadowStepTests
{
    private static readonly RolloutPlan ShadowPlan = Plan with
    {
        Steps = [new RolloutStep(0, TimeSpan.FromMinutes(2)) { Shadow = true }, new RolloutStep(50, TimeSpan.FromMinutes(2))],
        MirrorSample = 0.5,
    };

    [Theory]
    [InlineData(TrafficRouter.Replicas, true, 3)]
    [InlineData(TrafficRouter.Replicas, false, 1)]
    [InlineData(TrafficRouter.GatewayApi, true, 2)]
    [InlineData(TrafficRouter.GatewayApi, false, 5)]
    public void TheShadowStepRunsOneUnweightedCanaryPodWhileStableMirrorsThenTheStepsGoOn(TrafficRouter router, bool surge, int replicas)
    {
        var sim = new RolloutSimulation(ShadowPlan with { Router = router, Surge = surge }, replicas, _ => Verdict.Passed);
        var shadowTicks = 0;
        var sawLiveStep = false;

        for (var tick = 0; tick < 400 && !(sim.Status.Canary is null && sim.Status.History.Count > 0); tick++)
        {
            var (_, decision) = sim.Step();
            var stable = decision.Single<EnsureStable>();
            if (decision.Status.Canary is { Step: 0, IsPromoting: false } canary)
            {
                shadowTicks++;
                Assert.Equal(0.5, stable.MirrorSample);
                Assert.Equal(replicas, stable.Replicas); // stable keeps every pod: it serves all users
                Assert.Equal(1, decision.Single<EnsureCanary>().Replicas);
                Assert.Equal(0, canary.EffectiveWeight);
                if (router == TrafficRouter.GatewayApi)
                {
                    Assert.Equal(0, decision.Single<SetTrafficWeights>().Canary);
                }
            }
            else
            {
                Assert.Null(stable.MirrorSample);
                sawLiveStep |= decision.Status.Canary is { Step: 1 };
            }
        }

        Assert.True(shadowTicks >= 2 * 60 / 5, $"the shadow step was held for its pause ({shadowTicks} ticks)");
        Assert.True(sawLiveStep);
        Assert.Equal((RolloutOutcome.Promoted, RolloutReasons.AnalysisPassed), (sim.Status.History[0].Outcome, sim.Status.History[0].Reason));
    }

    [Fact]
    public void AFailingShadowStepRollsBackWithoutEverGivingTheCanaryWeight()
    {
        var sim = new RolloutSimulation(ShadowPlan, 3, step => step == 0 ? Verdict.Failed : Verdict.Passed);

        for (var tick = 0; tick < 400 && sim.Status.RolledBack is null; tick++)
        {
            var (_, decision) = sim.Step();
            Assert.True(decision.Status.Canary is null or { Step: 0, EffectiveWeight: 0 }, "the canary never left the shadow step");
        }

        var entry = Assert.Single(sim.Status.History);
        Assert.Equal((RolloutOutcome.RolledBack, RolloutReasons.AnalysisFailed), (entry.Outcome, entry.Reason));
        Assert.False(sim.CanaryExists);
    }
}
