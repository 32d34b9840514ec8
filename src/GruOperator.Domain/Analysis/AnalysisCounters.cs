namespace GruOperator.Domain.Analysis;

/// <summary>What the rollout should do after a run.</summary>
public enum AnalysisAction
{
    /// <summary>Keep going: wait for the next run or the next step.</summary>
    Continue,

    /// <summary>Hold the canary for a human (onInconclusive: Pause).</summary>
    Pause,

    /// <summary>Abort the canary and return all traffic to stable.</summary>
    Rollback,
}

/// <summary>The action with the machine-readable reason for conditions and Events.</summary>
public sealed record AnalysisDecision(AnalysisAction Action, string Reason, string Message);

/// <summary>
/// The consecutive-run counters the rollout carries in <c>status.canary.analysis</c>
/// (<c>runs</c>, <c>consecutiveFailures</c>, <c>consecutiveInconclusive</c>). Pure state: the state
/// machine stores it, feeds back each verdict with <see cref="Record"/> and acts on <see cref="Decide"/>.
/// </summary>
public sealed record AnalysisCounters(int Runs, int ConsecutiveFailures, int ConsecutiveInconclusive)
{
    /// <summary>Counters of a canary that has not been analysed yet.</summary>
    public static AnalysisCounters Initial { get; } = new(0, 0, 0);

    /// <summary>
    /// Counts one more run. Passed clears both streaks. Failed extends the failure streak and clears the
    /// inconclusive one. Inconclusive extends its streak but leaves the failure streak alone: an outage between
    /// two failed runs must not wash the first failure away. A shared incident (Inconclusive: stable breaches too) is the
    /// exception: it restarts the failure streak, because a failure just before it is most likely its leading edge. Each
    /// pod is scraped at its own moment, so the two tracks' windows end up to a scrape interval apart, and a canary pod
    /// scraped a few seconds after an incident began can breach before stable's counters show it.
    /// </summary>
    public AnalysisCounters Record(Verdict verdict, bool sharedIncident = false) => verdict switch
    {
        Verdict.Passed => new(Runs + 1, 0, 0),
        Verdict.Failed => new(Runs + 1, ConsecutiveFailures + 1, 0),
        Verdict.Inconclusive when sharedIncident => new(Runs + 1, 0, ConsecutiveInconclusive + 1),
        Verdict.Inconclusive => new(Runs + 1, ConsecutiveFailures, ConsecutiveInconclusive + 1),
        _ => throw new ArgumentOutOfRangeException(nameof(verdict), verdict, "unknown verdict"),
    };

    /// <summary>After a human resumes a canary paused on doubt, the doubt starts from zero again.</summary>
    public AnalysisCounters Resumed() => this with { ConsecutiveInconclusive = 0 };

    /// <summary>Applies <c>failureLimit</c>, <c>inconclusiveLimit</c> and <c>onInconclusive</c>; failure wins over doubt.</summary>
    public AnalysisDecision Decide(CanaryAnalysisSpec spec)
    {
        if (ConsecutiveFailures >= spec.FailureLimit)
        {
            return new(AnalysisAction.Rollback, "AnalysisFailed",
                $"{ConsecutiveFailures} consecutive failed analysis runs reached failureLimit {spec.FailureLimit}");
        }

        if (ConsecutiveInconclusive >= spec.InconclusiveLimit)
        {
            var message = $"{ConsecutiveInconclusive} consecutive inconclusive analysis runs reached inconclusiveLimit {spec.InconclusiveLimit}";
            return spec.OnInconclusive == InconclusiveAction.Rollback
                ? new(AnalysisAction.Rollback, "AnalysisInconclusive", message)
                : new(AnalysisAction.Pause, "AnalysisInconclusive", message);
        }

        return new(AnalysisAction.Continue, "AnalysisRunning",
            $"{Runs} runs, {ConsecutiveFailures} consecutive failed, {ConsecutiveInconclusive} consecutive inconclusive");
    }
}
