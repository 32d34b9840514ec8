namespace GruOperator.Domain.Analysis;

/// <summary>What "healthy" means for a model: the <c>spec.slo</c> block of a GruModel.</summary>
/// <param name="LatencyP95">At most 5% of requests may be slower than this (the 95th percentile); null leaves latency unjudged.</param>
/// <param name="ErrorRate">Upper bound of the fraction of requests answered 5xx; null leaves it unjudged.</param>
/// <param name="InputSchemaErrorRate">Upper bound of the fraction rejected as invalid input; null leaves it unjudged.</param>
/// <param name="MinRequests">Fewer canary requests than this in a window: the run waits for data (Inconclusive, never Passed).</param>
public sealed record SloSpec(TimeSpan? LatencyP95, double? ErrorRate, double? InputSchemaErrorRate, int MinRequests);

/// <summary>What to do after <c>inconclusiveLimit</c> consecutive Inconclusive runs.</summary>
public enum InconclusiveAction
{
    /// <summary>Hold the canary where it is until a human resumes or aborts.</summary>
    Pause,

    /// <summary>Treat lasting doubt like failure and roll back.</summary>
    Rollback,
}

/// <summary>Inclusive bounds for a custom metric (<c>thresholdRange: {min, max}</c>); either side may be open.</summary>
public sealed record ThresholdRange(double? Min, double? Max)
{
    /// <summary>True when <paramref name="value"/> lies within the bounds (edges included).</summary>
    public bool Contains(double value) => (Min is not { } min || value >= min) && (Max is not { } max || value <= max);
}

/// <summary>An extra check beyond <c>slo:</c>: a PromQL query with template values and a threshold range.</summary>
public sealed record CustomMetricSpec(string Name, string Query, ThresholdRange ThresholdRange);

/// <summary>The <c>spec.rollout.canary.analysis</c> block of a GruModel.</summary>
/// <param name="Interval">Time between analysis runs.</param>
/// <param name="FailureLimit">Consecutive Failed runs that roll the canary back (at least 1).</param>
/// <param name="InconclusiveLimit">Consecutive Inconclusive runs that trigger <paramref name="OnInconclusive"/> (at least 1).</param>
/// <param name="OnInconclusive">Pause or roll back once the inconclusive limit is reached.</param>
/// <param name="CompareToStable">Also judge the canary against stable (rank test on latency bucket counts, Fisher exact test on error counts), not only against the absolute SLO.</param>
/// <param name="Metrics">Custom PromQL checks.</param>
public sealed record CanaryAnalysisSpec(
    TimeSpan Interval,
    int FailureLimit,
    int InconclusiveLimit,
    InconclusiveAction OnInconclusive,
    bool CompareToStable,
    IReadOnlyList<CustomMetricSpec> Metrics)
{
    /// <summary>The built-in output-divergence check on mirrored requests; null when the rollout has none.</summary>
    public DivergenceSpec? Divergence { get; init; }

    /// <summary>The defaults documented in docs/API.md.</summary>
    public static CanaryAnalysisSpec Default { get; } =
        new(TimeSpan.FromSeconds(30), FailureLimit: 2, InconclusiveLimit: 4, InconclusiveAction.Pause, CompareToStable: true, []);
}

/// <summary>How far a canary may drift above stable before the comparison calls it worse.</summary>
/// <param name="Relative">Allowed increase as a fraction of stable's value (0.2 = 20% worse is tolerated).</param>
/// <param name="Absolute">Allowed increase in the metric's own unit, so near-zero values do not turn noise into failure.</param>
public sealed record ComparisonTolerance(double Relative, double Absolute)
{
    /// <summary>The largest shift above <paramref name="stableValue"/> that still counts as "the same".</summary>
    public double AllowedShift(double stableValue) => Math.Max(Relative * Math.Abs(stableValue), Absolute);
}

/// <summary>
/// Operator-level statistics settings (not part of the GruModel API): how much evidence a Failed verdict needs and
/// how far a canary may drift above stable.
/// </summary>
/// <param name="SloAlpha">Significance needed to call a track above its SLO (one-sided exact binomial test on counts).</param>
/// <param name="ComparisonAlpha">
/// Significance needed to call the canary worse than stable. Stricter than <paramref name="SloAlpha"/>: every run
/// makes several comparisons, and a false "worse than stable" rolls back a good release.
/// </param>
/// <param name="Latency">
/// Tolerated increase of the median latency over stable's: relative, with a small absolute floor (1 ms: timing noise of a
/// new pod or a busy node; the old 2 ms hid a 9 ms model's 30% slowdown, whose median moves 1.5 ms). Never finer than
/// the histogram can resolve: the judge widens it to half the width of the bucket holding stable's median.
/// </param>
/// <param name="ErrorRate">Tolerated error-rate increase over stable (also used for input-schema errors).</param>
/// <param name="Tail">
/// Tolerated increase of the share of requests slower than the tail bound (the bucket bound at or just above both
/// tracks' pooled p95): the SLO is about the tail, so the comparison looks there too, not only at the median. Its
/// absolute part is a floor on how far the canary's p95 estimate must lie above stable's for the tail to count (2 ms).
/// </param>
public sealed record ComparisonPolicy(
    double SloAlpha, double ComparisonAlpha, ComparisonTolerance Latency, ComparisonTolerance ErrorRate, ComparisonTolerance Tail)
{
    /// <summary>
    /// SLO tests at 0.01, comparisons at 0.001, median latency +20% / 1 ms (never below half a bucket: ten buckets per decade
    /// resolve 12%), error rates +50% / 0.3 points, the share beyond the tail bound 1.6x stable's with the p95s 2 ms
    /// apart: a canary 30% slower than stable, or 30% slower at its p95 alone, fails; pods 3-7% apart and a cold pod of a
    /// sub-millisecond model do not (bench/results/analysis.md, CanaryAnalysisOnPrometheusTests).
    /// </summary>
    public static ComparisonPolicy Default { get; } = new(
        SloAlpha: 0.01, ComparisonAlpha: 0.001, new ComparisonTolerance(0.2, 0.001), new ComparisonTolerance(0.5, 0.003), new ComparisonTolerance(0.6, 0.002));

    /// <summary>The tolerance that applies to a built-in SLI.</summary>
    public ComparisonTolerance ToleranceFor(Sli sli) => sli == Sli.LatencyP95 ? Latency : ErrorRate;

    /// <summary>The policy for one of two looks in a run (Bonferroni): both alphas halved.</summary>
    public ComparisonPolicy Halved() => this with { SloAlpha = SloAlpha / 2, ComparisonAlpha = ComparisonAlpha / 2 };
}
