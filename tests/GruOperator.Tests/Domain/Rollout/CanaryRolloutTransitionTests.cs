using GruOperator.Domain.Analysis;
using GruOperator.Domain.Conditions;
using GruOperator.Domain.Rollout;
using static GruOperator.Tests.Domain.Rollout.RolloutWorld;

namespace GruOperator.Tests.Domain.Rollout;

/// <summary>What a transition must produce; Events are the Event reasons in order.</summary>
public sealed record Expect(
    ModelPhase Phase,
    string Stable,
    string? Canary = null,
    int? Step = null,
    RolloutOutcome? Outcome = null,
    string? Reason = null,
    string[]? Events = null,
    Action<RolloutDecision>? Also = null);

/// <summary>One row per transition of the canary state machine.</summary>
public sealed class CanaryRolloutTransitionTests
{
    private static readonly TimeSpan S = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan M = TimeSpan.FromMinutes(1);
    private static readonly PromotionGate Closed = new(false, "1 canary pod serves an unverified digest");

    private static RolloutInput With(RolloutInput input, RolloutPlan plan) => input with { Plan = plan };

    /// <summary>A run that saw fewer than minRequests canary requests (the judge marks it waiting for data).</summary>
    private static AnalysisResult Waiting(DateTimeOffset time)
    {
        var result = Run(time, Verdict.Inconclusive);
        return result with { Run = result.Run with { WaitingForData = true } };
    }

    /// <summary>A waiting run that saw 49 of minRequests 50.</summary>
    private static AnalysisResult AlmostEnough(DateTimeOffset time)
    {
        var result = Waiting(time);
        return result with { Run = result.Run with { Metrics = [result.Run.Metrics[0] with { Value = 49 }] } };
    }

    /// <summary>A run the judge found inconclusive because stable breached the same SLO in the same window.</summary>
    private static AnalysisResult SharedIncident(DateTimeOffset time)
    {
        var result = Run(time, Verdict.Inconclusive);
        return result with { Run = result.Run with { SharedIncident = true } };
    }

    private static RolloutInput RolledBackOnB(ModelIdentity desired) => Healthy() with
    {
        Desired = desired,
        Status = Healthy().Status with { RolledBack = new RolledBackState("4", B, RolloutReasons.AnalysisFailed, "2 consecutive failed analysis runs", T0) },
    };

    private static RolloutInput ReadyAt(CanaryState canary, TimeSpan after, AnalysisResult? run = null, int canaryReady = 1) =>
        Running(canary, canaryReady, T0 + after) with { Analysis = run };

    private static HistoryEntry Entry(int i) => new((i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), A, RolloutOutcome.Promoted, RolloutReasons.AnalysisPassed, "old", T0 - TimeSpan.FromDays(i + 1));

    private static readonly TheoryData<string, Func<RolloutInput>, Expect> Table = new()
    {
        // Spec changes and strategies.
        { "first deploy serves the model at revision 1, no canary", () => Healthy() with { Status = RolloutState.Empty, Stable = null },
            new Expect(ModelPhase.Progressing, "1", Events: [], Also: d => Assert.Equal(new EnsureStable("1", A, 3), d.Single<EnsureStable>())) },
        { "status lost: stable adopted from its Deployment", () => Healthy() with { Status = RolloutState.Empty },
            new Expect(ModelPhase.Healthy, "3", Events: []) },
        { "status lost while spec asks for B: canary at the next revision", () => Healthy() with { Status = RolloutState.Empty, Desired = B },
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [RolloutReasons.CanaryStarted]) },
        { "status lost mid-canary: the running canary Deployment is taken over, not restarted", () => Running(Canary(readyAt: T0), now: T0 + M) with { Status = RolloutState.Empty },
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [RolloutReasons.CanaryStarted], Also: d =>
            {
                Assert.Equal(new EnsureCanary("4", B, 1), d.Single<EnsureCanary>());
                Assert.Equal(T0 + M, d.Status.Canary!.StepReadyAt); // its ready pods count at once
                Assert.Empty(d.Actions.OfType<DeleteCanary>());
            }) },
        { "Recreate forgets a rollback: the model rolls in place", () => With(RolledBackOnB(B), Plan with { Strategy = RolloutStrategyKind.Recreate }),
            new Expect(ModelPhase.Healthy, "4", Events: [], Also: d => Assert.Null(d.Status.RolledBack)) },
        { "model source change starts a canary", () => Healthy() with { Desired = B },
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [RolloutReasons.CanaryStarted], Also: d =>
            {
                Assert.Equal(new EnsureStable("3", A, 3), d.Single<EnsureStable>());
                Assert.Equal(new EnsureCanary("4", B, 1), d.Single<EnsureCanary>());
                Assert.Equal(10, d.Status.Canary!.Weight);
                Assert.Equal(T0, d.Status.Canary.StartedAt);
                Assert.Equal(T0, d.Status.Canary.NotReadySince);
                Assert.Equal(TimeSpan.FromMinutes(10), d.RequeueAfter);
            }) },
        { "sha256 change alone starts a canary", () => Healthy() with { Desired = ASha },
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [RolloutReasons.CanaryStarted], Also: d => Assert.Equal(ASha, d.Status.Canary!.Model)) },
        { "other spec change rolls in place", () => Healthy() with { Replicas = 5 },
            new Expect(ModelPhase.Healthy, "3", Events: [], Also: d => Assert.Equal(new EnsureStable("3", A, 5), d.Single<EnsureStable>())) },
        { "Recreate rolls a model change in place", () => With(Healthy() with { Desired = B }, Plan with { Strategy = RolloutStrategyKind.Recreate }),
            new Expect(ModelPhase.Healthy, "4", Events: [], Also: d => Assert.Equal(new EnsureStable("4", B, 3), d.Single<EnsureStable>())) },
        { "0 replicas roll a model change in place", () => Healthy() with { Desired = B, Replicas = 0 },
            new Expect(ModelPhase.Healthy, "4", Events: [], Also: d => Assert.Equal(new EnsureStable("4", B, 0), d.Single<EnsureStable>())) },
        { "switching to Recreate ends the canary and keeps its revision", () => With(Running(Canary(readyAt: T0)), Plan with { Strategy = RolloutStrategyKind.Recreate }),
            new Expect(ModelPhase.Healthy, "4", Outcome: RolloutOutcome.Aborted, Reason: RolloutReasons.RolledInPlace, Events: [RolloutReasons.Aborted],
                Also: d => Assert.Single(d.Actions.OfType<DeleteCanary>())) },

        // Steps: weight, hold, analysis every interval, advance only on a passed run after the hold.
        { "canary pods starting: no analysis, deadline clock runs", () => Running(Canary(notReadySince: T0), canaryReady: 0, now: T0 + M),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d =>
            {
                Assert.Null(d.Status.Canary!.StepReadyAt);
                Assert.Empty(d.Actions.OfType<RunAnalysis>());
                Assert.Equal(TimeSpan.FromMinutes(9), d.RequeueAfter);
                Assert.Contains("waiting for canary pods: 0/1 ready", d.Message, StringComparison.Ordinal);
            }) },
        { "canary ready: the step is reached and analysis is timed from now", () => Running(Canary(notReadySince: T0), now: T0 + 20 * S),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d =>
            {
                Assert.Equal(T0 + 20 * S, d.Status.Canary!.StepReadyAt);
                Assert.Null(d.Status.Canary.NotReadySince);
                Assert.Equal(Interval, d.RequeueAfter);
                Assert.Equal(25, d.Status.Canary.EffectiveWeight);
            }) },
        { "analysis due one interval after the step was reached", () => ReadyAt(Canary(readyAt: T0), 30 * S),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d => Assert.Equal(new RunAnalysis("4", 0, T0, T0 + 30 * S), d.Single<RunAnalysis>())) },
        { "analysis not due yet", () => ReadyAt(Canary(readyAt: T0), 20 * S),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d =>
            {
                Assert.Empty(d.Actions.OfType<RunAnalysis>());
                Assert.Equal(10 * S, d.RequeueAfter);
            }) },
        { "a passed run is recorded once, with an event", () => ReadyAt(Canary(readyAt: T0), 30 * S, Run(T0 + 30 * S, Verdict.Passed)),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [RolloutReasons.AnalysisRunPassed], Also: d =>
            {
                Assert.Equal(new AnalysisCounters(1, 0, 0), d.Status.Canary!.Analysis);
                Assert.Equal(T0 + 30 * S, d.Status.Canary.LastRun!.Time);
                Assert.NotNull(d.RecordedRun);
                Assert.Empty(d.Actions.OfType<RunAnalysis>());
                Assert.Equal(Interval, d.RequeueAfter);
            }) },
        { "the step holds until its pause is over", () => ReadyAt(Canary(readyAt: T0, lastRun: Record(T0 + 90 * S, Verdict.Passed), counters: new(3, 0, 0)), 100 * S),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d => Assert.Equal(20 * S, d.RequeueAfter)) },
        { "the pause end brings a run forward, and that run closes the step", () => With(ReadyAt(Canary(readyAt: T0, lastRun: Record(T0 + 30 * S, Verdict.Passed), counters: new(1, 0, 0)), 45 * S),
                Plan with { Steps = [new RolloutStep(10, 45 * S), new RolloutStep(50, 5 * M)] }),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d => Assert.Equal(new RunAnalysis("4", 0, T0 + 30 * S, T0 + 45 * S, EvidenceSince: T0, StepSince: T0, ClosesStep: true), d.Single<RunAnalysis>())) },
        { "a passed run at the pause end advances the step", () => ReadyAt(Canary(readyAt: T0, lastRun: Record(T0 + 90 * S, Verdict.Passed), counters: new(3, 0, 0)), 2 * M, Run(T0 + 2 * M, Verdict.Passed)),
            new Expect(ModelPhase.Progressing, "3", "4", 1, Events: [RolloutReasons.AnalysisRunPassed, RolloutReasons.CanaryStepChanged], Also: d =>
            {
                Assert.Equal(50, d.Status.Canary!.Weight);
                Assert.Equal(T0 + 2 * M, d.Status.Canary.StepStartedAt);
                Assert.Null(d.Status.Canary.StepReadyAt);
                Assert.Equal(T0 + 2 * M, d.Status.Canary.NotReadySince);
                Assert.Equal(new EnsureCanary("4", B, 3), d.Single<EnsureCanary>());
                Assert.Equal(new EnsureStable("3", A, 3), d.Single<EnsureStable>());
            }) },
        { "a passed run before the pause end does not advance", () => ReadyAt(Canary(readyAt: T0), 119 * S, Run(T0 + 119 * S, Verdict.Passed)),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [RolloutReasons.AnalysisRunPassed]) },
        { "a pause without a passed run does not advance", () => ReadyAt(Canary(readyAt: T0, lastRun: Record(T0 + 90 * S, Verdict.Passed), counters: new(3, 0, 0)), 2 * M, Run(T0 + 2 * M, Verdict.Inconclusive)),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [RolloutReasons.AnalysisRunInconclusive]) },
        { "the last step passed: promotion starts, canary stays", () => ReadyAt(Canary(step: 1, readyAt: T0, lastRun: Record(T0 + 270 * S, Verdict.Passed), counters: new(9, 0, 0)), 5 * M, Run(T0 + 5 * M, Verdict.Passed, step: 1), canaryReady: 3),
            new Expect(ModelPhase.Promoting, "3", "4", 1, Events: [RolloutReasons.AnalysisRunPassed, RolloutReasons.Promoting], Also: d =>
            {
                Assert.Equal(RolloutReasons.AnalysisPassed, d.Status.Canary!.Promotion);
                Assert.Equal(new EnsureStable("4", B, 3), d.Single<EnsureStable>());
                Assert.Equal(new EnsureCanary("4", B, 3), d.Single<EnsureCanary>());
                Assert.Empty(d.Actions.OfType<DeleteCanary>());
            }) },
        { "a closed promotion gate holds the passed last step", () => ReadyAt(Canary(step: 1, readyAt: T0, lastRun: Record(T0 + 270 * S, Verdict.Passed), counters: new(9, 0, 0)), 5 * M, Run(T0 + 5 * M, Verdict.Passed, step: 1), canaryReady: 3) with { Gate = Closed },
            new Expect(ModelPhase.Progressing, "3", "4", 1, Events: [RolloutReasons.AnalysisRunPassed], Also: d =>
            {
                Assert.Null(d.Status.Canary!.Promotion);
                Assert.Contains(Closed.Reason, d.Message, StringComparison.Ordinal);
                Assert.Equal(Interval, d.RequeueAfter);
            }) },
        { "promotion waits for stable at the new revision", () => Running(Canary(step: 1, readyAt: T0, promotion: RolloutReasons.AnalysisPassed), 3) with { Stable = Track("4", B, 3, ready: 2, updated: 2) },
            new Expect(ModelPhase.Promoting, "3", "4", 1, Events: [], Also: d =>
            {
                Assert.Empty(d.Actions.OfType<DeleteCanary>());
                Assert.Contains("2/3 stable replicas updated and ready", d.Message, StringComparison.Ordinal);
            }) },
        { "surge false: promotion hands the canary's pods back for stable's new ones", () => With(Running(Canary(step: 1, readyAt: T0, promotion: RolloutReasons.AnalysisPassed), 3), Plan with { Surge = false, Router = TrafficRouter.GatewayApi }),
            new Expect(ModelPhase.Promoting, "3", "4", 1, Events: [], Also: d =>
            {
                Assert.Equal(new EnsureStable("4", B, 3), d.Single<EnsureStable>());
                Assert.Equal(new EnsureCanary("4", B, 0), d.Single<EnsureCanary>());
                Assert.Equal(new SetTrafficWeights(100, 0), d.Single<SetTrafficWeights>());
                Assert.Empty(d.Actions.OfType<DeleteCanary>());
            }) },
        { "promotion completes once stable is ready at the new revision", () => Running(Canary(step: 1, readyAt: T0, promotion: RolloutReasons.AnalysisPassed), 3) with { Stable = Track("4", B, 3, 3) },
            new Expect(ModelPhase.Healthy, "4", Outcome: RolloutOutcome.Promoted, Reason: RolloutReasons.AnalysisPassed, Events: [RolloutReasons.Promoted], Also: d =>
            {
                Assert.Single(d.Actions.OfType<DeleteCanary>());
                Assert.Equal(new EnsureStable("4", B, 3), d.Single<EnsureStable>());
                Assert.Equal(B, d.Status.Stable!.Model);
            }) },

        { "steps shortened under the canary: it takes the last step", () => With(Running(Canary(step: 1, readyAt: T0), canaryReady: 3, now: T0 + M), Plan with { Steps = [new RolloutStep(10, 2 * M)] }),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [RolloutReasons.CanaryStepChanged], Also: d =>
            {
                Assert.Equal(10, d.Status.Canary!.Weight);
                Assert.Equal(T0 + M, d.Status.Canary.StepReadyAt); // its pods are there: reached at once, the hold starts again
            }) },
        { "a step's weight edited under the canary restarts the step", () => With(Running(Canary(readyAt: T0), now: T0 + M), Plan with { Steps = [new RolloutStep(20, 2 * M), new RolloutStep(50, 5 * M)] }),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [RolloutReasons.CanaryStepChanged], Also: d =>
            {
                Assert.Equal((20, T0 + M), (d.Status.Canary!.Weight, d.Status.Canary.StepStartedAt));
                Assert.Empty(d.Actions.OfType<RunAnalysis>());
            }) },

        // Analysis verdicts and the counters.
        { "one failed run below failureLimit is tolerated", () => ReadyAt(Canary(readyAt: T0), 30 * S, Run(T0 + 30 * S, Verdict.Failed)),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [RolloutReasons.AnalysisRunFailed], Also: d =>
            {
                Assert.Equal(new AnalysisCounters(1, 1, 0), d.Status.Canary!.Analysis);
                Assert.Equal(RolloutEventType.Warning, Assert.Single(d.Events()).Type);
            }) },
        { "failureLimit reached rolls back naming the metrics", () => ReadyAt(Canary(readyAt: T0, lastRun: Record(T0 + 30 * S, Verdict.Failed), counters: new(1, 1, 0)), 60 * S, Run(T0 + 60 * S, Verdict.Failed)),
            new Expect(ModelPhase.RolledBack, "3", Outcome: RolloutOutcome.RolledBack, Reason: RolloutReasons.AnalysisFailed, Events: [RolloutReasons.AnalysisRunFailed, RolloutReasons.RolledBack], Also: d =>
            {
                var rolledBack = d.Status.RolledBack!;
                Assert.Equal("4", rolledBack.Revision);
                Assert.Contains("latencyP95: value 0.31, threshold 0.2, stable 0.081, p <0.0001", rolledBack.Message, StringComparison.Ordinal);
                Assert.Contains("latencyP95: value 0.31", d.Events().Last().Message, StringComparison.Ordinal);
                Assert.Equal(RolloutEventType.Warning, d.Events().Last().Type);
                var progressing = ConditionSet.Find(d.Status.Conditions, ConditionTypes.Progressing)!;
                Assert.Equal((Condition.False, RolloutReasons.AnalysisFailed), (progressing.Status, progressing.Reason));
                Assert.Contains("latencyP95", progressing.Message, StringComparison.Ordinal);
                Assert.Single(d.Actions.OfType<DeleteCanary>());
                Assert.Equal(new EnsureStable("3", A, 3), d.Single<EnsureStable>());
                Assert.True(ConditionSet.Find(d.Status.Conditions, ConditionTypes.Ready)!.IsTrue);
            }) },
        { "an inconclusive run between failures keeps the failure streak", () => ReadyAt(Canary(readyAt: T0, lastRun: Record(T0 + 30 * S, Verdict.Failed), counters: new(1, 1, 0)), 60 * S, Run(T0 + 60 * S, Verdict.Inconclusive)),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [RolloutReasons.AnalysisRunInconclusive], Also: d => Assert.Equal(new AnalysisCounters(2, 1, 1), d.Status.Canary!.Analysis)) },
        { "inconclusiveLimit with onInconclusive Pause pauses", () => ReadyAt(Canary(readyAt: T0, lastRun: Record(T0 + 90 * S, Verdict.Inconclusive), counters: new(3, 0, 3)), 2 * M, Run(T0 + 2 * M, Verdict.Inconclusive)),
            new Expect(ModelPhase.Paused, "3", "4", 0, RolloutOutcome.Paused, RolloutReasons.AnalysisInconclusive, [RolloutReasons.AnalysisRunInconclusive, RolloutReasons.AnalysisInconclusive], d =>
            {
                Assert.True(d.Status.Canary!.PausedFor(PauseReason.AnalysisInconclusive));
                Assert.Null(d.RequeueAfter);
                Assert.Empty(d.Actions.OfType<RunAnalysis>());
                Assert.Contains("serving.gru.dev/action=resume", d.Message, StringComparison.Ordinal);
            }) },
        { "inconclusiveLimit with onInconclusive Rollback rolls back", () => With(ReadyAt(Canary(readyAt: T0, lastRun: Record(T0 + 90 * S, Verdict.Inconclusive), counters: new(3, 0, 3)), 2 * M, Run(T0 + 2 * M, Verdict.Inconclusive)),
                Plan with { Analysis = Plan.Analysis with { OnInconclusive = InconclusiveAction.Rollback } }),
            new Expect(ModelPhase.RolledBack, "3", Outcome: RolloutOutcome.RolledBack, Reason: RolloutReasons.AnalysisInconclusive, Events: [RolloutReasons.AnalysisRunInconclusive, RolloutReasons.RolledBack],
                Also: d => Assert.Contains("requestCount: value 12, threshold >=50, stable 400, p n/a", d.Status.RolledBack!.Message, StringComparison.Ordinal)) },
        { "a paused canary runs no analysis", () => ReadyAt(Canary(readyAt: T0, counters: new(4, 0, 4), pauses: [new(PauseReason.AnalysisInconclusive, T0)]), 10 * M, Run(T0 + 10 * M, Verdict.Failed)),
            new Expect(ModelPhase.Paused, "3", "4", 0, Events: [], Also: d => Assert.Null(d.RecordedRun)) },
        { "a run for another revision is ignored", () => ReadyAt(Canary(readyAt: T0), 30 * S, Run(T0 + 30 * S, Verdict.Failed, revision: "5")),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d => Assert.Null(d.RecordedRun)) },
        { "a run for another step is ignored", () => ReadyAt(Canary(readyAt: T0), 30 * S, Run(T0 + 30 * S, Verdict.Failed, step: 1)),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d => Assert.Equal(0, d.Status.Canary!.Analysis.Runs)) },
        { "a run no newer than the last is ignored", () => ReadyAt(Canary(readyAt: T0, lastRun: Record(T0 + 30 * S, Verdict.Passed), counters: new(1, 0, 0)), 40 * S, Run(T0 + 30 * S, Verdict.Failed)),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d => Assert.Equal(new AnalysisCounters(1, 0, 0), d.Status.Canary!.Analysis)) },
        { "a run over traffic from before the step was reached is ignored", () => ReadyAt(Canary(readyAt: T0), 30 * S, Run(T0, Verdict.Failed)),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d => Assert.Null(d.RecordedRun)) },
        { "a run short of canary traffic waits: not counted, no event, its window stays open", () => ReadyAt(Canary(readyAt: T0), 30 * S, Waiting(T0 + 30 * S)),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d =>
            {
                Assert.Equal(AnalysisCounters.Initial, d.Status.Canary!.Analysis);
                Assert.Null(d.Status.Canary.LastRun);
                Assert.Null(d.RecordedRun);
                Assert.Empty(d.Actions.OfType<RunAnalysis>()); // analysed in this decision already
                // 12 of minRequests 50 in 30 s: 50 are expected 95 s on, capped at two intervals.
                Assert.Equal(T0 + 90 * S, d.Status.Canary.NextRunAt);
                Assert.Equal(2 * Interval, d.RequeueAfter);
                Assert.Contains("analysis waits for canary traffic", d.Message, StringComparison.Ordinal);
            }) },
        { "a waiting canary is not analysed again before its next look", () => ReadyAt(Canary(readyAt: T0) with { NextRunAt = T0 + 90 * S }, 60 * S),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d =>
            {
                Assert.Empty(d.Actions.OfType<RunAnalysis>());
                Assert.Equal(30 * S, d.RequeueAfter);
            }) },
        { "at its next look a waiting canary is judged from the anchor", () => ReadyAt(Canary(readyAt: T0) with { NextRunAt = T0 + 90 * S }, 90 * S),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d => Assert.Equal(new RunAnalysis("4", 0, T0, T0 + 90 * S), d.Single<RunAnalysis>())) },
        { "traffic close to minRequests brings the next look to half an interval", () => ReadyAt(Canary(readyAt: T0), 30 * S, AlmostEnough(T0 + 30 * S)),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d => Assert.Equal(Interval / 2, d.RequeueAfter)) },
        { "a recorded run clears the next look", () => ReadyAt(Canary(readyAt: T0) with { NextRunAt = T0 + 90 * S }, 90 * S, Run(T0 + 90 * S, Verdict.Passed)),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [RolloutReasons.AnalysisRunPassed], Also: d => Assert.Null(d.Status.Canary!.NextRunAt)) },
        { "after waiting, the next run judges everything since the last judged run", () => ReadyAt(Canary(readyAt: T0, lastRun: Record(T0 + 30 * S, Verdict.Passed), counters: new(1, 0, 0)), 90 * S),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d => Assert.Equal(new RunAnalysis("4", 0, T0 + 30 * S, T0 + 90 * S, EvidenceSince: T0, StepSince: T0), d.Single<RunAnalysis>())) },
        { "a shared incident is an inconclusive run with its own Warning event", () => ReadyAt(Canary(readyAt: T0), 30 * S, SharedIncident(T0 + 30 * S)),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [RolloutReasons.AnalysisSharedIncident], Also: d =>
            {
                Assert.Equal(new AnalysisCounters(1, 0, 1), d.Status.Canary!.Analysis);
                Assert.Equal(RolloutEventType.Warning, d.Actions.OfType<RecordEvent>().Single().Type);
            }) },
        { "a drought as long as progressDeadline pauses the canary as getting no traffic", () => ReadyAt(Canary(readyAt: T0), 10 * M, Waiting(T0 + 10 * M)),
            new Expect(ModelPhase.Paused, "3", "4", 0, RolloutOutcome.Paused, RolloutReasons.CanaryNoTraffic, [RolloutReasons.CanaryNoTraffic], d =>
            {
                Assert.True(d.Status.Canary!.PausedFor(PauseReason.CanaryNoTraffic));
                Assert.Equal(AnalysisCounters.Initial, d.Status.Canary.Analysis); // no verdict on the canary
                Assert.Equal(nameof(PauseReason.CanaryNoTraffic), ConditionSet.Find(d.Status.Conditions, ConditionTypes.Progressing)!.Reason);
                Assert.Contains("gets no traffic", d.Message, StringComparison.Ordinal);
                Assert.Contains("fewer than minRequests in progressDeadline 10m", Assert.Single(d.Events()).Message, StringComparison.Ordinal);
                Assert.Empty(d.Actions.OfType<RunAnalysis>());
            }) },
        { "a drought says when it will pause", () => ReadyAt(Canary(readyAt: T0), 5 * M, Waiting(T0 + 5 * M)),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d =>
                Assert.Contains("the canary pauses as getting no traffic", d.Message, StringComparison.Ordinal)) },
        { "resume after no traffic restarts the step's hold", () => Running(Canary(readyAt: T0, pauses: [new(PauseReason.CanaryNoTraffic, T0 + 10 * M)]), now: T0 + 12 * M) with { Command = RolloutCommand.Resume },
            new Expect(ModelPhase.Progressing, "3", "4", 0, RolloutOutcome.Resumed, RolloutReasons.ResumedByUser, [RolloutReasons.ResumedByUser], d =>
            {
                Assert.Empty(d.Status.Canary!.PauseConditions);
                Assert.Equal(T0 + 12 * M, d.Status.Canary.StepReadyAt);
            }) },
        { "with a failure counted, a run judges its own window (and the step so far) only", () => ReadyAt(Canary(readyAt: T0, lastRun: Record(T0 + 30 * S, Verdict.Failed), counters: new(1, 1, 0)), 60 * S),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d => Assert.Equal(new RunAnalysis("4", 0, T0 + 30 * S, T0 + 60 * S, StepSince: T0), d.Single<RunAnalysis>())) },
        { "the second look reaches back one window, never before the step", () => ReadyAt(Canary(readyAt: T0, lastRun: Record(T0 + 60 * S, Verdict.Passed), counters: new(2, 0, 0)), 90 * S),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d => Assert.Equal(new RunAnalysis("4", 0, T0 + 60 * S, T0 + 90 * S, EvidenceSince: T0 + 30 * S, StepSince: T0), d.Single<RunAnalysis>())) },
        { "a shared incident right after a failure restarts the failure streak (the failure was likely its leading edge)", () => ReadyAt(Canary(readyAt: T0, lastRun: Record(T0 + 30 * S, Verdict.Failed), counters: new(1, 1, 0)), 60 * S, SharedIncident(T0 + 60 * S)),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [RolloutReasons.AnalysisSharedIncident], Also: d => Assert.Equal(new AnalysisCounters(2, 0, 1), d.Status.Canary!.Analysis)) },
        { "a canary taking all traffic asks for runs that expect no stable series", () => With(ReadyAt(Canary(readyAt: T0, lastRun: Record(T0 + 30 * S, Verdict.Passed), counters: new(1, 0, 0)) with { Weight = 100 }, 60 * S),
                Plan with { Router = TrafficRouter.GatewayApi, Steps = [new RolloutStep(100, 2 * M)] }),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d =>
                Assert.Equal(new RunAnalysis("4", 0, T0 + 30 * S, T0 + 60 * S, EvidenceSince: T0, StableServes: false, StepSince: T0), d.Single<RunAnalysis>())) },
        { "a waiting run never lets a step pass", () => ReadyAt(Canary(readyAt: T0, lastRun: Record(T0 + 90 * S, Verdict.Inconclusive), counters: new(3, 0, 1)), 2 * M, Waiting(T0 + 2 * M)),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d => Assert.Equal(new AnalysisCounters(3, 0, 1), d.Status.Canary!.Analysis)) },

        // progressDeadline: the observation names the reason.
        { "unschedulable canary at the deadline: CanaryUnschedulable", () => Running(Canary(notReadySince: T0), now: T0 + 10 * M) with
            { Canary = Track("4", B, 1, 0, unschedulable: 1, unschedulableMessage: "0/4 nodes are available: 4 Insufficient nvidia.com/gpu") },
            new Expect(ModelPhase.RolledBack, "3", Outcome: RolloutOutcome.RolledBack, Reason: RolloutReasons.CanaryUnschedulable, Events: [RolloutReasons.RolledBack],
                Also: d => Assert.Contains("Insufficient nvidia.com/gpu", d.Status.RolledBack!.Message, StringComparison.Ordinal)) },
        { "crash-looping canary at the deadline: CanaryFailing", () => Running(Canary(notReadySince: T0), now: T0 + 10 * M) with
            { Canary = Track("4", B, 1, 0, failing: 1, failingMessage: "CrashLoopBackOff: model fetch failed") },
            new Expect(ModelPhase.RolledBack, "3", Outcome: RolloutOutcome.RolledBack, Reason: RolloutReasons.CanaryFailing, Events: [RolloutReasons.RolledBack],
                Also: d => Assert.Contains("model fetch failed", d.Status.RolledBack!.Message, StringComparison.Ordinal)) },
        { "slow canary at the deadline: CanaryProgressDeadlineExceeded", () => Running(Canary(notReadySince: T0), canaryReady: 0, now: T0 + 10 * M),
            new Expect(ModelPhase.RolledBack, "3", Outcome: RolloutOutcome.RolledBack, Reason: RolloutReasons.CanaryProgressDeadlineExceeded, Events: [RolloutReasons.RolledBack],
                Also: d => Assert.Contains("progressDeadline 10m", d.Status.RolledBack!.Message, StringComparison.Ordinal)) },
        { "missing canary Deployment at the deadline", () => Running(Canary(notReadySince: T0), now: T0 + 10 * M) with { Canary = null },
            new Expect(ModelPhase.RolledBack, "3", Outcome: RolloutOutcome.RolledBack, Reason: RolloutReasons.CanaryProgressDeadlineExceeded, Events: [RolloutReasons.RolledBack]) },
        { "not ready before the deadline: wait for the rest of it", () => Running(Canary(notReadySince: T0), canaryReady: 0, now: T0 + 9 * M),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d => Assert.Equal(M, d.RequeueAfter)) },
        { "a canary that was ready and lost its pods gets a fresh deadline", () => Running(Canary(readyAt: T0), canaryReady: 0, now: T0 + 20 * M),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d => Assert.Equal(T0 + 20 * M, d.Status.Canary!.NotReadySince)) },

        // spec.model moves during a canary; rolled-back models.
        { "a newer model supersedes the canary", () => Running(Canary(readyAt: T0), now: T0 + M) with { Desired = C },
            new Expect(ModelPhase.Progressing, "3", "5", 0, RolloutOutcome.Superseded, RolloutReasons.ModelChanged, [RolloutReasons.Superseded, RolloutReasons.CanaryStarted], d =>
            {
                Assert.Equal(C, d.Status.Canary!.Model);
                Assert.Equal(T0 + M, d.Status.Canary.StartedAt);
                Assert.Equal(new EnsureCanary("5", C, 1), d.Single<EnsureCanary>());
                Assert.Null(d.Status.Canary.StepReadyAt); // the old template's ready pods do not count
            }) },
        { "back to stable's model aborts the canary", () => Running(Canary(readyAt: T0)) with { Desired = A },
            new Expect(ModelPhase.Healthy, "3", Outcome: RolloutOutcome.Aborted, Reason: RolloutReasons.ModelReverted, Events: [RolloutReasons.Aborted], Also: d =>
            {
                Assert.Null(d.Status.RolledBack);
                Assert.Single(d.Actions.OfType<DeleteCanary>());
            }) },
        { "a rolled-back model is not tried again", () => RolledBackOnB(B),
            new Expect(ModelPhase.RolledBack, "3", Events: [], Also: d =>
            {
                Assert.Empty(d.Actions.OfType<EnsureCanary>());
                Assert.Contains("serving.gru.dev/action=retry", d.Message, StringComparison.Ordinal);
            }) },
        { "a new model after a rollback starts a canary", () => RolledBackOnB(C),
            new Expect(ModelPhase.Progressing, "3", "5", 0, Events: [RolloutReasons.CanaryStarted], Also: d => Assert.Null(d.Status.RolledBack)) },
        { "going back to stable after a rollback clears it", () => RolledBackOnB(A),
            new Expect(ModelPhase.Healthy, "3", Events: [], Also: d => Assert.Null(d.Status.RolledBack)) },
        { "retry starts the rolled-back revision again", () => RolledBackOnB(B) with { Command = RolloutCommand.Retry },
            new Expect(ModelPhase.Progressing, "3", "4", 0, RolloutOutcome.Retried, RolloutReasons.RetriedByUser, [RolloutReasons.RetriedByUser, RolloutReasons.CanaryStarted], d =>
            {
                Assert.Null(d.Status.RolledBack);
                Assert.Equal(new AcknowledgeCommand(RolloutCommand.Retry), d.Single<AcknowledgeCommand>());
            }) },

        // Manual control.
        { "promote skips the remaining steps", () => Running(Canary(readyAt: T0)) with { Command = RolloutCommand.Promote },
            new Expect(ModelPhase.Promoting, "3", "4", 0, Events: [RolloutReasons.PromotedByUser, RolloutReasons.Promoting], Also: d =>
            {
                Assert.Equal(RolloutReasons.PromotedByUser, d.Status.Canary!.Promotion);
                Assert.Equal(new EnsureStable("4", B, 3), d.Single<EnsureStable>());
                Assert.Single(d.Actions.OfType<AcknowledgeCommand>());
            }) },
        { "a hand promotion is recorded as such when it completes", () => Running(Canary(readyAt: T0, promotion: RolloutReasons.PromotedByUser)) with { Stable = Track("4", B, 3, 3) },
            new Expect(ModelPhase.Healthy, "4", Outcome: RolloutOutcome.Promoted, Reason: RolloutReasons.PromotedByUser, Events: [RolloutReasons.Promoted]) },
        { "promote through a closed gate is refused", () => Running(Canary(readyAt: T0)) with { Command = RolloutCommand.Promote, Gate = Closed },
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [RolloutReasons.PromotionBlocked], Also: d =>
            {
                Assert.Null(d.Status.Canary!.Promotion);
                Assert.Contains(Closed.Reason, Assert.Single(d.Events()).Message, StringComparison.Ordinal);
                Assert.Single(d.Actions.OfType<AcknowledgeCommand>());
            }) },
        { "a canary pod serving another model rolls the canary back, paused or not", () => Running(Canary(readyAt: T0, pauses: [new(PauseReason.AnalysisInconclusive, T0)])) with { Gate = new PromotionGate(false, "1 of 1 canary pod(s) serve another model: pod c-1 serves sha256:0b", Mismatched: true) },
            new Expect(ModelPhase.RolledBack, "3", Outcome: RolloutOutcome.RolledBack, Reason: RolloutReasons.CanaryModelMismatch, Events: [RolloutReasons.RolledBack], Also: d =>
            {
                Assert.Equal(RolloutReasons.CanaryModelMismatch, d.Status.RolledBack!.Reason);
                Assert.Contains("serve another model", d.Status.RolledBack.Message, StringComparison.Ordinal);
                Assert.Single(d.Actions.OfType<DeleteCanary>());
            }) },
        { "abort rolls back at once", () => Running(Canary(readyAt: T0)) with { Command = RolloutCommand.Abort },
            new Expect(ModelPhase.RolledBack, "3", Outcome: RolloutOutcome.Aborted, Reason: RolloutReasons.AbortedByUser, Events: [RolloutReasons.Aborted], Also: d =>
            {
                Assert.Equal(RolloutReasons.AbortedByUser, d.Status.RolledBack!.Reason);
                Assert.Single(d.Actions.OfType<DeleteCanary>());
            }) },
        { "resume continues a canary paused on doubt", () => Running(Canary(readyAt: T0, counters: new(4, 1, 4), pauses: [new(PauseReason.AnalysisInconclusive, T0)])) with { Command = RolloutCommand.Resume },
            new Expect(ModelPhase.Progressing, "3", "4", 0, RolloutOutcome.Resumed, RolloutReasons.ResumedByUser, [RolloutReasons.ResumedByUser], d =>
            {
                Assert.Empty(d.Status.Canary!.PauseConditions);
                Assert.Equal(new AnalysisCounters(4, 1, 0), d.Status.Canary.Analysis);
            }) },
        { "resume does not override rollout.paused", () => With(Running(Canary(readyAt: T0, pauses: [new(PauseReason.RolloutPaused, T0)])) with { Command = RolloutCommand.Resume }, Plan with { Paused = true }),
            new Expect(ModelPhase.Paused, "3", "4", 0, Events: [RolloutReasons.CommandIgnored],
                Also: d => Assert.Contains("spec.rollout.paused is true", Assert.Single(d.Events()).Message, StringComparison.Ordinal)) },
        { "resume of a canary that is not paused is ignored", () => Running(Canary(readyAt: T0)) with { Command = RolloutCommand.Resume },
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [RolloutReasons.CommandIgnored]) },
        { "retry while a canary runs is ignored", () => Running(Canary(readyAt: T0)) with { Command = RolloutCommand.Retry },
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [RolloutReasons.CommandIgnored]) },
        { "promote without a canary is ignored", () => Healthy() with { Command = RolloutCommand.Promote },
            new Expect(ModelPhase.Healthy, "3", Events: [RolloutReasons.CommandIgnored], Also: d => Assert.Single(d.Actions.OfType<AcknowledgeCommand>())) },
        { "abort during promotion is ignored: stable is already rolling", () => Running(Canary(readyAt: T0, promotion: RolloutReasons.AnalysisPassed)) with { Command = RolloutCommand.Abort },
            new Expect(ModelPhase.Promoting, "3", "4", 0, Events: [RolloutReasons.CommandIgnored]) },
        { "a model change during promotion lets it finish first", () => Running(Canary(readyAt: T0, promotion: RolloutReasons.AnalysisPassed)) with { Desired = C },
            new Expect(ModelPhase.Promoting, "3", "4", 0, Events: [], Also: d => Assert.Equal(B, d.Status.Canary!.Model)) },
        { "a finished promotion with a newer model pending starts its canary", () => Running(Canary(readyAt: T0, promotion: RolloutReasons.AnalysisPassed)) with { Desired = C, Stable = Track("4", B, 3, 3) },
            new Expect(ModelPhase.Progressing, "4", "5", 0, RolloutOutcome.Promoted, RolloutReasons.AnalysisPassed, [RolloutReasons.Promoted, RolloutReasons.CanaryStarted]) },
        { "rollout.paused holds a running canary", () => With(ReadyAt(Canary(readyAt: T0), 30 * S), Plan with { Paused = true }),
            new Expect(ModelPhase.Paused, "3", "4", 0, RolloutOutcome.Paused, RolloutReasons.RolloutPaused, [RolloutReasons.RolloutPaused], d =>
            {
                Assert.Empty(d.Actions.OfType<RunAnalysis>());
                Assert.Null(d.RequeueAfter);
                Assert.Equal(new EnsureCanary("4", B, 1), d.Single<EnsureCanary>());
            }) },
        { "rollout.paused false resumes", () => Running(Canary(readyAt: T0, pauses: [new(PauseReason.RolloutPaused, T0)])),
            new Expect(ModelPhase.Progressing, "3", "4", 0, RolloutOutcome.Resumed, RolloutReasons.RolloutUnpaused, [RolloutReasons.RolloutUnpaused]) },
        { "rollout.paused holds a new model before its canary", () => With(Healthy() with { Desired = B }, Plan with { Paused = true }),
            new Expect(ModelPhase.Paused, "3", Events: [], Also: d => Assert.Empty(d.Actions.OfType<EnsureCanary>())) },

        // Traffic.
        { "surge false takes the canary's pod out of stable's count", () => With(Healthy(10) with { Desired = B }, Plan with { Surge = false }),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [RolloutReasons.CanaryStarted], Also: d =>
            {
                Assert.Equal(new EnsureStable("3", A, 9), d.Single<EnsureStable>());
                Assert.Equal(new EnsureCanary("4", B, 1), d.Single<EnsureCanary>());
            }) },
        { "surge keeps stable whole until the canary's pods are ready past 50%", () => With(Running(Canary() with { Weight = 90 }, canaryReady: 4, replicas: 10), Plan with { Steps = [new RolloutStep(90, M)] }),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d => Assert.Equal(new EnsureStable("3", A, 10), d.Single<EnsureStable>())) },
        { "surge gives stable's pods up once the canary's are ready past 50%", () => With(Running(Canary() with { Weight = 90 }, canaryReady: 10, replicas: 10), Plan with { Steps = [new RolloutStep(90, M)] }),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d =>
            {
                Assert.Equal(new EnsureStable("3", A, 1), d.Single<EnsureStable>());
                Assert.Null(d.Status.Canary!.StepReadyAt); // stable has not given its pods up yet
                Assert.Equal(50, d.Status.Canary.EffectiveWeight); // 10 of 20 ready pods, not the asked 90
            }) },
        { "effective weight is what ready pods give, beside the asked one", () => Running(Canary(readyAt: T0), canaryReady: 1),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d =>
            {
                Assert.Equal((10, 25), (d.Status.Canary!.Weight, d.Status.Canary.EffectiveWeight));
                Assert.Contains("at 10% (effective 25%)", d.Message, StringComparison.Ordinal);
            }) },
        { "no ready canary pod, no weight claimed", () => Running(Canary(readyAt: T0), canaryReady: 0),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d => Assert.Equal(0, d.Status.Canary!.EffectiveWeight)) },
        { "gateway: no canary weight before its pods are ready", () => With(Running(Canary(notReadySince: T0), canaryReady: 0), Plan with { Router = TrafficRouter.GatewayApi }),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d => Assert.Equal(new SetTrafficWeights(100, 0), d.Single<SetTrafficWeights>())) },
        { "gateway: the exact weight once the canary is ready", () => With(Running(Canary(notReadySince: T0), canaryReady: 1), Plan with { Router = TrafficRouter.GatewayApi }),
            new Expect(ModelPhase.Progressing, "3", "4", 0, Events: [], Also: d =>
            {
                Assert.Equal(new SetTrafficWeights(90, 10), d.Single<SetTrafficWeights>());
                Assert.Equal(10, d.Status.Canary!.EffectiveWeight);
            }) },
        { "gateway: the previous step's weight until the next step's pods are ready", () => With(Running(Canary(step: 1, notReadySince: T0), canaryReady: 1), Plan with { Router = TrafficRouter.GatewayApi }),
            new Expect(ModelPhase.Progressing, "3", "4", 1, Events: [], Also: d =>
            {
                Assert.Equal(new SetTrafficWeights(90, 10), d.Single<SetTrafficWeights>());
                Assert.Equal(new EnsureCanary("4", B, 2), d.Single<EnsureCanary>());
            }) },
        { "gateway: a rollback puts all traffic on stable", () => With(Running(Canary(readyAt: T0)) with { Command = RolloutCommand.Abort }, Plan with { Router = TrafficRouter.GatewayApi }),
            new Expect(ModelPhase.RolledBack, "3", Outcome: RolloutOutcome.Aborted, Reason: RolloutReasons.AbortedByUser, Events: [RolloutReasons.Aborted], Also: d =>
            {
                Assert.Equal(new SetTrafficWeights(100, 0), d.Single<SetTrafficWeights>());
                var actions = d.Actions.ToList();
                Assert.True(actions.IndexOf(d.Single<SetTrafficWeights>()) < actions.IndexOf(d.Single<DeleteCanary>()), "traffic leaves the canary before it is deleted");
            }) },
        { "gateway: no canary, all traffic on stable", () => With(Healthy(), Plan with { Router = TrafficRouter.GatewayApi }),
            new Expect(ModelPhase.Healthy, "3", Events: [], Also: d => Assert.Equal(new SetTrafficWeights(100, 0), d.Single<SetTrafficWeights>())) },

        // History.
        { "history keeps the last 10, newest first", () => Running(Canary(readyAt: T0)) with
            { Command = RolloutCommand.Abort, Status = Running(Canary(readyAt: T0)).Status with { History = [.. Enumerable.Range(0, 10).Select(Entry)] } },
            new Expect(ModelPhase.RolledBack, "3", Outcome: RolloutOutcome.Aborted, Reason: RolloutReasons.AbortedByUser, Events: [RolloutReasons.Aborted], Also: d =>
            {
                Assert.Equal(RolloutHistory.Capacity, d.Status.History.Count);
                Assert.Equal("1", d.Status.History[1].Revision);
                Assert.Equal("9", d.Status.History[^1].Revision);
            }) },
    };

    /// <summary>Row names only, so the runner lists and reports every transition on its own.</summary>
    public static TheoryData<string> Transitions => new(Table.Select(row => (string)row[0]));

    [Theory]
    [MemberData(nameof(Transitions))]
    public void Each_transition(string scenario)
    {
        var row = Table.Single(r => (string)r[0] == scenario);
        var (input, expect) = ((Func<RolloutInput>)row[1], (Expect)row[2]);
        var given = input();
        var decision = CanaryRollout.Decide(given);

        Assert.True(expect.Phase == decision.Phase, $"{scenario}: phase {decision.Phase}, expected {expect.Phase}: {decision.Message}");
        Assert.Equal(expect.Stable, decision.Status.Stable!.Revision);
        Assert.Equal(expect.Canary, decision.Status.Canary?.Revision);
        if (expect.Step is { } step) Assert.Equal(step, decision.Status.Canary!.Step);
        Assert.Equal(expect.Events ?? [], decision.Events().Select(e => e.Reason).ToArray());
        if (expect.Outcome is { } outcome)
        {
            var newest = decision.Status.History[0];
            Assert.Equal((outcome, expect.Reason), (newest.Outcome, newest.Reason));
            Assert.Equal(given.Now, newest.Time);
            Assert.Equal(Math.Min(given.Status.History.Count + 1, RolloutHistory.Capacity), decision.Status.History.Count);
        }
        else
        {
            Assert.Equal(given.Status.History.Count, decision.Status.History.Count);
        }
        Assert.False(string.IsNullOrWhiteSpace(decision.Message));
        Assert.Equal(given.Command != RolloutCommand.None, decision.Actions.OfType<AcknowledgeCommand>().Any());
        expect.Also?.Invoke(decision);
    }
}
