using GruOperator.Domain.Analysis;
using GruOperator.Domain.Conditions;

namespace GruOperator.Domain.Rollout;

/// <summary>What one rollout decision concluded.</summary>
/// <param name="Status">The new rollout status, to be written (once) before the actions are carried out.</param>
/// <param name="Phase">The phase, derived from the rollout state and the conditions.</param>
/// <param name="Message">One sentence for status.message.</param>
/// <param name="Actions">What to do in the cluster, in order.</param>
/// <param name="RequeueAfter">When to decide again although nothing changed (pause end, next analysis, deadline); null: wait for a watch event.</param>
/// <param name="RecordedRun">The analysis run this decision recorded, for status.canary.analysis.lastRun; null when none.</param>
public sealed record RolloutDecision(
    RolloutState Status,
    ModelPhase Phase,
    string Message,
    IReadOnlyList<RolloutAction> Actions,
    TimeSpan? RequeueAfter,
    AnalysisRun? RecordedRun);

/// <summary>
/// The canary rollout state machine, Argo Rollouts style: one pure decision from (spec, status, observed tracks,
/// latest analysis run, manual command, now) to (new status, actions as data, requeue-after). No I/O, no clock.
/// All memory is in <see cref="RolloutState"/>, so deciding again from the written status with the same world changes
/// nothing: a restart never restarts a canary, never promotes twice and never forgets a rollback.
/// <para>
/// The reconciler observes, calls <see cref="Decide"/>, and when the actions hold a <see cref="RunAnalysis"/> runs
/// it and decides again with the run as <see cref="RolloutInput.Analysis"/> (same now); then writes the status and
/// carries out the actions in order.
/// </para>
/// </summary>
public static class CanaryRollout
{
    /// <summary>Decides what the rollout does next.</summary>
    public static RolloutDecision Decide(RolloutInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Replicas < 0) throw new ArgumentOutOfRangeException(nameof(input), input.Replicas, "replicas must not be negative");
        return new Decision(input).Run();
    }

    /// <summary>The working state of one decision: starts from the input's status, ends in a <see cref="RolloutDecision"/>.</summary>
    private sealed class Decision(RolloutInput input)
    {
        private readonly RolloutPlan _plan = input.Plan;
        private readonly IReadOnlyList<RolloutStep> _steps = input.Plan.EffectiveSteps;
        private readonly DateTimeOffset _now = input.Now;
        private readonly List<RolloutAction> _events = [];
        private TrackRevision _stable = input.Status.Stable ?? Adopted(input) ?? new TrackRevision("1", input.Desired);
        private CanaryState? _canary = input.Status.Canary;
        private RolledBackState? _rolledBack = input.Status.RolledBack;
        private IReadOnlyList<HistoryEntry> _history = input.Status.History;
        private AnalysisRun? _recorded;
        private TimeSpan? _requeue;
        private bool _commandDone = input.Command == RolloutCommand.None;
        private bool _held;
        private string? _waiting;

        public RolloutDecision Run()
        {
            if (input.Replicas == 0 || _plan.Strategy == RolloutStrategyKind.Recreate)
            {
                RollInPlace();
            }
            else
            {
                if (_canary is { IsPromoting: true }) ContinuePromotion();
                if (_canary is { IsPromoting: false }) FollowSpecSteps();
                if (_canary is { IsPromoting: false }) FollowSpecModel();
                if (_canary is null) StartOrHold();
                if (_canary is { IsPromoting: false })
                {
                    FollowSpecPause();
                    HandleCommand();
                }
                if (_canary is { IsPromoting: false }) Progress();
                if (_canary is { IsPromoting: true }) UpdateReadiness();
            }
            if (!_commandDone) Ignore(input.Command, _canary is { IsPromoting: true }
                ? $"canary revision {_canary.Revision} is being promoted"
                : "no canary is running");
            return Result();
        }

        /// <summary>Recreate, or nothing to compare (0 replicas): the stable Deployment rolls to the model in place.</summary>
        private void RollInPlace()
        {
            var ended = _canary;
            if (_canary is not null)
            {
                End(RolloutOutcome.Aborted, RolloutReasons.RolledInPlace,
                    input.Replicas == 0 ? "spec.serving.replicas is 0: nothing to compare, the model rolls in place" : "spec.rollout.strategy is Recreate: the model rolls in place");
            }
            // A canary (ended now, or rolled back earlier) already numbered this model: keep its revision rather than count the
            // model twice.
            var numbered = ended?.Model == input.Desired ? ended.Track
                : _rolledBack?.Model == input.Desired ? new TrackRevision(_rolledBack.Revision, _rolledBack.Model)
                : null;
            _rolledBack = null;
            if (input.Desired != _stable.Model) _stable = numbered ?? new TrackRevision(NextRevision(), input.Desired);
        }

        /// <summary>
        /// Steps edited under a running canary: it stays at its step index (the last one if the list got shorter) and takes
        /// that step's weight; a new weight is a new step start, reached again before its hold and analysis count.
        /// </summary>
        private void FollowSpecSteps()
        {
            var canary = _canary!;
            var step = Math.Min(canary.Step, _steps.Count - 1);
            if (step == canary.Step && _steps[step].Weight == canary.Weight) return;
            _canary = canary with { Step = step, Weight = _steps[step].Weight, StepStartedAt = _now, StepReadyAt = null, NotReadySince = null };
            Event(RolloutEventType.Normal, RolloutReasons.CanaryStepChanged,
                $"spec.rollout.canary.steps changed: canary revision {canary.Revision} is now at step {step + 1}/{_steps.Count} at {_steps[step].Weight}%.");
        }

        /// <summary>spec.model moved while the canary runs: back to stable aborts it, anywhere else supersedes it.</summary>
        private void FollowSpecModel()
        {
            var canary = _canary!;
            if (input.Desired == _stable.Model)
            {
                End(RolloutOutcome.Aborted, RolloutReasons.ModelReverted, $"spec.model went back to stable's model {_stable.Model}");
            }
            else if (input.Desired != canary.Model)
            {
                End(RolloutOutcome.Superseded, RolloutReasons.ModelChanged, $"spec.model changed to {input.Desired}");
            }
        }

        /// <summary>No canary: start one for a new model, unless it was rolled back (until retry) or the rollout is paused.</summary>
        private void StartOrHold()
        {
            if (_rolledBack is not null && _rolledBack.Model != input.Desired) _rolledBack = null;
            if (input.Desired == _stable.Model) return;

            if (_rolledBack is { } rejected)
            {
                if (input.Command != RolloutCommand.Retry) return;
                _commandDone = true;
                _rolledBack = null;
                AddHistory(rejected.Revision, rejected.Model, RolloutOutcome.Retried, RolloutReasons.RetriedByUser,
                    $"retry asked for after: {rejected.Message}");
                Event(RolloutEventType.Normal, RolloutReasons.RetriedByUser, $"Retrying canary revision {rejected.Revision} ({rejected.Model}).");
                Start(rejected.Revision);
                return;
            }

            if (_plan.Paused)
            {
                _held = true;
                return;
            }
            Start(NextRevision());
        }

        private void Start(string revision)
        {
            _canary = new CanaryState(
                revision, input.Desired, Step: 0, _steps[0].Weight, EffectiveWeight: 0, StartedAt: _now, StepStartedAt: _now,
                StepReadyAt: null, NotReadySince: null, AnalysisCounters.Initial, LastRun: null, PauseConditions: [], Promotion: null);
            Event(RolloutEventType.Normal, RolloutReasons.CanaryStarted,
                $"Started canary revision {revision} ({input.Desired}) beside stable revision {_stable.Revision}: step 1/{_steps.Count} at {_steps[0].Weight}%.");
        }

        /// <summary>spec.rollout.paused holds the canary; setting it back to false lets it go on.</summary>
        private void FollowSpecPause()
        {
            var canary = _canary!;
            if (_plan.Paused && !canary.PausedFor(PauseReason.RolloutPaused))
            {
                _canary = canary with { PauseConditions = [.. canary.PauseConditions, new PauseCondition(PauseReason.RolloutPaused, _now)] };
                AddHistory(canary.Revision, canary.Model, RolloutOutcome.Paused, RolloutReasons.RolloutPaused, "spec.rollout.paused is true");
                Event(RolloutEventType.Normal, RolloutReasons.RolloutPaused, $"Canary revision {canary.Revision} paused at step {Step(canary)}: spec.rollout.paused is true.");
            }
            else if (!_plan.Paused && canary.PausedFor(PauseReason.RolloutPaused))
            {
                Unpause(PauseReason.RolloutPaused, RolloutReasons.RolloutUnpaused, "spec.rollout.paused is false");
            }
        }

        private void Unpause(PauseReason reason, string why, string message)
        {
            var canary = _canary!;
            // The deadline starts afresh: time spent held by a human is not the canary's fault.
            _canary = canary with
            {
                PauseConditions = [.. canary.PauseConditions.Where(p => p.Reason != reason)],
                NotReadySince = null,
                Analysis = reason == PauseReason.AnalysisInconclusive ? canary.Analysis.Resumed() : canary.Analysis,
                // Resumed after no traffic: the step's hold (and the wait for data) starts again now.
                StepReadyAt = reason == PauseReason.CanaryNoTraffic && canary.StepReadyAt is not null ? _now : canary.StepReadyAt,
            };
            AddHistory(canary.Revision, canary.Model, RolloutOutcome.Resumed, why, message);
            Event(RolloutEventType.Normal, why, $"Canary revision {canary.Revision} resumed at step {Step(canary)}: {message}.");
        }

        private void HandleCommand()
        {
            if (_commandDone) return;
            var canary = _canary!;
            switch (input.Command)
            {
                case RolloutCommand.Abort:
                    _commandDone = true;
                    Rollback(RolloutOutcome.Aborted, RolloutReasons.AbortedByUser, "aborted with serving.gru.dev/action=abort");
                    break;
                case RolloutCommand.Promote when input.Gate.Open:
                    _commandDone = true;
                    Event(RolloutEventType.Normal, RolloutReasons.PromotedByUser,
                        $"Promoting canary revision {canary.Revision} at step {Step(canary)} as asked, skipping the remaining steps.");
                    BeginPromotion(RolloutReasons.PromotedByUser);
                    break;
                case RolloutCommand.Promote:
                    _commandDone = true;
                    Event(RolloutEventType.Warning, RolloutReasons.PromotionBlocked,
                        $"Promotion of canary revision {canary.Revision} refused: {input.Gate.Reason}.");
                    break;
                case RolloutCommand.Resume when canary.PausedFor(PauseReason.AnalysisInconclusive):
                    _commandDone = true;
                    Unpause(PauseReason.AnalysisInconclusive, RolloutReasons.ResumedByUser, "resumed with serving.gru.dev/action=resume");
                    break;
                case RolloutCommand.Resume when canary.PausedFor(PauseReason.CanaryNoTraffic):
                    _commandDone = true;
                    Unpause(PauseReason.CanaryNoTraffic, RolloutReasons.ResumedByUser, "resumed with serving.gru.dev/action=resume");
                    break;
                case RolloutCommand.Resume:
                    Ignore(input.Command, canary.PausedFor(PauseReason.RolloutPaused)
                        ? "spec.rollout.paused is true: set it to false to resume"
                        : $"canary revision {canary.Revision} is not paused");
                    break;
                case RolloutCommand.Retry:
                    Ignore(input.Command, $"canary revision {canary.Revision} is running: retry applies to a rolled-back canary");
                    break;
            }
        }

        private void Ignore(RolloutCommand command, string why)
        {
            _commandDone = true;
            Event(RolloutEventType.Normal, RolloutReasons.CommandIgnored, $"serving.gru.dev/action={Name(command)} ignored: {why}.");
        }

        /// <summary>One step of progress: readiness, deadline, the new analysis run, step completion, the next run.</summary>
        private void Progress()
        {
            UpdateReadiness();
            var canary = _canary!;
            // Before the pause check: a paused canary serving the wrong model must not keep its traffic either.
            if (input.Gate.Mismatched)
            {
                Rollback(RolloutOutcome.RolledBack, RolloutReasons.CanaryModelMismatch, input.Gate.Reason);
                return;
            }
            if (canary.IsPaused) return;

            if (canary.NotReadySince is { } since && _now - since >= _plan.ProgressDeadline)
            {
                var (reason, message) = NotReadyReason(canary);
                Rollback(RolloutOutcome.RolledBack, reason, message);
                return;
            }

            if (Accepted(input.Analysis) is { } run)
            {
                if (Waiting(canary, run))
                {
                    // Too little canary traffic yet: not evidence, not counted; the next run's window still starts at the anchor.
                    var anchor = AnalysisAnchor(canary);
                    _canary = canary = canary with { NextRunAt = NextLook(anchor, run) };
                    _waiting = $"analysis waits for canary traffic ({run.Reason}) since {anchor:O}; with none by {anchor + _plan.ProgressDeadline:O} "
                        + "(progressDeadline) the canary pauses as getting no traffic";
                }
                else if (run.WaitingForData)
                {
                    // A whole progressDeadline without minRequests: the canary gets (almost) no traffic. Counting such runs as
                    // Inconclusive would pause only after inconclusiveLimit deadlines; this is no verdict on the canary, so
                    // pause now and say why (a rollback would not bring traffic either).
                    var message = $"canary revision {canary.Revision} served fewer than minRequests in progressDeadline {Describe(_plan.ProgressDeadline)} "
                        + $"at {canary.EffectiveWeight}% ({run.Reason}); check that traffic reaches it (Service selector, HTTPRoute, client load)";
                    _canary = canary with { PauseConditions = [.. canary.PauseConditions, new PauseCondition(PauseReason.CanaryNoTraffic, _now)] };
                    AddHistory(canary.Revision, canary.Model, RolloutOutcome.Paused, RolloutReasons.CanaryNoTraffic, message);
                    Event(RolloutEventType.Warning, RolloutReasons.CanaryNoTraffic,
                        $"Canary revision {canary.Revision} paused at step {Step(canary)}: {message}. Resume or abort with serving.gru.dev/action.");
                    return;
                }
                else
                {
                    Record(run);
                    if (_canary is null || _canary.IsPaused) return;
                    canary = _canary;
                }
            }

            if (StepPassed(canary))
            {
                if (canary.Step == _steps.Count - 1)
                {
                    if (input.Gate.Open)
                    {
                        BeginPromotion(RolloutReasons.AnalysisPassed);
                        return;
                    }
                    _waiting = $"the last step passed; promotion waits for the served models to be verified: {input.Gate.Reason}";
                }
                else
                {
                    Advance(canary);
                    UpdateReadiness();
                    canary = _canary!;
                }
            }

            ScheduleAnalysis(canary);
            if (canary.NotReadySince is { } notReady) Requeue(notReady + _plan.ProgressDeadline - _now);
        }

        /// <summary>Sets the effective weight and the step's ready/not-ready clocks from what is observed.</summary>
        private void UpdateReadiness()
        {
            var canary = _canary!;
            var split = Split(canary);
            var readyAtRevision = ReadyAtRevision(canary);
            var stableReady = input.Stable?.Workload.ReadyReplicas ?? 0;
            var reached = readyAtRevision >= split.Canary
                && (_plan.Router == TrafficRouter.GatewayApi || stableReady <= StableReplicas(canary, split, readyAtRevision));
            canary = canary with
            {
                StepReadyAt = canary.StepReadyAt ?? (reached && !canary.IsPromoting ? _now : null),
                NotReadySince = reached || canary.IsPromoting ? null : canary.NotReadySince ?? _now,
            };
            var canaryReady = input.Canary?.Workload.ReadyReplicas ?? 0;
            // In a shadow step the Service selects stable only and the route gives the canary 0%: it has no users.
            var effective = InShadow(canary) ? 0
                : _plan.Router == TrafficRouter.Replicas
                ? CanaryReplicaMath.EffectiveWeight(stableReady, canaryReady)
                : canaryReady > 0 ? RouteWeight(canary) : 0;
            _canary = canary with { EffectiveWeight = effective };
        }

        private (string Reason, string Message) NotReadyReason(CanaryState canary)
        {
            var deadline = $"canary revision {canary.Revision} was not ready within progressDeadline {Describe(_plan.ProgressDeadline)}";
            if (input.Canary?.Workload is not { } observed) return (RolloutReasons.CanaryProgressDeadlineExceeded, deadline + ": its Deployment does not exist");
            var counts = $"{ReadyAtRevision(canary)}/{Split(canary).Canary} ready";
            if (observed.UnschedulablePods > 0)
            {
                return (RolloutReasons.CanaryUnschedulable,
                    $"{deadline}: {observed.UnschedulablePods} pod(s) cannot be scheduled: {observed.UnschedulableMessage ?? "no reason given"} ({counts})");
            }
            if (observed.FailingPods > 0)
            {
                return (RolloutReasons.CanaryFailing, $"{deadline}: {observed.FailingPods} pod(s) failing: {observed.FailingMessage ?? "no reason given"} ({counts})");
            }
            return (RolloutReasons.CanaryProgressDeadlineExceeded, $"{deadline}: {observed.StalledMessage ?? "pods not ready"} ({counts})");
        }

        /// <summary>A run counts once, for the revision and step it judged, and only for traffic after the step was reached.</summary>
        private AnalysisRun? Accepted(AnalysisResult? result)
        {
            var canary = _canary!;
            return result is not null
                && result.Revision == canary.Revision
                && result.Step == canary.Step
                && canary.StepReadyAt is { } readyAt
                && result.Run.Time > readyAt
                && result.Run.Time <= _now
                && (canary.LastRun is null || result.Run.Time > canary.LastRun.Time)
                ? result.Run
                : null;
        }

        /// <summary>
        /// A run that saw fewer than minRequests canary requests waits for data, uncounted, as long as its window (from the
        /// last judged run or the step's start) is shorter than progressDeadline; beyond that the drought counts as Inconclusive.
        /// </summary>
        private bool Waiting(CanaryState canary, AnalysisRun run) =>
            run.WaitingForData && run.Time - AnalysisAnchor(canary) < _plan.ProgressDeadline;

        /// <summary>Where the next run's window starts: the last judged run, or the moment the step was reached.</summary>
        private static DateTimeOffset AnalysisAnchor(CanaryState canary) =>
            canary.LastRun is { } last && last.Time > canary.StepReadyAt ? last.Time : canary.StepReadyAt!.Value;

        private void Record(AnalysisRun run)
        {
            var canary = _canary!;
            var counters = canary.Analysis.Record(run.Verdict, run.SharedIncident);
            _recorded = run;
            _canary = canary = canary with { Analysis = counters, LastRun = new RunRecord(run.Time, run.Verdict, run.Reason), NextRunAt = null };
            var (type, reason) = run.Verdict switch
            {
                Verdict.Passed => (RolloutEventType.Normal, RolloutReasons.AnalysisRunPassed),
                Verdict.Failed => (RolloutEventType.Warning, RolloutReasons.AnalysisRunFailed),
                _ when run.SharedIncident => (RolloutEventType.Warning, RolloutReasons.AnalysisSharedIncident),
                _ => (RolloutEventType.Normal, RolloutReasons.AnalysisRunInconclusive),
            };
            Event(type, reason, $"Analysis run {counters.Runs} of canary revision {canary.Revision} at step {Step(canary)}: {run.Reason}.");

            var decision = counters.Decide(_plan.Analysis);
            if (decision.Action == AnalysisAction.Rollback)
            {
                Rollback(RolloutOutcome.RolledBack, decision.Reason, $"{decision.Message}: {MetricReport(run)}");
            }
            else if (decision.Action == AnalysisAction.Pause && !canary.PausedFor(PauseReason.AnalysisInconclusive))
            {
                _canary = canary with { PauseConditions = [.. canary.PauseConditions, new PauseCondition(PauseReason.AnalysisInconclusive, _now)] };
                var message = $"{decision.Message}: {MetricReport(run)}";
                AddHistory(canary.Revision, canary.Model, RolloutOutcome.Paused, decision.Reason, message);
                Event(RolloutEventType.Warning, RolloutReasons.AnalysisInconclusive,
                    $"Canary revision {canary.Revision} paused at step {Step(canary)}: {message}. Resume or abort with serving.gru.dev/action.");
            }
        }

        /// <summary>A step passes when its last run passed and came after the hold: the whole pause was judged.</summary>
        private bool StepPassed(CanaryState canary) =>
            canary.StepReadyAt is { } readyAt
            && canary.LastRun is { Verdict: Verdict.Passed } last
            && last.Time > readyAt
            && last.Time >= readyAt + _steps[canary.Step].Pause;

        private void Advance(CanaryState canary)
        {
            var next = canary.Step + 1;
            _canary = canary with
            {
                Step = next,
                Weight = _steps[next].Weight,
                StepStartedAt = _now,
                StepReadyAt = null,
                NotReadySince = null,
            };
            Event(RolloutEventType.Normal, RolloutReasons.CanaryStepChanged,
                $"Canary revision {canary.Revision} passed step {Step(canary)} at {canary.Weight}%; now step {next + 1}/{_steps.Count} at {_steps[next].Weight}%.");
        }

        /// <summary>
        /// When a run that waited for traffic should look again: when minRequests is expected at the rate seen so far, but
        /// no sooner than half an interval and no later than two (traffic changes), nor past the no-traffic deadline.
        /// </summary>
        private DateTimeOffset NextLook(DateTimeOffset anchor, AnalysisRun run)
        {
            var interval = _plan.Analysis.Interval;
            var seen = run.Metrics.FirstOrDefault(m => m.Name == MetricNames.RequestCount)?.Value ?? 0;
            var needed = run.Metrics.FirstOrDefault(m => m.Name == MetricNames.RequestCount)?.Threshold?.Min ?? 0;
            var expected = seen > 0 && needed > seen ? (_now - anchor) * ((needed - seen) / seen) : 2 * interval;
            var wait = expected < interval / 2 ? interval / 2 : expected > 2 * interval ? 2 * interval : expected;
            var deadline = anchor + _plan.ProgressDeadline;
            return _now + wait > deadline && deadline > _now ? deadline : _now + wait;
        }

        /// <summary>
        /// Analysis runs every interval from the moment the step was reached, plus one at the end of the step's pause,
        /// so the run that lets the step pass has seen the whole hold.
        /// </summary>
        private void ScheduleAnalysis(CanaryState canary)
        {
            if (canary.StepReadyAt is not { } readyAt) return;
            var anchor = AnalysisAnchor(canary);
            var due = anchor + _plan.Analysis.Interval;
            var pauseEnd = readyAt + _steps[canary.Step].Pause;
            if (pauseEnd > anchor && pauseEnd < due) due = pauseEnd;
            // A run waiting for traffic set when the next look is worth making; every reconcile before then leaves Prometheus alone.
            if (canary.NextRunAt is { } next && next > anchor && next > due) due = next;
            if (_now >= due)
            {
                // While no failure is counted, the run also looks at the previous window and its own together: a breach that began
                // late in a passed window is judged on all its requests; once one failure counts, runs judge only their own windows,
                // so failureLimit still counts failures on disjoint traffic.
                var evidence = canary.Analysis.ConsecutiveFailures == 0 && readyAt < anchor
                    ? (anchor - _plan.Analysis.Interval > readyAt ? anchor - _plan.Analysis.Interval : readyAt) : (DateTimeOffset?)null;
                // And, from its second run on, at the step so far: evidence of a weak regression accumulates over the step's whole
                // traffic, judged by anytime-valid tests that may be repeated at every run; a run after the hold (one that can let
                // the step pass) closes the step with one exact test of all its requests against the SLO.
                var step = readyAt < anchor ? readyAt : (DateTimeOffset?)null;
                _events.Add(new RunAnalysis(canary.Revision, canary.Step, anchor, _now, evidence, StableServes: canary.EffectiveWeight < 100, StepSince: step,
                    ClosesStep: step is not null && _now >= pauseEnd));
                Requeue(_plan.Analysis.Interval);
            }
            else
            {
                Requeue(due - _now);
            }
        }

        private void BeginPromotion(string reason)
        {
            var canary = _canary!;
            _canary = canary with { Promotion = reason, PauseConditions = [], NotReadySince = null };
            Event(RolloutEventType.Normal, RolloutReasons.Promoting,
                $"Promoting canary revision {canary.Revision} ({canary.Model}): stable rolls to it, the canary stays until stable is ready.");
        }

        /// <summary>Promotion ends when stable runs the canary's revision on all its replicas, ready: only then does the canary go.</summary>
        private void ContinuePromotion()
        {
            var canary = _canary!;
            if (input.Stable is not { } stable
                || stable.Model != canary.Model
                || stable.Workload.Revision != canary.Revision
                || !stable.Workload.TemplateObserved
                || stable.Workload.UpdatedReplicas < input.Replicas
                || stable.Workload.ReadyReplicas < input.Replicas)
            {
                return;
            }
            var previous = _stable;
            _stable = canary.Track;
            _canary = null;
            var how = canary.Promotion == RolloutReasons.PromotedByUser ? "promoted by hand" : "every step's analysis passed";
            AddHistory(canary.Revision, canary.Model, RolloutOutcome.Promoted, canary.Promotion!, how);
            Event(RolloutEventType.Normal, RolloutReasons.Promoted,
                $"Revision {canary.Revision} ({canary.Model}) is stable ({how}); revision {previous.Revision} retired.");
        }

        private void Rollback(RolloutOutcome outcome, string reason, string message)
        {
            var canary = _canary!;
            _rolledBack = new RolledBackState(canary.Revision, canary.Model, reason, message, _now);
            AddHistory(canary.Revision, canary.Model, outcome, reason, message);
            Event(RolloutEventType.Warning, outcome == RolloutOutcome.Aborted ? RolloutReasons.Aborted : RolloutReasons.RolledBack,
                $"Canary revision {canary.Revision} ({canary.Model}) {(outcome == RolloutOutcome.Aborted ? "aborted" : "rolled back")} ({reason}): {message}. "
                + $"All traffic is on stable revision {_stable.Revision}.");
            _canary = null;
        }

        /// <summary>Ends the canary without blame: nothing keeps its model from being tried again.</summary>
        private void End(RolloutOutcome outcome, string reason, string message)
        {
            var canary = _canary!;
            AddHistory(canary.Revision, canary.Model, outcome, reason, message);
            Event(RolloutEventType.Normal, outcome == RolloutOutcome.Superseded ? RolloutReasons.Superseded : RolloutReasons.Aborted,
                $"Canary revision {canary.Revision} ({canary.Model}) {(outcome == RolloutOutcome.Superseded ? "superseded" : "aborted")}: {message}.");
            _canary = null;
        }

        private RolloutDecision Result()
        {
            var actions = new List<RolloutAction>();
            var canary = _canary;
            if (canary is { IsPromoting: true })
            {
                actions.Add(new EnsureStable(canary.Revision, canary.Model, input.Replicas));
            }
            else if (canary is not null)
            {
                var split = Split(canary);
                actions.Add(new EnsureStable(_stable.Revision, _stable.Model, StableReplicas(canary, split, ReadyAtRevision(canary)))
                {
                    MirrorSample = InShadow(canary) ? _plan.MirrorSample : null,
                });
            }
            else
            {
                actions.Add(new EnsureStable(_stable.Revision, _stable.Model, input.Replicas));
            }
            if (canary is not null) actions.Add(new EnsureCanary(canary.Revision, canary.Model, CanaryReplicas(canary)));
            if (_plan.Router == TrafficRouter.GatewayApi && _plan.Strategy == RolloutStrategyKind.Canary)
            {
                var weight = canary is null ? 0 : RouteWeight(canary);
                actions.Add(new SetTrafficWeights(100 - weight, weight));
            }
            if (canary is null && input.Canary is not null) actions.Add(new DeleteCanary());
            actions.AddRange(_events);
            if (input.Command != RolloutCommand.None) actions.Add(new AcknowledgeCommand(input.Command));

            var stableWorkload = input.Stable?.Workload ?? new TrackObservation(input.Replicas, 0, 0, false, 0, null, _stable.Revision);
            var assessment = ServingConditions.Assess(input.Status.Conditions, stableWorkload, input.Generation, _now);
            var (progressing, phase) = RolloutCondition();
            var conditions = progressing is null ? assessment.Conditions : ConditionSet.Set(assessment.Conditions, progressing);
            var message = progressing is null ? assessment.Message : progressing.Message;
            var status = new RolloutState(_stable, _canary, _rolledBack, _history, conditions);
            return new RolloutDecision(status, phase ?? assessment.Phase, message, actions, _requeue, _recorded);
        }

        /// <summary>The Progressing condition and phase the rollout imposes; null where the stable track's own apply.</summary>
        private (Condition? Progressing, ModelPhase? Phase) RolloutCondition()
        {
            var generation = input.Generation;
            if (_canary is { IsPromoting: true } promoting)
            {
                var counts = input.Stable is { } s && s.Workload.Revision == promoting.Revision
                    ? $"{Math.Min(s.Workload.UpdatedReplicas, s.Workload.ReadyReplicas)}/{input.Replicas}"
                    : $"0/{input.Replicas}";
                return (new Condition(ConditionTypes.Progressing, Condition.True, RolloutReasons.Promoting,
                    $"Promoting canary revision {promoting.Revision}: {counts} stable replicas updated and ready.", generation, _now), ModelPhase.Promoting);
            }
            if (_canary is { IsPaused: true } paused)
            {
                var reason = paused.PauseConditions[0].Reason;
                var why = reason == PauseReason.RolloutPaused
                    ? "spec.rollout.paused is true; set it to false to continue"
                    : reason == PauseReason.CanaryNoTraffic
                    ? $"the canary gets no traffic (fewer than minRequests in progressDeadline {Describe(_plan.ProgressDeadline)}); continue with serving.gru.dev/action=resume or stop with abort"
                    : $"{paused.Analysis.ConsecutiveInconclusive} consecutive inconclusive analysis runs; continue with serving.gru.dev/action=resume or stop with abort";
                return (new Condition(ConditionTypes.Progressing, Condition.True, reason.ToString(),
                    $"Canary revision {paused.Revision} paused at step {Step(paused)} at {paused.Weight}% (effective {paused.EffectiveWeight}%): {why}.",
                    generation, _now), ModelPhase.Paused);
            }
            if (_canary is { } canary)
            {
                var split = Split(canary);
                var ready = ReadyAtRevision(canary);
                var detail = _waiting
                    ?? (canary.StepReadyAt is null
                        ? $"waiting for canary pods: {ready}/{split.Canary} ready"
                        : canary.LastRun is { } last
                        ? $"analysis {canary.Analysis.Runs} run(s), last {last.Verdict}: {last.Reason}"
                        : "first analysis run pending");
                return (new Condition(ConditionTypes.Progressing, Condition.True, RolloutReasons.CanaryProgressing,
                    $"Canary revision {canary.Revision} step {Step(canary)} at {canary.Weight}% (effective {canary.EffectiveWeight}%): {detail}.",
                    generation, _now), ModelPhase.Progressing);
            }
            if (_held)
            {
                return (new Condition(ConditionTypes.Progressing, Condition.True, RolloutReasons.RolloutPaused,
                    $"spec.rollout.paused is true: the change to {input.Desired} waits; set it to false to start the canary.", generation, _now), ModelPhase.Paused);
            }
            if (_rolledBack is { } rolledBack && _plan.Strategy == RolloutStrategyKind.Canary)
            {
                return (new Condition(ConditionTypes.Progressing, Condition.False, rolledBack.Reason,
                    $"Canary revision {rolledBack.Revision} was rolled back: {rolledBack.Message}. Stable revision {_stable.Revision} serves; "
                    + "change spec.model or retry with serving.gru.dev/action=retry.", generation, _now), ModelPhase.RolledBack);
            }
            return (null, null);
        }

        /// <summary>A shadow step: one canary pod beside all of stable's, answering only what stable mirrors to it.</summary>
        private ReplicaSplit Split(CanaryState canary) => InShadow(canary)
            ? new ReplicaSplit(input.Replicas, 1)
            : CanaryReplicaMath.Split(input.Replicas, canary.Weight, _plan.Surge, _plan.Router);

        private bool InShadow(CanaryState canary) => !canary.IsPromoting && RolloutPlan.IsShadow(_steps, canary.Step);

        /// <summary>
        /// Stable's pod count under a canary. With surge and replicas routing, stable gives pods up (past 50%) only once
        /// the canary's are ready, so capacity never dips; without surge it gives them up first, as there is no room.
        /// </summary>
        private int StableReplicas(CanaryState canary, ReplicaSplit split, int readyAtRevision) =>
            canary.IsPromoting ? input.Replicas
            : _plan.Surge && _plan.Router == TrafficRouter.Replicas && readyAtRevision < split.Canary ? input.Replicas
            : split.Stable;

        /// <summary>
        /// Canary pods to run. Without surge a promotion hands the canary's pods back at once: their GPUs are the room stable's
        /// new pods need, and stable's old pods keep serving meanwhile (maxUnavailable 0). The Deployment itself goes only
        /// once stable is ready at the new revision.
        /// </summary>
        private int CanaryReplicas(CanaryState canary) => canary.IsPromoting && !_plan.Surge ? 0 : Split(canary).Canary;

        /// <summary>Ready canary pods running this canary's revision (pods of a superseded template do not count).</summary>
        private int ReadyAtRevision(CanaryState canary) =>
            input.Canary is { } observed && observed.Workload.Revision == canary.Revision && observed.Model == canary.Model && observed.Workload.TemplateObserved
                ? Math.Min(observed.Workload.ReadyReplicas, observed.Workload.UpdatedReplicas)
                : 0;

        /// <summary>The weight on the route: the step's once its pods are ready, until then the previous step's.</summary>
        private int RouteWeight(CanaryState canary) =>
            canary.IsPromoting ? (_plan.Surge ? canary.Weight : 0)
            : canary.StepReadyAt is not null ? canary.Weight
            : canary.Step > 0 ? _steps[canary.Step - 1].Weight
            : 0;

        private void Requeue(TimeSpan after)
        {
            if (after < TimeSpan.Zero) after = TimeSpan.Zero;
            _requeue = _requeue is { } current && current < after ? current : after;
        }

        private string NextRevision() => RevisionPolicy.After(
            [_stable.Revision, _canary?.Revision, _rolledBack?.Revision, input.Status.Canary?.Revision, input.Status.RolledBack?.Revision, .. _history.Select(h => h.Revision)]);

        private void AddHistory(string revision, ModelIdentity model, RolloutOutcome outcome, string reason, string message) =>
            _history = RolloutHistory.Add(_history, new HistoryEntry(revision, model, outcome, reason, message, _now));

        private void Event(RolloutEventType type, string reason, string message) => _events.Add(new RecordEvent(type, reason, message));

        private string Step(CanaryState canary) => $"{canary.Step + 1}/{_steps.Count}";

        private static TrackRevision? Adopted(RolloutInput input) =>
            input.Stable is { } observed && !string.IsNullOrEmpty(observed.Workload.Revision) ? new TrackRevision(observed.Workload.Revision, observed.Model) : null;
    }

    /// <summary>
    /// The metrics behind a verdict, each with value, threshold, stable value and p-value, as the rollback reason
    /// reads: "latencyP95: value 0.31, threshold 0.2, stable 0.081, p &lt;0.0001".
    /// </summary>
    public static string MetricReport(AnalysisRun run)
    {
        var named = run.Metrics.Where(m => m.Verdict == run.Verdict).ToList();
        if (named.Count == 0) return run.Reason;
        return string.Join("; ", named.Select(m =>
            $"{m.Name}: value {AnalysisStatusFormat.Number(m.Value) ?? "none"}, threshold {AnalysisStatusFormat.Threshold(m.Threshold) ?? "none"}, "
            + $"stable {AnalysisStatusFormat.Number(m.StableValue) ?? "unknown"}, p {AnalysisStatusFormat.PValue(m.PValue) ?? "n/a"}"));
    }

    private static string Name(RolloutCommand command) => command.ToString().ToLowerInvariant();

    private static string Describe(TimeSpan span) =>
        span.TotalHours >= 1 && span.Minutes == 0 && span.Seconds == 0 ? $"{(int)span.TotalHours}h"
        : span.TotalMinutes >= 1 && span.Seconds == 0 ? $"{(int)span.TotalMinutes}m"
        : $"{(int)span.TotalSeconds}s";
}
