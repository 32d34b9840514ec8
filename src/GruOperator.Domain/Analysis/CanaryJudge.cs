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

    /// <summary>The built-in SLIs over the step so far (the run's step look), when the rollout asked for one.</summary>
    public EvidenceObservation? Step { get; init; }

    /// <summary>
    /// Whether stable is meant to serve in the window (false when the canary takes all traffic): then a stable query that
    /// matches no series is a mistake to report, not an idle stable.
    /// </summary>
    public bool StableServes { get; init; } = true;
}

/// <summary>Built-in SLIs of both tracks over a window longer than the run's own, ending with it (the previous window and its own, or the step so far).</summary>
public sealed record EvidenceObservation(
    AnalysisWindow Window,
    IReadOnlyDictionary<string, Measurement> Canary,
    IReadOnlyDictionary<string, Measurement> Stable)
{
    /// <summary>The step look of a run that may let the step pass: all the step's requests are also tested once, exactly.</summary>
    public bool ClosesStep { get; init; }
}

/// <summary>
/// The canary judge: pure, deterministic, no I/O. Given the SLO, the analysis spec and what was measured over one
/// window, it gives every metric a verdict with a one-line reason and combines them: any Failed → Failed, else any
/// Inconclusive → Inconclusive, else Passed. Missing evidence (too few requests, no data, a failed query) is
/// Inconclusive — never Passed.
/// <para>
/// Every built-in SLI is a proportion of requests counted exactly: latency is "share of requests slower than the
/// SLO threshold ≤ 5%" (the threshold is a histogram bound, so no interpolation), errors are "share answered 5xx ≤
/// errorRate". Each is held to its SLO by an exact binomial test and compared with stable over the same window
/// (latency by a rank test on bucket counts with a relative median tolerance no finer than a bucket, and by the share
/// beyond the pooled p95 bound, so a heavier tail counts; rates by a Fisher exact test). A breach that stable shares,
/// with the canary not significantly worse, is a shared incident: Inconclusive. A stable query that matches no series
/// while stable serves is Inconclusive naming the query; an idle stable (the canary at 100%) is judged on the SLO alone.
/// </para>
/// <para>
/// Beside its own window a run looks at the step so far (<see cref="SequentialTests"/>: anytime-valid, so the look can be
/// repeated at every run), and a run that may let the step pass tests all the step's requests once more, exactly. These
/// looks only add failures: weak regressions that alternate between passing and failing windows accumulate evidence.
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
        if (spec.Divergence is { } divergence)
        {
            // Its threshold in status is the share that must stay within tolerance (none when only reported).
            plan.Add(new PlannedMetric(DivergenceJudge.MetricName, new BuiltInDivergence(),
                divergence.Judged ? new ThresholdRange(divergence.MaxAbs is null && divergence.MaxRel is null ? divergence.MinArgMaxAgreement : divergence.Within, null) : new ThresholdRange(null, null), false));
        }

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
            Requests(observation.Canary, slo.MinRequests), Requests(observation.Stable, slo.MinRequests), slo.MinRequests, policy, observation.StableServes);
        foreach (var planned in plan)
        {
            var canary = observation.Canary.GetValueOrDefault(planned.Name) ?? Measurement.Failed("not measured");
            var stable = observation.Stable.GetValueOrDefault(planned.Name);
            var result = planned.Source switch
            {
                BuiltInSli { Sli: Sli.RequestCount } => JudgeRequestCount(planned, canary, stable, slo.MinRequests),
                BuiltInSli { Sli: var sli } => JudgeWithStep(planned, sli, canary, stable, context, observation.Evidence, observation.Step),
                BuiltInDivergence => JudgeDivergence(planned, spec.Divergence!, canary, slo.MinRequests),
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

    /// <summary>
    /// A built-in SLI judged twice: over the run's own window (fixed-sample tests; these are the independent failures
    /// <c>failureLimit</c> counts) and, when the rollout asked for it, over the whole step so far with anytime-valid tests
    /// (<see cref="SequentialTests"/>). A weak regression (1.5% errors against a 1% SLO) or a tail that is worse on a few
    /// requests per window alternates between passing and failing windows, but its evidence grows with the step's traffic;
    /// the step look can be repeated at every run without raising its false-alarm rate above alpha for the whole step.
    /// The step look only adds failures: a failure or a shared incident in the run's own window is decided there, and a
    /// breach that stable shares over the step is left to the windows.
    /// </summary>
    private static MetricResult JudgeWithStep(
        PlannedMetric planned, Sli sli, Measurement canary, Measurement? stable, SloContext context, EvidenceObservation? evidence, EvidenceObservation? step)
    {
        var own = JudgeTwice(planned, sli, canary, stable, context, evidence);
        if (own.Verdict == Verdict.Failed || own.Reason.StartsWith(SharedIncidentReason, StringComparison.Ordinal)
            || context.CanaryRequests is null || step?.Canary.GetValueOrDefault(planned.Name) is not { Error: null } stepCanary)
        {
            return own;
        }

        var found = StepEvidence(planned, sli, stepCanary, step.Stable.GetValueOrDefault(planned.Name), context, step.ClosesStep);
        return found is { } failed
            ? own with
            {
                Verdict = Verdict.Failed,
                PValue = failed.PValue,
                Reason = $"over the step so far ({Show(step.Window.Length.TotalSeconds)} s): {failed.Text}; this run's own window: {own.Reason}",
            }
            : own;
    }

    /// <summary>
    /// The step's accumulated evidence against the canary, or null when there is none strong enough: above the SLO
    /// (anytime-valid binomial mixture) unless stable breaches it over the step too, or worse than stable (anytime-valid
    /// test of how the events split between the tracks, against the tolerated ratio).
    /// </summary>
    private static (double PValue, string Text)? StepEvidence(
        PlannedMetric planned, Sli sli, Measurement canary, Measurement? stable, SloContext context, bool closesStep)
    {
        var bound = planned.Threshold.Max!.Value;
        if (ExcessOf(sli, canary, bound) is not { } excess || excess.Requests < context.MinRequests)
        {
            return null;
        }

        var policy = context.Policy;
        var stableExcess = stable is { Error: null } && ExcessOf(sli, stable, bound) is { Requests: var m } s && m >= context.MinRequests ? s : null;
        var compared = stableExcess is null ? null
            : sli == Sli.LatencyP95
                ? CompareTail(canary.Histogram!, stable!.Histogram!, policy, anytime: true)
                : CompareSplit((excess, stableExcess), policy.ToleranceFor(sli), policy, anytime: true);
        // Anytime-valid at every run; a run that may let the step pass also tests all the step's requests once, exactly (one
        // look per closing run, at the SLO alpha): a weak breach sustained over the whole step does not slip through.
        var anytimeP = SequentialTests.PValue(excess.Requests, excess.AtLeast, excess.AllowedShare);
        var exactP = closesStep ? ProportionTests.BinomialUpperTail(excess.Requests, excess.AtLeast, excess.AllowedShare) : 1;
        var sloP = Math.Min(anytimeP, exactP);
        var how = anytimeP <= exactP ? "anytime-valid" : "all the step's requests, exact";
        if (sloP < policy.SloAlpha)
        {
            // Stable over the same step: a breach it shares is an incident the windows judge (as shared), not the canary's fault.
            var stableP = stableExcess is null ? 1 : ProportionTests.BinomialUpperTail(stableExcess.Requests, stableExcess.AtLeast, stableExcess.AllowedShare);
            if (stableP >= policy.SloAlpha || compared is { Worse: true })
            {
                return (sloP, $"above the SLO: {excess.Describe()} (SLO allows {Percent(excess.AllowedShare)}, {how} p={ShowP(sloP)})"
                    + (compared is { Worse: true } ? $"; worse than stable: {compared.Text}" : ""));
            }
        }

        return compared is { Worse: true } && planned.CompareToStable
            ? (compared.PValue, $"worse than stable: {compared.Text}, although within the SLO ({excess.Describe()})")
            : null;
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
        // An idle stable (the canary at 100%) leaves the absolute SLO alone to decide, and says so below. A stable that should
        // serve but has no series at all is another fact: nothing to compare with and no way to recognise a shared incident,
        // so never Passed (with compareToStable false too: stable is always measured).
        var notCompared = stable is { UnmatchedQuery: { } unmatched } && context.StableServes
            ? $"no data for stable: {unmatched} matched no series although stable serves traffic (check the scrape configuration, relabelling and Prometheus:SeriesSelector)"
            : planned.CompareToStable && (stable is null || stable.Error is not null)
            ? $"stable query failed: {stable?.Error ?? "not measured"}"
            : null;

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
    /// The body and the tail. Body: rank test on the bucket counts of both tracks (every request a sample, one bucket a
    /// tie) and the shift of the median; worse needs both significance and a shift beyond the tolerance, which is relative
    /// and never finer than half the bucket holding stable's median (within a bucket the histogram cannot tell requests
    /// apart). Tail: the share of each track slower than the tail bound (<see cref="TailOf"/>), Fisher exact test, worse
    /// beyond the tail tolerance: a heavier tail with an unchanged median (a slow path, GC pauses) fails here.
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
        var bodyWorse = test.PValue < policy.ComparisonAlpha && shift > allowed;
        var body = $"median {Show(canaryMedian)} s vs stable {Show(stableMedian)} s, shift {Show(shift)} s, tolerance {Show(allowed)} s, rank test p={ShowP(test.PValue)}";
        if (CompareTail(c, s, policy, anytime: false) is not { } tail)
        {
            return new Comparison(bodyWorse, test.PValue, body);
        }

        var p = bodyWorse ? test.PValue : tail.Worse ? tail.PValue : Math.Min(test.PValue, tail.PValue);
        return new Comparison(bodyWorse || tail.Worse, p, $"{body}; tail: {tail.Text}");
    }

    /// <summary>
    /// The tail: how the requests beyond the tail bound split between the tracks, against the tolerated ratio (exact
    /// within a window, anytime-valid over the step), counted only when the canary's p95 estimate is also more than the
    /// tolerance's absolute part above stable's: a new pod's first seconds or a busy node make a sub-millisecond model's
    /// tail several times heavier without the model changing (a 9 ms model 30% slower moves its p95 by 2.7 ms).
    /// </summary>
    private static Comparison? CompareTail(LatencyHistogram canary, LatencyHistogram stable, ComparisonPolicy policy, bool anytime)
    {
        if (TailOf(canary, stable) is not var (c, s))
        {
            return null;
        }

        var split = CompareSplit((c, s), policy.Tail with { Absolute = 0 }, policy, anytime)!;
        var bounds = canary.CommonBounds(stable);
        double canaryP95 = canary.At(bounds).Quantile(0.95)!.Value, stableP95 = stable.At(bounds).Quantile(0.95)!.Value;
        var floor = policy.Tail.Absolute > 0 ? $", at least {Show(policy.Tail.Absolute)} s apart to count" : "";
        return split with
        {
            Worse = split.Worse && canaryP95 - stableP95 > policy.Tail.Absolute,
            Text = $"{split.Text}; p95 {Show(canaryP95)} s vs stable {Show(stableP95)} s{floor}",
        };
    }

    /// <summary>
    /// Requests of each track slower than the tail bound: the lowest bound both histograms have with at most 5% of the two
    /// tracks' requests together above it, i.e. at or just above their pooled p95 (where a heavier tail stands out most
    /// against a slightly slower pod). Chosen from the pooled counts, so when the tracks are alike it favours neither; null
    /// when the pooled tail is empty there.
    /// </summary>
    private static (Excess Canary, Excess Stable)? TailOf(LatencyHistogram canary, LatencyHistogram stable)
    {
        var bounds = canary.CommonBounds(stable);
        var c = canary.At(bounds);
        var s = stable.At(bounds);
        var total = c.Total + s.Total;
        for (var i = 0; i < bounds.Count - 1; i++)
        {
            var above = total - c.Cumulative[i] - s.Cumulative[i];
            if (above <= LatencyExcessShare * total)
            {
                if (above == 0)
                {
                    return null;
                }


                var what = $"slower than {Show(bounds[i])} s";
                long canarySlow = c.Total - c.Cumulative[i], stableSlow = s.Total - s.Cumulative[i];
                return (new Excess(canarySlow, canarySlow, c.Total, LatencyExcessShare, what), new Excess(stableSlow, stableSlow, s.Total, LatencyExcessShare, what));
            }
        }

        return null;
    }

    private static Comparison CompareRate(Excess canary, Excess stable, ComparisonTolerance tolerance, ComparisonPolicy policy)
    {
        var p = ProportionTests.FisherGreater(canary.AtLeast, canary.Requests, stable.AtLeast, stable.Requests);
        double canaryRate = (double)canary.AtLeast / canary.Requests, stableRate = (double)stable.AtLeast / stable.Requests;
        var shift = canaryRate - stableRate;
        var allowed = tolerance.AllowedShift(stableRate);
        var worse = p < policy.ComparisonAlpha && shift > allowed;
        return new Comparison(worse, p,
            $"share {canary.What} {Show(canaryRate)} vs stable {Show(stableRate)} ({stable.AtLeast} of {stable.Requests}), shift {Show(shift)}, tolerance {Show(allowed)}, Fisher p={ShowP(p)}");
    }

    /// <summary>
    /// How the events (errors, requests beyond the tail bound) split between the tracks, against the split the tolerated
    /// ratio allows: given an event, it is the canary's with probability q0 = θ0ρ / (θ0ρ + 1 − ρ) at most, ρ being the
    /// canary's share of requests. Within a run's window an exact binomial test of the canary's share of events against
    /// q0; over the step the anytime-valid one (<see cref="SequentialTests.SplitPValue"/>). Worse also needs the shift of
    /// the rates beyond the tolerance's absolute part.
    /// </summary>
    private static Comparison? CompareSplit((Excess Canary, Excess Stable)? pair, ComparisonTolerance tolerance, ComparisonPolicy policy, bool anytime)
    {
        if (pair is not var (canary, stable))
        {
            return null;
        }

        var ratio = 1 + tolerance.Relative;
        var p = anytime
            ? SequentialTests.SplitPValue(canary.AtLeast, canary.Requests, stable.AtLeast, stable.Requests, ratio)
            : ProportionTests.BinomialUpperTail(canary.AtLeast + stable.AtLeast, canary.AtLeast, SequentialTests.SplitShare(canary.Requests, stable.Requests, ratio));
        double canaryRate = (double)canary.AtLeast / canary.Requests, stableRate = (double)stable.AtLeast / stable.Requests;
        var worse = p < (anytime ? policy.SloAlpha : policy.ComparisonAlpha) && canaryRate - stableRate > tolerance.Absolute;
        return new Comparison(worse, p,
            $"share {canary.What} {Show(canaryRate)} ({canary.AtLeast} of {canary.Requests}) vs stable {Show(stableRate)} ({stable.AtLeast} of {stable.Requests}), tolerated {Show(ratio)}x stable's"
            + (tolerance.Absolute > 0 ? $" and {Show(tolerance.Absolute)} above it" : "") + $", {(anytime ? "anytime-valid " : "")}p={ShowP(p)}");
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

    private static MetricResult JudgeDivergence(PlannedMetric planned, DivergenceSpec spec, Measurement measurement, int minRequests)
    {
        var (verdict, value, reason) = DivergenceJudge.Judge(spec, measurement, minRequests);
        return new MetricResult(planned.Name, verdict, value, spec.Judged ? planned.Threshold : null, null, null, reason);
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
    private sealed record SloContext(long? CanaryRequests, long? StableRequests, int MinRequests, ComparisonPolicy Policy, bool StableServes);

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
