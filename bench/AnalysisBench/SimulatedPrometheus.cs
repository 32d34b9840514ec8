using GruOperator.Domain.Analysis;
using GruServing.Contract.Serving;

namespace AnalysisBench;

/// <summary>
/// The in-process stand-in for Prometheus plus the project's provider: answers built-in SLIs over a window from the
/// simulated samples, exactly as <c>PrometheusMetricProvider</c> does from stored samples: per series (pod), the
/// samples in (start - lookback, end], the last at or before the end minus the last at or before the start (a series
/// whose first sample lies in the window counts from zero), summed over the track's series; no series at all is no
/// data. A test backfills the same samples into a real Prometheus with promtool and checks both give the same answers.
/// </summary>
public sealed class SimulatedPrometheus(TrafficSimulation traffic, bool canaryMissing = false, bool stableMissing = false) : IMetricProvider
{
    /// <summary>The provider's default <c>Prometheus:CounterLookback</c>.</summary>
    public static readonly TimeSpan Lookback = TimeSpan.FromMinutes(2);

    /// <summary>What the provider names when a selector matches nothing (the judge's reason quotes it).</summary>
    public static string QueryOf(MetricQuery query) =>
        $"gru_requests_total{{namespace=\"{query.Track.Namespace}\",model=\"{query.Track.Model}\",track=\"{query.Track.TrackLabel}\",revision=\"{query.Track.Revision}\"}}";

    public Task<Measurement> MeasureAsync(MetricQuery query, CancellationToken cancellationToken) =>
        Task.FromResult(Measure(query));

    public Measurement Measure(MetricQuery query)
    {
        var track = query.Track.Track == Track.Canary ? traffic.Canary : traffic.Stable;
        if ((canaryMissing && query.Track.Track == Track.Canary) || (stableMissing && query.Track.Track == Track.Stable))
        {
            return Measurement.NoSeries(QueryOf(query)); // a scrape or relabelling mistake: the selector matches nothing
        }

        var oldest = query.Window.Start - Lookback;
        long requests = 0, errors = 0;
        var buckets = new long[TrafficSimulation.Bounds.Length];
        var series = 0;
        foreach (var pod in track.Pods)
        {
            var end = pod.LastAtOrBefore(query.Window.End);
            if (end < 0 || pod.Times[end] <= oldest)
            {
                continue; // no sample in the range selector's reach: Prometheus returns no series for this pod
            }

            series++;
            var start = pod.LastAtOrBefore(query.Window.Start);
            var (r1, e1, b1) = pod.Samples[end];
            var (r0, e0, b0) = start < 0 || pod.Times[start] <= oldest ? (0L, 0L, new long[b1.Length]) : pod.Samples[start];
            requests += r1 - r0;
            errors += e1 - e0;
            for (var i = 0; i < b1.Length; i++)
            {
                buckets[i] += b1[i] - b0[i];
            }
        }

        if (series == 0)
        {
            return Measurement.NoSeries(QueryOf(query));
        }

        return query.Source switch
        {
            BuiltInSli { Sli: Sli.RequestCount } => Measurement.Of(requests),
            BuiltInSli { Sli: Sli.ErrorRate } => Measurement.Of(new EventCount(errors, requests)),
            BuiltInSli { Sli: Sli.InputSchemaErrorRate } => Measurement.Of(new EventCount(0, requests)),
            BuiltInSli { Sli: Sli.LatencyP95 } => Measurement.Of(Histogram(buckets)),
            _ => Measurement.Failed("the simulation has no custom metrics"),
        };
    }

    private static LatencyHistogram Histogram(long[] buckets)
    {
        var cumulative = new long[buckets.Length];
        long running = 0;
        for (var i = 0; i < buckets.Length; i++)
        {
            running += buckets[i];
            cumulative[i] = running;
        }

        return new LatencyHistogram(TrafficSimulation.Bounds, cumulative);
    }
}
