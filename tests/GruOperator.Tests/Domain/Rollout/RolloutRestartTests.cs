using GruOperator.Domain.Analysis;
using GruOperator.Domain.Rollout;
using static GruOperator.Tests.Domain.Rollout.RolloutWorld;

namespace GruOperator.Tests.Domain.Rollout;

/// <summary>
/// Whole rollouts with a restart at every tick: deciding again from the status just written, with the same world,
/// must change nothing (same status, the same desired-state actions, no event, no run recorded twice). And a reconcile
/// that dies at any tick must not restart a canary, promote twice or lose a rollback.
/// </summary>
public sealed class RolloutRestartTests
{
    private const int MaxTicks = 400;

    public static TheoryData<TrafficRouter, bool, int> Modes
    {
        get
        {
            var data = new TheoryData<TrafficRouter, bool, int>();
            foreach (var router in new[] { TrafficRouter.Replicas, TrafficRouter.GatewayApi })
                foreach (var surge in new[] { true, false })
                    foreach (var replicas in new[] { 1, 2, 3, 5, 10 })
                        data.Add(router, surge, replicas);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void A_healthy_canary_is_promoted_once_and_every_tick_survives_a_restart(TrafficRouter router, bool surge, int replicas)
    {
        var sim = new RolloutSimulation(Plan with { Router = router, Surge = surge }, replicas, _ => Verdict.Passed);

        var ticks = RunUntil(sim, s => s.Status.Canary is null && s.Status.History.Count > 0, restartEveryTick: true);

        Assert.Equal(new TrackRevision("4", B), sim.Status.Stable);
        var promoted = Assert.Single(sim.Status.History);
        Assert.Equal((RolloutOutcome.Promoted, RolloutReasons.AnalysisPassed), (promoted.Outcome, promoted.Reason));
        Assert.Single(sim.Events, e => e.Reason == RolloutReasons.CanaryStarted);
        Assert.Single(sim.Events, e => e.Reason == RolloutReasons.Promoted);
        Assert.Single(sim.Events, e => e.Reason == RolloutReasons.CanaryStepChanged);
        Assert.False(sim.CanaryExists, "the canary Deployment is gone after promotion");
        Assert.True(sim.FewestReadyStable >= 1, $"stable always had a ready pod (fewest {sim.FewestReadyStable})");
        // 10% held 2m, then 50% held 5m: at least the sum of the holds, and no run is skipped or doubled.
        Assert.InRange(ticks * 5, 7 * 60, 11 * 60);
    }

    [Fact]
    public void A_canary_failing_at_its_second_step_is_rolled_back_and_stays_rolled_back()
    {
        var sim = new RolloutSimulation(Plan, 3, step => step == 1 ? Verdict.Failed : Verdict.Passed);

        RunUntil(sim, s => s.Status.RolledBack is not null, restartEveryTick: true);
        for (var i = 0; i < 100; i++) Restartable(sim, sim.Step());

        var entry = Assert.Single(sim.Status.History);
        Assert.Equal((RolloutOutcome.RolledBack, RolloutReasons.AnalysisFailed, "4"), (entry.Outcome, entry.Reason, entry.Revision));
        Assert.Equal(new TrackRevision("3", A), sim.Status.Stable);
        Assert.False(sim.CanaryExists);
        Assert.Single(sim.Events, e => e.Reason == RolloutReasons.CanaryStarted);
        Assert.Equal(2, sim.Events.Count(e => e.Reason == RolloutReasons.AnalysisRunFailed));
        Assert.True(sim.FewestReadyStable >= 1);
    }

    [Fact]
    public void An_unschedulable_canary_is_rolled_back_at_the_deadline_and_not_retried()
    {
        var sim = new RolloutSimulation(Plan, 3, _ => Verdict.Passed, canaryUnschedulable: true);

        var ticks = RunUntil(sim, s => s.Status.RolledBack is not null, restartEveryTick: true);
        for (var i = 0; i < 100; i++) Restartable(sim, sim.Step());

        Assert.Equal(RolloutReasons.CanaryUnschedulable, sim.Status.RolledBack!.Reason);
        Assert.Contains("Insufficient nvidia.com/gpu", sim.Status.RolledBack.Message, StringComparison.Ordinal);
        Assert.Equal(10 * 60 / 5, ticks - 1); // started at tick 0, rolled back exactly at progressDeadline
        Assert.Single(sim.Events, e => e.Reason == RolloutReasons.CanaryStarted);
    }

    [Fact]
    public void A_canary_paused_on_doubt_waits_for_resume_then_finishes()
    {
        var verdict = Verdict.Inconclusive;
        var sim = new RolloutSimulation(Plan, 3, _ => verdict);

        RunUntil(sim, s => s.Status.Canary?.IsPaused == true, restartEveryTick: true);
        var pausedAt = sim.Status.Canary!.Analysis;
        for (var i = 0; i < 50; i++) Restartable(sim, sim.Step());
        Assert.Equal(pausedAt, sim.Status.Canary!.Analysis); // nothing runs while paused

        verdict = Verdict.Passed;
        Restartable(sim, sim.Step(RolloutCommand.Resume));
        RunUntil(sim, s => s.Status.Canary is null, restartEveryTick: true);

        Assert.Equal(
            [RolloutOutcome.Promoted, RolloutOutcome.Resumed, RolloutOutcome.Paused],
            sim.Status.History.Select(h => h.Outcome).ToArray());
    }

    [Fact]
    public void Rollout_paused_in_the_spec_holds_the_canary_until_it_is_cleared()
    {
        var sim = new RolloutSimulation(Plan, 3, _ => Verdict.Passed);
        RunUntil(sim, s => s.Status.Canary?.StepReadyAt is not null, restartEveryTick: true);

        sim.Plan = Plan with { Paused = true };
        for (var i = 0; i < 100; i++) Restartable(sim, sim.Step());
        Assert.Equal(0, sim.Status.Canary!.Step);
        Assert.Equal(0, sim.Status.Canary.Analysis.Runs);

        sim.Plan = Plan;
        RunUntil(sim, s => s.Status.Canary is null, restartEveryTick: true);
        Assert.Equal(
            [RolloutOutcome.Promoted, RolloutOutcome.Resumed, RolloutOutcome.Paused],
            sim.Status.History.Select(h => h.Outcome).ToArray());
    }

    public static TheoryData<string, Crash> Crashes => new()
    {
        { "healthy", Crash.ActionsLost }, { "healthy", Crash.StatusLost },
        { "failing", Crash.ActionsLost }, { "failing", Crash.StatusLost },
    };

    /// <summary>One run per tick at which the reconcile dies; every run must end as the run without a crash.</summary>
    [Theory]
    [MemberData(nameof(Crashes))]
    public void A_reconcile_that_dies_at_any_tick_changes_no_outcome(string scenario, Crash crash)
    {
        Func<int, Verdict> script = scenario == "healthy" ? _ => Verdict.Passed : step => step == 1 ? Verdict.Failed : Verdict.Passed;
        Func<RolloutSimulation, bool> done = s => s.Status.Canary is null && s.Status.History.Count > 0 && !s.CanaryExists;
        var reference = new RolloutSimulation(Plan, 3, script);
        var length = RunUntil(reference, done, restartEveryTick: false);

        for (var crashAt = 0; crashAt < length; crashAt++)
        {
            var sim = new RolloutSimulation(Plan, 3, script);
            var starts = new HashSet<DateTimeOffset>();
            for (var tick = 0; tick < MaxTicks && !done(sim); tick++)
            {
                sim.Step(crash: tick == crashAt ? crash : Crash.None);
                if (sim.Status.Canary is { } canary) starts.Add(canary.StartedAt);
            }

            var at = $"{scenario}, {crash} at tick {crashAt}";
            Assert.True(done(sim), $"{at}: did not finish");
            Assert.Equal(reference.Status.Stable, sim.Status.Stable);
            Assert.Equal(reference.Status.RolledBack?.Revision, sim.Status.RolledBack?.Revision);
            var terminal = Assert.Single(sim.Status.History);
            Assert.Equal(reference.Status.History[0].Outcome, terminal.Outcome);
            Assert.False(sim.CanaryExists, at);
            if (crash == Crash.ActionsLost)
            {
                // Status is written before the actions: a lost action is re-derived, never a second start or promotion.
                Assert.True(starts.Count == 1, $"{at}: canary started {starts.Count} times");
                Assert.True(sim.Events.Count(e => e.Reason == RolloutReasons.CanaryStarted) <= 1, at);
                Assert.True(sim.Events.Count(e => e.Reason is RolloutReasons.Promoted or RolloutReasons.RolledBack) <= 1, at);
            }
        }
    }

    /// <summary>Steps until <paramref name="done"/>, checking a restart at every tick; returns the ticks taken.</summary>
    private static int RunUntil(RolloutSimulation sim, Func<RolloutSimulation, bool> done, bool restartEveryTick)
    {
        for (var tick = 1; tick <= MaxTicks; tick++)
        {
            var step = sim.Step();
            if (restartEveryTick) Restartable(sim, step);
            if (done(sim)) return tick;
        }
        throw new Xunit.Sdk.XunitException($"not done after {MaxTicks} ticks: {Json(sim.Status)}");
    }

    /// <summary>
    /// A restart right after the status write: the same world, the same analysis answer, the status just written.
    /// Nothing may change and nothing may happen twice.
    /// </summary>
    private static void Restartable(RolloutSimulation sim, (RolloutInput Input, RolloutDecision Decision) step)
    {
        var (input, decision) = step;
        var again = CanaryRollout.Decide(input);
        Assert.Equal(Json(decision.Status), Json(again.Status)); // deterministic

        var restarted = CanaryRollout.Decide(input with { Status = decision.Status, Command = RolloutCommand.None });
        var at = $"restart at {input.Now:HH:mm:ss}";
        Assert.True(Json(decision.Status) == Json(restarted.Status), $"{at}: status changed\n{Json(decision.Status)}\n{Json(restarted.Status)}");
        Assert.True(!restarted.Events().Any(), $"{at}: events again: {string.Join("; ", restarted.Events())}");
        Assert.Null(restarted.RecordedRun);
        Assert.Equal(Level(decision), Level(restarted));
        Assert.Equal(decision.Phase, restarted.Phase);
        Assert.Equal(decision.Message, restarted.Message);
        _ = sim;
    }

    private static RolloutAction[] Level(RolloutDecision decision) =>
        [.. decision.Actions.Where(a => a is not RecordEvent and not AcknowledgeCommand)];
}
