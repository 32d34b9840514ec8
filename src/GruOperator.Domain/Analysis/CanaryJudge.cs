namespace GruOperator.Domain.Analysis;

/// <summary>One check a run performs: what to measure and what bound applies.</summary>
/// <param name="Name">Metric name as shown in status.</param>
/// <param name="Source">Built-in SLI or custom query.</param>
/// <param name="Threshold">The absolute bound (for requestCount a minimum).</param>
/// <param name="CompareToStable">Whether the rank test against stable applies (needs per-step series).</param>
public sealed record PlannedMetric(string Name, MetricSource Source, ThresholdRange Threshold, bool CompareToStable);

/// <summary>Everything the providers returned for one run, keyed by metric name.</summary>
public sealed record AnalysisObservation(
    IReadOnlyDictionary<string, Measurement> Canary,
    IReadOnlyDictionary<string, Measurement> Stable);

/// <summary>
/// The canary judge: pure, deterministic, no I/O. Given the SLO, the analysis spec and what was measured,
/// it gives every metric a verdict with a one-line reason and combines them: any Failed → Failed, else any
/// Inconclusive → Inconclusive, else Passed. Missing evidence (too few requests or samples, no data,
/// a failed query) is Inconclusive — never Passed.
/// </summary>
public static class CanaryJudge
{
    /// <summary>The checks a run makes: request count, each SLI the SLO bounds, then custom metrics.</summary>
    public static IReadOnlyList<PlannedMetric> Plan(SloSpec slo, CanaryAnalysisSpec spec)
    {
        var plan = new List<PlannedMetric>
        {
            new(MetricNames.RequestCount, new BuiltInSli(Sli.RequestCount), new ThresholdRange(slo.MinRequests, null), false),
        };
        AddSlo(plan, Sli.LatencyP95, slo.LatencyP95?.TotalSeconds, spec.CompareToStable);
        AddSlo(plan, Sli.ErrorRate, slo.ErrorRate, spec.CompareToStable);
        AddSlo(plan, Sli.InputSchemaErrorRate, slo.InputSchemaErrorRate, spec.CompareToStable);
        plan.AddRange(spec.Metrics.Select(m => new PlannedMetric(m.Name, new CustomQuery(m.Query), m.ThresholdRange, false)));
        return plan;
    }

    /// <summary>Judges one run.</summary>
    public static AnalysisRun Judge(
        SloSpec slo, CanaryAnalysisSpec spec, ComparisonPolicy policy, DateTimeOffset time, AnalysisObservation observation)
    {
        var plan = Plan(slo, spec);
        var results = new List<MetricResult>(plan.Count);
        var enoughTraffic = false;
        foreach (var planned in plan)
        {
            var canary = observation.Canary.GetValueOrDefault(planned.Name) ?? Measurement.Failed("not measured");
            var stable = observation.Stable.GetValueOrDefault(planned.Name);
            var result = planned.Source switch
            {
                BuiltInSli { Sli: Sli.RequestCount } => JudgeRequestCount(planned, canary, stable, slo.MinRequests),
                BuiltInSli { Sli: var sli } => JudgeSlo(planned, sli, canary, stable, policy, enoughTraffic),
                _ => JudgeCustom(planned, canary, stable),
            };
            if (planned.Name == MetricNames.RequestCount)
            {
                enoughTraffic = result.Verdict == Verdict.Passed;
            }

            results.Add(result);
        }

        var warnings = observation.Canary.Values.Concat(observation.Stable.Values)
            .SelectMany(m => m.Warnings).Distinct(StringComparer.Ordinal).ToArray();
        var (verdict, reason) = Combine(results);
        return new AnalysisRun(time, verdict, reason, results, warnings);
    }

    private static void AddSlo(List<PlannedMetric> plan, Sli sli, double? max, bool compare)
    {
        if (max is { } bound)
        {
            plan.Add(new PlannedMetric(MetricNames.Of(sli), new BuiltInSli(sli), new ThresholdRange(null, bound), compare));
        }
    }

    private static MetricResult JudgeRequestCount(PlannedMetric planned, Measurement canary, Measurement? stable, int minRequests)
    {
        var (verdict, reason) = canary switch
        {
            { Error: { } error } => (Verdict.Inconclusive, $"canary query failed: {error}"),
            { Value: null } => (Verdict.Inconclusive, "no requests recorded for the canary in the window"),
            { Value: { } v } when v < minRequests =>
                (Verdict.Inconclusive, $"{Show(v)} requests in the window, fewer than minRequests {minRequests}"),
            { Value: { } v } => (Verdict.Passed, $"{Show(v)} requests, at least minRequests {minRequests}"),
        };
        return Result(planned, verdict, canary, stable, null, reason);
    }

    private static MetricResult JudgeSlo(
        PlannedMetric planned, Sli sli, Measurement canary, Measurement? stable, ComparisonPolicy policy, bool enoughTraffic)
    {
        var max = planned.Threshold.Max!.Value;
        if (canary.Error is { } error)
        {
            return Result(planned, Verdict.Inconclusive, canary, stable, null, $"canary query failed: {error}");
        }

        if (!enoughTraffic)
        {
            return Result(planned, Verdict.Inconclusive, canary, stable, null, "not judged: the canary served too few requests");
        }

        if (canary.Value is not { } value)
        {
            return Result(planned, Verdict.Inconclusive, canary, stable, null, "no data for the canary (empty result, NaN or Inf)");
        }

        if (value > max)
        {
            return Result(planned, Verdict.Failed, canary, stable, null, $"{Show(value)} is above the SLO {Show(max)}");
        }

        if (!planned.CompareToStable)
        {
            return Result(planned, Verdict.Passed, canary, stable, null, $"{Show(value)} is within the SLO {Show(max)}");
        }

        if (stable is null || stable.Error is not null)
        {
            return Result(planned, Verdict.Inconclusive, canary, stable, null,
                $"within the SLO but not compared: stable query failed: {stable?.Error ?? "not measured"}");
        }

        if (canary.Series.Count < policy.MinSamples || stable.Series.Count < policy.MinSamples)
        {
            return Result(planned, Verdict.Inconclusive, canary, stable, null,
                $"within the SLO but too few samples to compare with stable (canary {canary.Series.Count}, stable {stable.Series.Count}, need {policy.MinSamples})");
        }

        var test = MannWhitneyU.GreaterThan(canary.Series, stable.Series);
        var allowed = policy.ToleranceFor(sli).AllowedShift(test.StableMedian);
        if (test.PValue < policy.Alpha && test.Shift > allowed)
        {
            return Result(planned, Verdict.Failed, canary, stable, test.PValue,
                $"worse than stable by {Show(test.Shift)} (tolerance {Show(allowed)}, p={test.PValue:0.####}) although within the SLO {Show(max)}");
        }

        return Result(planned, Verdict.Passed, canary, stable, test.PValue,
            $"{Show(value)} is within the SLO {Show(max)} and not worse than stable (shift {Show(test.Shift)}, p={test.PValue:0.####})");
    }

    private static MetricResult JudgeCustom(PlannedMetric planned, Measurement canary, Measurement? stable)
    {
        var range = AnalysisStatusFormat.Threshold(planned.Threshold);
        var (verdict, reason) = canary switch
        {
            { Error: { } error } => (Verdict.Inconclusive, $"canary query failed: {error}"),
            { Value: null } => (Verdict.Inconclusive, "no data for the canary (empty result, NaN or Inf)"),
            { Value: { } v } when !planned.Threshold.Contains(v) => (Verdict.Failed, $"{Show(v)} is outside {range}"),
            { Value: { } v } => (Verdict.Passed, $"{Show(v)} is within {range}"),
        };
        return Result(planned, verdict, canary, stable, null, reason);
    }

    private static MetricResult Result(
        PlannedMetric planned, Verdict verdict, Measurement canary, Measurement? stable, double? pValue, string reason) =>
        new(planned.Name, verdict, canary.Value, planned.Threshold, stable?.Value, pValue, reason);

    private static (Verdict Verdict, string Reason) Combine(IReadOnlyList<MetricResult> results)
    {
        foreach (var verdict in (ReadOnlySpan<Verdict>)[Verdict.Failed, Verdict.Inconclusive])
        {
            var matching = results.Where(r => r.Verdict == verdict).ToArray();
            if (matching.Length > 0)
            {
                var names = string.Join(", ", matching.Select(r => r.Name));
                return (verdict, $"{verdict}: {names} ({matching[0].Name}: {matching[0].Reason})");
            }
        }

        return (Verdict.Passed, $"Passed: all {results.Count} checks passed");
    }

    private static string Show(double value) => AnalysisStatusFormat.Number(value)!;
}
