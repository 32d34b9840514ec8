using GruOperator.Domain.Analysis;

namespace GruOperator.Api;

/// <summary>
/// Maps the analysis layer's run records onto <c>status.canary.analysis</c>. Pure: numbers are rendered by
/// <see cref="AnalysisStatusFormat"/>, the one place that decides how analysis numbers read in status.
/// </summary>
internal static class AnalysisStatusMapping
{
    /// <summary>
    /// The counters and the last run as <c>status.canary.analysis</c>; <paramref name="lastRun"/> is null before the
    /// first run.
    /// </summary>
    public static AnalysisStatus ToStatus(AnalysisCounters counters, AnalysisRun? lastRun) => new()
    {
        Runs = counters.Runs,
        ConsecutiveFailures = counters.ConsecutiveFailures,
        ConsecutiveInconclusive = counters.ConsecutiveInconclusive,
        LastRun = lastRun is null ? null : ToStatus(lastRun),
    };

    /// <summary>
    /// One run as <c>lastRun</c>, metrics in the run's order (built-in SLIs first). The backend's warnings are
    /// left out: they belong in the operator's log, not in status.
    /// </summary>
    public static AnalysisRunStatus ToStatus(AnalysisRun run) => new()
    {
        Time = run.Time,
        Verdict = ToStatus(run.Verdict),
        Reason = run.Reason,
        Metrics = [.. run.Metrics.Select(ToStatus)],
    };

    /// <summary>One metric's judgement as an entry of <c>lastRun.metrics</c>.</summary>
    public static MetricResult ToStatus(Domain.Analysis.MetricResult metric) => new()
    {
        Name = metric.Name,
        Value = AnalysisStatusFormat.Number(metric.Value),
        Threshold = AnalysisStatusFormat.Threshold(metric.Threshold),
        StableValue = AnalysisStatusFormat.Number(metric.StableValue),
        PValue = AnalysisStatusFormat.PValue(metric.PValue),
        Verdict = ToStatus(metric.Verdict),
        Reason = metric.Reason,
    };

    /// <summary>The domain verdict as the API's enum (same three values; the API type keeps its own for the schema).</summary>
    public static AnalysisVerdict ToStatus(Verdict verdict) => verdict switch
    {
        Verdict.Passed => AnalysisVerdict.Passed,
        Verdict.Failed => AnalysisVerdict.Failed,
        Verdict.Inconclusive => AnalysisVerdict.Inconclusive,
        _ => throw new ArgumentOutOfRangeException(nameof(verdict), verdict, "unknown verdict"),
    };
}
