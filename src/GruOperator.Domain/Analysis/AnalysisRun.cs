namespace GruOperator.Domain.Analysis;

/// <summary>The outcome of one metric or one whole analysis run.</summary>
public enum Verdict
{
    /// <summary>Measured, and within every bound.</summary>
    Passed,

    /// <summary>Measured, and outside a bound or clearly worse than stable.</summary>
    Failed,

    /// <summary>Not enough evidence either way: too few requests or samples, no data, or the backend unreachable.</summary>
    Inconclusive,
}

/// <summary>
/// One metric's judgement; maps onto <c>status.canary.analysis.lastRun.metrics[]</c>
/// (<see cref="AnalysisStatusFormat"/> renders the numbers).
/// </summary>
/// <param name="Name">Metric name (a built-in SLI name or the custom metric's name).</param>
/// <param name="Verdict">This metric's verdict.</param>
/// <param name="Value">The canary's value over the window; null when there was no data.</param>
/// <param name="Threshold">The bound it was held to; null when none applies.</param>
/// <param name="StableValue">Stable's value over the same window, for comparison; null when unknown.</param>
/// <param name="PValue">The p-value of the test that decided, when one ran: rank test or Fisher exact test against stable, binomial test against the SLO.</param>
/// <param name="Reason">One line that explains the verdict to a human reading <c>kubectl get -o yaml</c>.</param>
public sealed record MetricResult(
    string Name,
    Verdict Verdict,
    double? Value,
    ThresholdRange? Threshold,
    double? StableValue,
    double? PValue,
    string Reason);

/// <summary>One analysis run; maps onto <c>status.canary.analysis.lastRun</c>.</summary>
/// <param name="Time">End of the analysed window.</param>
/// <param name="Verdict">Failed if any metric failed, else Inconclusive if any was, else Passed.</param>
/// <param name="Reason">One line naming the metrics behind the verdict.</param>
/// <param name="Metrics">Per-metric results, built-in SLIs first.</param>
/// <param name="Warnings">Warnings the metric backend attached to its answers, kept for the operator's log.</param>
public sealed record AnalysisRun(
    DateTimeOffset Time,
    Verdict Verdict,
    string Reason,
    IReadOnlyList<MetricResult> Metrics,
    IReadOnlyList<string> Warnings)
{
    /// <summary>
    /// The canary served fewer than <c>minRequests</c> in the window (and Prometheus answered): the verdict is
    /// Inconclusive, but the rollout does not count it; it keeps the window open until the traffic is there.
    /// </summary>
    public bool WaitingForData { get; init; }

    /// <summary>Stable breached the same SLO in the same window and the canary was not significantly worse: not the canary's fault.</summary>
    public bool SharedIncident { get; init; }
}
