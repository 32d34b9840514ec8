using GruOperator.Domain.Analysis;
using GruServing.Contract.Serving;

namespace AnalysisBench;

/// <summary>
/// The in-process stand-in for Prometheus plus the project's provider: answers built-in SLIs over a window from the
/// simulated samples, exactly as <c>PrometheusMetricProvider</c> does from stored samples (last sample at or before
/// the end minus last sample at or before the start; a track with no sample yet is no data). A test backfills the
/// same samples into a real Prometheus with promtool and checks that both give the same measurements.
/// </summary>
public sealed class SimulatedPrometheus(TrafficSimulation traffic, bool canaryMissing = false) : IMetricProvider
{
    /// <summary>The provider's default <c>Prometheus:CounterLookback</c>.</summary>
    public static readonly TimeSpan Lookback = TimeSpan.FromMinutes(2);

    public Task<Measurement> MeasureAsync(MetricQuery query, CancellationToken cancellationToken) =>
        Task.FromResult(Measure(query));

    public Measurement Measure(MetricQuery query)
    {
        var track = query.Track.Track == Track.Canary ? traffic.Canary : traffic.Stable;
        if (canaryMissing && query.Track.Track == Track.Canary)
        {
            return Measurement.Of((double?)null); // no series: a scrape config that never found the canary
        }

        // The provider reads the samples in [start - lookback, end]: none there is no data; no baseline there counts from zero.
        var oldest = query.Window.Start - Lookback;
        var end = track.LastAtOrBefore(query.Window.End);
        if (end < 0 || track.Times[end] < oldest)
        {
            return Measurement.Of((double?)null);
        }

        var start = track.LastAtOrBefore(query.Window.Start);
        if (start >= 0 && track.Times[start] < oldest)
        {
            start = -1;
        }

        var (r1, e1, b1) = track.Samples[end];
        var (r0, e0, b0) = start < 0 ? (0L, 0L, new long[b1.Length]) : track.Samples[start];
        return query.Source switch
        {
            BuiltInSli { Sli: Sli.RequestCount } => Measurement.Of(r1 - r0),
            BuiltInSli { Sli: Sli.ErrorRate } => Measurement.Of(new EventCount(e1 - e0, r1 - r0)),
            BuiltInSli { Sli: Sli.InputSchemaErrorRate } => Measurement.Of(new EventCount(0, r1 - r0)),
            BuiltInSli { Sli: Sli.LatencyP95 } => Measurement.Of(Histogram(b0, b1)),
            _ => Measurement.Failed("the simulation has no custom metrics"),
        };
    }

    private static LatencyHistogram Histogram(long[] before, long[] after)
    {
        var cumulative = new long[after.Length];
        long running = 0;
        for (var i = 0; i < after.Length; i++)
        {
            running += after[i] - before[i];
            cumulative[i] = running;
        }

        return new LatencyHistogram(TrafficSimulation.Bounds, cumulative);
    }
}
