using System.Globalization;
using GruOperator.Domain.Analysis;

namespace AnalysisBench;

/// <summary>What the best possible error detector could do for one rollout with an error-rate onset.</summary>
/// <param name="CanaryRequests">Canary requests scraped from the onset to two intervals after it.</param>
/// <param name="CanaryErrors">Of those, answered 5xx.</param>
/// <param name="StableRequests">Stable requests over the same span.</param>
/// <param name="StableErrors">Of those, answered 5xx.</param>
/// <param name="Caught">Whether the judge's own tests, at its own error levels, flag that span.</param>
/// <param name="CaughtOnSchedule">The same, on the span that ends at the last analysis run inside the two intervals (what any run on the rollout's schedule could have seen).</param>
public sealed record OracleVerdict(long CanaryRequests, long CanaryErrors, long StableRequests, long StableErrors, bool Caught, bool CaughtOnSchedule);

/// <summary>
/// The upper bound on "errors caught within two intervals of onset": a detector that knows the onset and, two intervals
/// later, judges every canary request scraped since it (the most data any run inside the goal can have seen) with the
/// judge's own tests at the judge's own error levels — the exact binomial test against the SLO (uniformly most powerful
/// for "share ≤ bound", so no test at that level does better on those counts) and the Fisher test against stable with the
/// same tolerance. If this detector misses a seed, no analysis with the same false-alarm levels can catch it in time.
/// </summary>
public static class BreachOracle
{
    /// <summary>Judges the span [onset, onset + window] of <paramref name="traffic"/>'s stored samples.</summary>
    public static OracleVerdict Judge(TrafficSimulation traffic, double onsetSeconds, TimeSpan window, SloSpec slo, ComparisonPolicy policy, RolloutResult result)
    {
        var onset = traffic.Start + TimeSpan.FromSeconds(onsetSeconds);
        var (n, k, ns, ks, caught) = Test(traffic, onset, onset + window, slo, policy);
        var lastRun = result.Runs.Select(r => r.Time).Where(t => t >= onset && t <= onset + window).DefaultIfEmpty(onset).Max();
        return new OracleVerdict(n, k, ns, ks, caught, Test(traffic, onset, lastRun, slo, policy).Caught);
    }

    private static (long N, long K, long Ns, long Ks, bool Caught) Test(TrafficSimulation traffic, DateTimeOffset onset, DateTimeOffset until, SloSpec slo, ComparisonPolicy policy)
    {
        var (n, k) = Span(traffic.Canary, onset, until);
        var (ns, ks) = Span(traffic.Stable, onset, until);
        var bound = slo.ErrorRate!.Value;
        var slo_ = n > 0 && ProportionTests.BinomialUpperTail(n, k, bound) < policy.SloAlpha;
        var shift = n > 0 && ns > 0 ? (double)k / n - (double)ks / ns : 0;
        var compared = n > 0 && ns > 0 && ProportionTests.FisherGreater(k, n, ks, ns) < policy.ComparisonAlpha
            && shift > policy.ErrorRate.AllowedShift((double)ks / ns);
        return (n, k, ns, ks, slo_ || compared);
    }

    /// <summary>
    /// Requests and errors in each pod's samples from its first scrape at or after <paramref name="from"/> to its last at
    /// or before <paramref name="until"/> (what that pod's counters hold about the span), summed over the track's pods.
    /// </summary>
    private static (long Requests, long Errors) Span(SimulatedTrack track, DateTimeOffset from, DateTimeOffset until)
    {
        long requests = 0, errors = 0;
        foreach (var pod in track.Pods)
        {
            var end = pod.LastAtOrBefore(until);
            var before = pod.Times.FindLastIndex(t => t < from);
            if (end < 0 || end <= before)
            {
                continue;
            }

            var (r0, e0) = before < 0 ? (0L, 0L) : (pod.Samples[before].Requests, pod.Samples[before].Errors);
            requests += pod.Samples[end].Requests - r0;
            errors += pod.Samples[end].Errors - e0;
        }

        return (requests, errors);
    }

    /// <summary>One line about a rollout the analysis did not catch in time: where the onset fell, what the runs saw.</summary>
    public static string DescribeMiss(double onsetSeconds, RolloutResult result, OracleVerdict oracle, TimeSpan interval)
    {
        static double At(AnalysisRun run) => (run.Time - BenchClock.Start).TotalSeconds;
        var runs = result.Runs.Where(r => At(r) >= onsetSeconds && At(r) <= onsetSeconds + 2 * interval.TotalSeconds).ToArray();
        var next = runs.Length > 0 ? At(runs[0]) - onsetSeconds : double.NaN;
        var share = oracle.CanaryRequests + oracle.StableRequests == 0 ? 0 : (double)oracle.CanaryRequests / (oracle.CanaryRequests + oracle.StableRequests);
        var seen = string.Join("; ", runs.Select(r =>
            $"run at +{At(r) - onsetSeconds:0} s {r.Verdict}: {r.Metrics.FirstOrDefault(m => m.Name == MetricNames.ErrorRate)?.Reason}"));
        return string.Create(CultureInfo.InvariantCulture,
            $"onset {onsetSeconds:0} s, canary share {share:P0}, next run {next:0} s after onset; since onset the canary served {oracle.CanaryRequests} requests, " +
            $"{oracle.CanaryErrors} errors (stable {oracle.StableErrors} of {oracle.StableRequests}), best detector {(oracle.Caught ? "catches" : "misses")} it; {seen}");
    }
}
