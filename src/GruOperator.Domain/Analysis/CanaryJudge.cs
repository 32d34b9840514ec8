namespace GruOperator.Domain.Analysis;

/// <summary>One check a run performs: what to measure and what bound applies.</summary>
/// <param name="Name">Metric name as shown in status.</param>
/// <param name="Source">Built-in SLI or custom query.</param>
/// <param name="Threshold">The absolute bound (for requestCount a minimum).</param>
/// <param name="CompareToStable">Whether the canary is also compared with stable.</param>
public sealed record PlannedMetric(string Name, MetricSource Source, ThresholdRange Threshold, bool CompareToStable)
{
    /// <summary>Per-step series are needed only for the latency rank test; rates are compared as counts over the window.</summary>
    public bool NeedsSeries => CompareToStable && Source is BuiltInSli { Sli: Sli.LatencyP95 };
}

/// <summary>Everything the providers returned for one run, keyed by metric name.</summary>
public sealed record AnalysisObservation(
    IReadOnlyDictionary<string, Measurement> Canary,
    IReadOnlyDictionary<string, Measurement> Stable);

/// <summary>
/// The canary judge: pure, deterministic, no I/O. Given the SLO, the analysis spec and what was measured,
/// it gives every metric a verdict with a one-line reason and combines them: any Failed → Failed, else any
/// Inconclusive → Inconclusive, else Passed. Missing evidence (too few requests or samples, no data,
/// a failed query) is Inconclusive — never Passed. Latency is held to its SLO directly and compared with stable by
/// a rank test on per-step series; rates are counts, held to the SLO by a binomial test and compared with stable by
/// a Fisher exact test (<see cref="ProportionTests"/>), each with an effect-size tolerance (<see cref="ComparisonPolicy"/>).
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
        var context = new SloContext(
            Requests(observation.Canary, slo.MinRequests), Requests(observation.Stable, slo.MinRequests), policy);
        foreach (var planned in plan)
        {
            var canary = observation.Canary.GetValueOrDefault(planned.Name) ?? Measurement.Failed("not measured");
            var stable = observation.Stable.GetValueOrDefault(planned.Name);
            var result = planned.Source switch
            {
                BuiltInSli { Sli: Sli.RequestCount } => JudgeRequestCount(planned, canary, stable, slo.MinRequests),
                BuiltInSli { Sli: var sli } => JudgeSlo(planned, sli, canary, stable, context),
                _ => JudgeCustom(planned, canary, stable),
            };
            results.Add(result);
        }

        var warnings = observation.Canary.Values.Concat(observation.Stable.Values)
            .SelectMany(m => m.Warnings).Distinct(StringComparer.Ordinal).ToArray();
        var (verdict, reason) = Combine(results);
        return new AnalysisRun(time, verdict, reason, results, warnings);
    }

    /// <summary>The request count of a track when it reached minRequests, else null.</summary>
    private static long? Requests(IReadOnlyDictionary<string, Measurement> track, int minRequests) =>
        track.GetValueOrDefault(MetricNames.RequestCount) is { Error: null, Value: { } v } && v >= minRequests ? (long)Math.Round(v) : null;

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
        PlannedMetric planned, Sli sli, Measurement canary, Measurement? stable, SloContext context)
    {
        var max = planned.Threshold.Max!.Value;
        if (canary.Error is { } error)
        {
            return Result(planned, Verdict.Inconclusive, canary, stable, null, $"canary query failed: {error}");
        }

        if (context.CanaryRequests is not { } requests)
        {
            return Result(planned, Verdict.Inconclusive, canary, stable, null, "not judged: the canary served too few requests");
        }

        if (canary.Value is not { } value)
        {
            return Result(planned, Verdict.Inconclusive, canary, stable, null, "no data for the canary (empty result, NaN or Inf)");
        }

        MetricResult? doubt = null;
        if (value > max)
        {
            if (sli == Sli.LatencyP95)
            {
                return Result(planned, Verdict.Failed, canary, stable, null, $"{Show(value)} is above the SLO {Show(max)}");
            }

            // A rate is a count: two errors in 186 requests are 1.08%, yet say little against a 1% SLO.
            var events = (long)Math.Round(value * requests);
            var p = ProportionTests.BinomialUpperTail(requests, events, max);
            if (p < context.Policy.SloAlpha)
            {
                return Result(planned, Verdict.Failed, canary, stable, p,
                    $"{Show(value)} is above the SLO {Show(max)} ({events} of {requests} requests, p={ShowP(p)})");
            }

            doubt = Result(planned, Verdict.Inconclusive, canary, stable, p,
                $"{Show(value)} is above the SLO {Show(max)} but not significantly with {events} of {requests} requests (p={ShowP(p)}); needs more traffic");
        }

        if (!planned.CompareToStable)
        {
            return doubt ?? Result(planned, Verdict.Passed, canary, stable, null, $"{Show(value)} is within the SLO {Show(max)}");
        }

        if (stable is null || stable.Error is not null)
        {
            return doubt ?? Result(planned, Verdict.Inconclusive, canary, stable, null,
                $"within the SLO but not compared: stable query failed: {stable?.Error ?? "not measured"}");
        }

        var compared = sli == Sli.LatencyP95
            ? CompareLatency(planned, canary, stable, value, max, context.Policy)
            : CompareRate(planned, sli, canary, stable, value, max, context);

        // Clearly worse than stable settles a doubtful SLO reading; anything else leaves the doubt standing.
        return compared.Verdict == Verdict.Failed ? compared : doubt ?? compared;
    }

    private static MetricResult CompareLatency(
        PlannedMetric planned, Measurement canary, Measurement stable, double value, double max, ComparisonPolicy policy)
    {
        if (canary.Series.Count < policy.MinSamples || stable.Series.Count < policy.MinSamples)
        {
            return Result(planned, Verdict.Inconclusive, canary, stable, null,
                $"within the SLO but too few samples to compare with stable (canary {canary.Series.Count}, stable {stable.Series.Count}, need {policy.MinSamples})");
        }

        var test = MannWhitneyU.GreaterThan(canary.Series, stable.Series);
        var allowed = policy.Latency.AllowedShift(test.StableMedian);
        if (test.PValue < policy.ComparisonAlpha && test.Shift > allowed)
        {
            return Result(planned, Verdict.Failed, canary, stable, test.PValue,
                $"worse than stable by {Show(test.Shift)} (tolerance {Show(allowed)}, p={ShowP(test.PValue)}) although within the SLO {Show(max)}");
        }

        return Result(planned, Verdict.Passed, canary, stable, test.PValue,
            $"{Show(value)} is within the SLO {Show(max)} and not worse than stable (shift {Show(test.Shift)}, p={ShowP(test.PValue)})");
    }

    private static MetricResult CompareRate(
        PlannedMetric planned, Sli sli, Measurement canary, Measurement stable, double value, double max, SloContext context)
    {
        if (stable.Value is not { } stableValue || context.StableRequests is not { } stableRequests)
        {
            return Result(planned, Verdict.Inconclusive, canary, stable, null,
                "within the SLO but not compared: stable has no data or served too few requests");
        }

        var canaryRequests = context.CanaryRequests!.Value;
        var p = ProportionTests.FisherGreater(
            (long)Math.Round(value * canaryRequests), canaryRequests, (long)Math.Round(stableValue * stableRequests), stableRequests);
        var shift = value - stableValue;
        var allowed = context.Policy.ToleranceFor(sli).AllowedShift(stableValue);
        if (p < context.Policy.ComparisonAlpha && shift > allowed)
        {
            return Result(planned, Verdict.Failed, canary, stable, p,
                value <= max
                    ? $"worse than stable by {Show(shift)} (tolerance {Show(allowed)}, p={ShowP(p)}) although within the SLO {Show(max)}"
                    : $"worse than stable by {Show(shift)} (tolerance {Show(allowed)}, p={ShowP(p)}) and above the SLO {Show(max)}");
        }

        return Result(planned, Verdict.Passed, canary, stable, p,
            $"{Show(value)} is within the SLO {Show(max)} and not worse than stable (shift {Show(shift)}, p={ShowP(p)})");
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

    private static string ShowP(double p) => AnalysisStatusFormat.PValue(p)!;

    /// <summary>What judging an SLI needs beyond its own measurement: request counts (null when too few) and the policy.</summary>
    private sealed record SloContext(long? CanaryRequests, long? StableRequests, ComparisonPolicy Policy);
}
