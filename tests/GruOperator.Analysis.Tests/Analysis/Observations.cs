using GruOperator.Domain.Analysis;
using GruServing.Contract.Serving;

namespace GruOperator.Analysis.Tests.Analysis;

/// <summary>Builds observations for judge tests: healthy defaults, then one change per scenario.</summary>
public sealed record Observations(Dictionary<string, Measurement> Canary, Dictionary<string, Measurement> Stable)
{
    /// <summary>Latency SLO 200 ms, errors 1%, schema errors 5%, at least 50 requests.</summary>
    public static readonly SloSpec Slo = new(TimeSpan.FromMilliseconds(200), 0.01, 0.05, 50);

    /// <summary>GruServer's layout for that SLO: ten bounds per decade plus 0.2 s (already one of them).</summary>
    public static readonly IReadOnlyList<double> Bounds = [.. LatencyBuckets.With([TimeSpan.FromMilliseconds(200)]), double.PositiveInfinity];

    /// <summary>Both tracks healthy and alike: 500 requests, median 40 ms (p95 about 77 ms), no errors, one invalid input.</summary>
    public static Observations Healthy() => new(Track(500, 0.040), Track(500, 0.040));

    /// <summary>
    /// The expected bucket counts of <paramref name="requests"/> log-normal latencies (deterministic, no sampling), with
    /// <paramref name="slow"/> of them moved from the median's bucket to just above <paramref name="slowAbove"/> seconds;
    /// <paramref name="tailShare"/> of requests may take a slow path <paramref name="tailFactor"/> times as slow (a heavier tail).
    /// </summary>
    public static LatencyHistogram Latency(
        long requests, double median, double sigma = 0.4, long slow = 0, double slowAbove = 0.2, IReadOnlyList<double>? bounds = null,
        double tailShare = 0, double tailFactor = 1)
    {
        bounds ??= Bounds;
        double Below(double b, double m) => 1 - MannWhitneyU.UpperTailNormal(Math.Log(b / m) / sigma);
        var cumulative = bounds.Select(b => double.IsPositiveInfinity(b) ? requests
            : (long)Math.Round(requests * ((1 - tailShare) * Below(b, median) + tailShare * Below(b, median * tailFactor)))).ToArray();
        var counts = cumulative.Select((c, i) => c - (i == 0 ? 0 : cumulative[i - 1])).ToArray();
        if (slow > 0)
        {
            var from = Array.IndexOf(counts, counts.Max());
            var to = bounds.Select((b, i) => (b, i)).First(x => x.b > slowAbove).i;
            counts[from] -= slow;
            counts[to] += slow;
        }

        long running = 0;
        return new LatencyHistogram(bounds, counts.Select(c => running += c).ToArray());
    }

    public Observations WithCanary(string metric, Measurement measurement)
    {
        Canary[metric] = measurement;
        return this;
    }

    public Observations WithStable(string metric, Measurement measurement)
    {
        Stable[metric] = measurement;
        return this;
    }

    /// <summary>Both request counts and the error counts' denominators set to <paramref name="requests"/>.</summary>
    public Observations WithRequests(long canary, long stable) =>
        WithCanary(MetricNames.RequestCount, Measurement.Of(canary)).WithStable(MetricNames.RequestCount, Measurement.Of(stable))
            .WithCanary(MetricNames.ErrorRate, Measurement.Of(new EventCount(0, canary))).WithStable(MetricNames.ErrorRate, Measurement.Of(new EventCount(0, stable)))
            .WithCanary(MetricNames.InputSchemaErrorRate, Measurement.Of(new EventCount(0, canary))).WithStable(MetricNames.InputSchemaErrorRate, Measurement.Of(new EventCount(0, stable)))
            .WithCanary(MetricNames.LatencyP95, Measurement.Of(Latency(canary, 0.040))).WithStable(MetricNames.LatencyP95, Measurement.Of(Latency(stable, 0.040)));

    /// <summary>Whether stable is meant to serve (false: the canary takes all traffic).</summary>
    public bool StableServes { get; init; } = true;

    public AnalysisObservation ToObservation() => new(Canary, Stable) { StableServes = StableServes };

    public static Measurement Errors(long events, long requests) => Measurement.Of(new EventCount(events, requests));

    private static Dictionary<string, Measurement> Track(long requests, double median) => new()
    {
        [MetricNames.RequestCount] = Measurement.Of(requests),
        [MetricNames.LatencyP95] = Measurement.Of(Latency(requests, median)),
        [MetricNames.ErrorRate] = Errors(0, requests),
        [MetricNames.InputSchemaErrorRate] = Errors(1, requests),
    };
}
