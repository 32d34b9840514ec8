namespace GruOperator.Domain.Analysis;

/// <summary>One check a run performs: what to measure and what bound applies.</summary>
/// <param name="Name">Metric name as shown in status.</param>
/// <param name="Source">Built-in SLI or custom query.</param>
/// <param name="Threshold">The absolute bound (for requestCount a minimum).</param>
/// <param name="CompareToStable">Whether the canary is also compared with stable.</param>
public sealed record PlannedMetric(string Name, MetricSource Source, ThresholdRange Threshold, bool CompareToStable);

/// <summary>Everything the providers returned for one run, keyed by metric name.</summary>
public sealed record AnalysisObservation(
    IReadOnlyDictionary<string, Measurement> Canary,
    IReadOnlyDictionary<string, Measurement> Stable)
{
    /// <summary>The rate SLIs over the run's longer window (its second look), when the rollout asked for one.</summary>
    public EvidenceObservation? Evidence { get; init; }
}

/// <summary>Rate SLIs of both tracks over a window longer than the run's own, ending with it.</summary>
public sealed record EvidenceObservation(
    AnalysisWindow Window,
    IReadOnlyDictionary<string, Measurement> Canary,
    IReadOnlyDictionary<string, Measurement> Stable);

/// <summary>
/// The canary judge: pure, deterministic, no I/O. Given the SLO, the analysis spec and what was measured over one
/// window, it gives every metric a verdict with a one-line reason and combines them: any Failed → Failed, else any
/// Inconclusive → Inconclusive, else Passed. Missing evidence (too few requests, no data, a failed query) is
/// Inconclusive — never Passed.
/// <para>
/// Every built-in SLI is a proportion of requests counted exactly: latency is "share of requests slower than the
/// SLO threshold ≤ 5%" (the threshold is a histogram bound, so no interpolation), errors are "share answered 5xx ≤
/// errorRate". Each is held to its SLO by an exact binomial test and compared with stable over the same window
/// (latency by a rank test on bucket counts with a median tolerance no finer than a bucket, rates by a Fisher exact
/// test). A breach that stable shares, with the canary not significantly worse, is a shared incident: Inconclusive.
/// </para>
/// </summary>
public static class CanaryJudge
{
    /// <summary>The share of requests a p95 bound lets be slower than it.</summary>
    public const double LatencyExcessShare = 0.05;

    /// <summary>How a shared incident's reason starts.</summary>
    private const string SharedIncidentReason = "shared incident, not the canary's fault";

    /// <summary>A reading above its SLO with p below this many times the SLO alpha is doubtful (Inconclusive), above it noise.</summary>
    private const double DoubtFactor = 10;

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
        var canaryCount = observation.Canary.GetValueOrDefault(MetricNames.RequestCount) ?? Measurement.Failed("not measured");
        var context = new SloContext(
            Requests(observation.Canary, slo.MinRequests), Requests(observation.Stable, slo.MinRequests), slo.MinRequests, policy);
        foreach (var planned in plan)
        {
            var canary = observation.Canary.GetValueOrDefault(planned.Name) ?? Measurement.Failed("not measured");
            var stable = observation.Stable.GetValueOrDefault(planned.Name);
            var result = planned.Source switch
            {
                BuiltInSli { Sli: Sli.RequestCount } => JudgeRequestCount(planned, canary, stable, slo.MinRequests),
                BuiltInSli { Sli: var sli } => JudgeTwice(planned, sli, canary, stable, context, observation.Evidence),
                _ => JudgeCustom(planned, canary, stable),
            };
            results.Add(result);
        }

        var warnings = observation.Canary.Values.Concat(observation.Stable.Values)
            .SelectMany(m => m.Warnings).Distinct(StringComparer.Ordinal).ToArray();
        var (verdict, reason) = Combine(results);

        // Too little canary traffic is not evidence against the canary: the rollout keeps the window open and waits.
        var waiting = verdict == Verdict.Inconclusive && canaryCount.Error is null && context.CanaryRequests is null;
        return new AnalysisRun(time, verdict, waiting ? $"Waiting for data: {Reason(results[0])}" : reason, results, warnings)
        {
            WaitingForData = waiting,
            SharedIncident = verdict == Verdict.Inconclusive && results.Any(r => r.Reason.StartsWith(SharedIncidentReason, StringComparison.Ordinal)),
        };

        static string Reason(MetricResult result) => $"{result.Name}: {result.Reason}";
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

    /// <summary>
    /// A rate SLI with a longer window as well (no failure counted yet in the step): errors are sparse, so a breach that
    /// began late in the previous, passed window may show in neither window alone but does in the two together (the
    /// breach's requests are not diluted by the step's older, healthy traffic). Two looks per run, each at half the alphas
    /// (Bonferroni), so a run still fails a healthy canary at most alpha of the time; a failure or a shared incident in
    /// the run's own window is decided there.
    /// </summary>
    private static MetricResult JudgeTwice(
        PlannedMetric planned, Sli sli, Measurement canary, Measurement? stable, SloContext context, EvidenceObservation? evidence)
    {
        if (evidence?.Canary.GetValueOrDefault(planned.Name) is not { } longerCanary || context.CanaryRequests is null)
        {
            return JudgeSlo(planned, sli, canary, stable, context);
        }

        var halved = context with { Policy = context.Policy.Halved() };
        var own = JudgeSlo(planned, sli, canary, stable, halved);
        if (own.Verdict == Verdict.Failed || own.Reason.StartsWith(SharedIncidentReason, StringComparison.Ordinal))
        {
            return own;
        }

        var longerStable = evidence.Stable.GetValueOrDefault(planned.Name);
        var longerContext = halved with
        {
            CanaryRequests = Enough(longerCanary, context.MinRequests),
            StableRequests = longerStable is null ? null : Enough(longerStable, context.MinRequests),
        };
        var longer = JudgeSlo(planned, sli, longerCanary, longerStable, longerContext);
        return longer.Verdict == Verdict.Failed
            ? longer with
            {
                Reason = $"over the last two windows ({Show(evidence.Window.Length.TotalSeconds)} s, no failure counted yet): {longer.Reason}; this run's own window: {own.Reason}",
            }
            : own;

        static long? Enough(Measurement m, int min) => m is { Error: null, Events.Requests: var n } && n >= min ? n : null;
    }

    private static MetricResult JudgeSlo(PlannedMetric planned, Sli sli, Measurement canary, Measurement? stable, SloContext context)
    {
        if (canary.Error is { } error)
        {
            return Result(planned, Verdict.Inconclusive, canary, stable, null, $"canary query failed: {error}");
        }

        if (context.CanaryRequests is null)
        {
            return Result(planned, Verdict.Inconclusive, canary, stable, null, "not judged: the canary served too few requests");
        }

        var bound = planned.Threshold.Max!.Value;
        if (ExcessOf(sli, canary, bound) is not { } excess)
        {
            return Result(planned, Verdict.Inconclusive, canary, stable, null,
                sli == Sli.LatencyP95 ? "no latency histogram for the canary in the window" : "no data for the canary (no request or event counts)");
        }

        var policy = context.Policy;
        var sloP = ProportionTests.BinomialUpperTail(excess.Requests, excess.AtLeast, excess.AllowedShare);
        var breached = sloP < policy.SloAlpha;

        // Stable over the same window: needed for the comparison and to recognise a shared incident.
        var stableExcess = stable is { Error: null } && ExcessOf(sli, stable, bound) is { Requests: var m } s && m >= context.MinRequests ? s : null;
        // The comparison runs whenever stable has the traffic, even with compareToStable false: recognising a shared
        // incident needs it (a breach both tracks share is not the canary's fault). compareToStable decides only whether
        // "worse than stable" fails a canary that is within its SLO.
        var compared = stableExcess is null ? null
            : sli == Sli.LatencyP95
                ? CompareLatency(canary.Histogram!, stable!.Histogram!, policy)
                : CompareRate(excess, stableExcess, policy.ToleranceFor(sli), policy);
        var notCompared = planned.CompareToStable && (stable is null || stable.Error is not null)
            ? $"stable query failed: {stable?.Error ?? "not measured"}"
            : null; // an idle stable (e.g. the canary at 100%) leaves the absolute SLO alone to decide, and says so below

        var sloText = $"{excess.Describe()} (SLO allows {Percent(excess.AllowedShare)}, p={ShowP(sloP)})";
        if (breached)
        {
            var stableP = stableExcess is null ? 1 : ProportionTests.BinomialUpperTail(stableExcess.Requests, stableExcess.AtLeast, stableExcess.AllowedShare);
            if (compared is { Worse: false } && stableP < policy.SloAlpha)
            {
                return Result(planned, Verdict.Inconclusive, canary, stable, sloP,
                    $"{SharedIncidentReason}: {sloText}, but stable breaches the same SLO in this window ({stableExcess!.Describe()}, p={ShowP(stableP)}) and the canary is not significantly worse ({compared.Text})");
            }

            return Result(planned, Verdict.Failed, canary, stable, sloP,
                compared is { Worse: true } ? $"above the SLO: {sloText}; worse than stable: {compared.Text}" : $"above the SLO: {sloText}");
        }

        if (compared is { Worse: true } && planned.CompareToStable)
        {
            return Result(planned, Verdict.Failed, canary, stable, compared.PValue, $"worse than stable ({compared.Text}), although within the SLO ({excess.Describe()})");
        }

        // Above the bound but not significantly: doubt only when the evidence leans that way (p < 10·alpha), so a couple of
        // errors in a small window are noise, not a reason to hold the canary.
        if (excess.AtMost > excess.AllowedShare * excess.Requests && (excess.AtLeast != excess.AtMost || sloP < DoubtFactor * policy.SloAlpha))
        {
            var why = excess.AtLeast == excess.AtMost
                ? "above the SLO but not significantly; needs more traffic"
                : $"the SLO threshold {Show(bound)} s is not a bucket bound of the canary's histogram (run GruServer with --latency-slo-boundaries), so the count is only known to lie between {excess.AtLeast} and {excess.AtMost}";
            return Result(planned, Verdict.Inconclusive, canary, stable, sloP, $"{sloText}: {why}");
        }

        if (notCompared is not null)
        {
            return Result(planned, Verdict.Inconclusive, canary, stable, sloP, $"within the SLO ({sloText}) but not compared: {notCompared}");
        }

        var comparedText = !planned.CompareToStable ? "not compared with stable"
            : compared is not null ? $"not worse than stable ({compared.Text})"
            : "stable served fewer than minRequests, so judged on the SLO alone";
        return Result(planned, Verdict.Passed, canary, stable, planned.CompareToStable ? compared?.PValue ?? sloP : sloP, $"within the SLO: {sloText}; {comparedText}");
    }

    /// <summary>Requests beyond the bound (slower than the threshold, or answered with the error) out of all requests.</summary>
    private static Excess? ExcessOf(Sli sli, Measurement measurement, double bound) => sli switch
    {
        Sli.LatencyP95 when measurement.Histogram is { Total: > 0 } h =>
            h.SlowerThan(bound) is var (min, max) ? new Excess(min, max, h.Total, LatencyExcessShare, $"slower than {Show(bound)} s") : null,
        Sli.ErrorRate or Sli.InputSchemaErrorRate when measurement.Events is { Requests: > 0 } e =>
            new Excess(e.Events, e.Events, e.Requests, bound, sli == Sli.ErrorRate ? "answered 5xx" : "rejected as invalid input"),
        _ => null,
    };

    /// <summary>
    /// Rank test on the bucket counts of both tracks (every request a sample, one bucket a tie), and the shift of the
    /// median: worse needs both significance and a shift beyond the tolerance, which is never finer than half the
    /// bucket holding stable's median (within a bucket the histogram cannot tell requests apart).
    /// </summary>
    private static Comparison CompareLatency(LatencyHistogram canary, LatencyHistogram stable, ComparisonPolicy policy)
    {
        var bounds = canary.CommonBounds(stable);
        var c = canary.At(bounds);
        var s = stable.At(bounds);
        var test = MannWhitneyU.GreaterThanOrdinal(c.BucketCounts(), s.BucketCounts());
        var canaryMedian = c.Quantile(0.5)!.Value;
        var stableMedian = s.Quantile(0.5)!.Value;
        var shift = canaryMedian - stableMedian;
        var resolution = stableMedian * (Math.Sqrt(s.BucketRatioAt(0.5)) - 1);
        var allowed = Math.Max(policy.Latency.AllowedShift(stableMedian), resolution);
        var worse = test.PValue < policy.ComparisonAlpha && shift > allowed;
        return new Comparison(worse, test.PValue,
            $"median {Show(canaryMedian)} s vs stable {Show(stableMedian)} s, shift {Show(shift)} s, tolerance {Show(allowed)} s, rank test p={ShowP(test.PValue)}");
    }

    private static Comparison CompareRate(Excess canary, Excess stable, ComparisonTolerance tolerance, ComparisonPolicy policy)
    {
        var p = ProportionTests.FisherGreater(canary.AtLeast, canary.Requests, stable.AtLeast, stable.Requests);
        double canaryRate = (double)canary.AtLeast / canary.Requests, stableRate = (double)stable.AtLeast / stable.Requests;
        var shift = canaryRate - stableRate;
        var allowed = tolerance.AllowedShift(stableRate);
        var worse = p < policy.ComparisonAlpha && shift > allowed;
        return new Comparison(worse, p,
            $"{Show(canaryRate)} vs stable {Show(stableRate)} ({stable.AtLeast} of {stable.Requests}), shift {Show(shift)}, tolerance {Show(allowed)}, Fisher p={ShowP(p)}");
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

    private static string Percent(double share) => Show(share * 100) + "%";

    /// <summary>What judging an SLI needs beyond its own measurement: request counts (null when too few) and the policy.</summary>
    private sealed record SloContext(long? CanaryRequests, long? StableRequests, int MinRequests, ComparisonPolicy Policy);

    /// <summary>
    /// Requests beyond an SLO bound: exactly <see cref="AtLeast"/> when <see cref="AtMost"/> is the same (the bound
    /// is a histogram bucket bound or the SLI counts events), else somewhere between.
    /// </summary>
    private sealed record Excess(long AtLeast, long AtMost, long Requests, double AllowedShare, string What)
    {
        public string Describe() => AtLeast == AtMost
            ? $"{AtLeast} of {Requests} requests {What} ({Percent((double)AtLeast / Requests)})"
            : $"{AtLeast}-{AtMost} of {Requests} requests {What}";
    }

    /// <summary>The canary against stable: whether clearly worse, the test's p-value and one line of numbers.</summary>
    private sealed record Comparison(bool Worse, double PValue, string Text);
}
