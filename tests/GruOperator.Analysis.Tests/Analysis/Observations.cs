using GruOperator.Domain.Analysis;

namespace GruOperator.Analysis.Tests.Analysis;

/// <summary>Builds observations for judge tests: healthy defaults, then one change per scenario.</summary>
public sealed record Observations(Dictionary<string, Measurement> Canary, Dictionary<string, Measurement> Stable)
{
    /// <summary>Latency SLO 200 ms, errors 1%, schema errors 5%, at least 50 requests.</summary>
    public static readonly SloSpec Slo = new(TimeSpan.FromMilliseconds(200), 0.01, 0.05, 50);

    /// <summary>Series of twenty per-step values around <paramref name="center"/> with a fixed small wobble.</summary>
    public static double[] Steady(double center) =>
        Enumerable.Range(0, 20).Select(i => center * (1 + 0.02 * Math.Sin(i * 1.7))).ToArray();

    /// <summary>Both tracks healthy and alike: 80 ms p95, no errors, 500 requests.</summary>
    public static Observations Healthy() => new(Track(0.080), Track(0.080));

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

    public AnalysisObservation ToObservation() => new(Canary, Stable);

    private static Dictionary<string, Measurement> Track(double p95) => new()
    {
        [MetricNames.RequestCount] = Measurement.Of(500),
        [MetricNames.LatencyP95] = Measurement.Of(p95, Steady(p95)),
        [MetricNames.ErrorRate] = Measurement.Of(0, new double[20]),
        [MetricNames.InputSchemaErrorRate] = Measurement.Of(0.001, Steady(0.001)),
    };
}
