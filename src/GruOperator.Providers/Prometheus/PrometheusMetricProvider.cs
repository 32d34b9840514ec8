using System.Globalization;
using GruOperator.Domain.Analysis;
using Microsoft.Extensions.Logging;

namespace GruOperator.Providers.Prometheus;

/// <summary>
/// The Prometheus implementation of the <see cref="IMetricProvider"/> port. Built-in SLIs are exact counts over the
/// window: the raw samples of GruServer's counters, read with a range selector ending at the window's end and reaching
/// <paramref name="counterLookback"/> before its start, become increases per series (<see cref="CounterIncrease"/>)
/// and are summed per code or bucket. Custom queries are evaluated at the window's end with <c>{{window}}</c> = its
/// length. Every failure becomes <see cref="Measurement.Failed"/>; NaN, ±Inf and empty results become "no data".
/// </summary>
internal sealed partial class PrometheusMetricProvider(
    PrometheusClient client, Uri server, GruSliQueries sliQueries, TimeSpan counterLookback, string namespaceLabel, ILogger<PrometheusMetricProvider> logger) : IMetricProvider
{
    public async Task<Measurement> MeasureAsync(MetricQuery query, CancellationToken cancellationToken)
    {
        try
        {
            return query.Source switch
            {
                BuiltInSli builtIn => await MeasureSliAsync(builtIn.Sli, query, cancellationToken).ConfigureAwait(false),
                BuiltInDivergence => await MeasureDivergenceAsync(query, cancellationToken).ConfigureAwait(false),
                CustomQuery custom => await MeasureCustomAsync(custom.Template, query, cancellationToken).ConfigureAwait(false),
                _ => throw new ArgumentOutOfRangeException(nameof(query), query.Source, "unknown metric source"),
            };
        }
        catch (PromQlTemplateException ex)
        {
            return Measurement.Failed($"{query.Name}: {ex.Message}");
        }
        catch (PrometheusException ex)
        {
            Log.MeasurementFailed(logger, query.Name, query.Track.TrackLabel, ex.Kind, ex.Message);
            return Measurement.Failed(ex.Message);
        }
    }

    private async Task<Measurement> MeasureCustomAsync(string template, MetricQuery query, CancellationToken cancellationToken)
    {
        // The template is the GruModel author's: every selector is confined to the model's namespace before it runs.
        var instant = PromQlSelectors.Confine(PromQlTemplate.Render(template, query.Track, query.Window.Length), namespaceLabel, query.Track.Namespace);
        var result = await client.QueryAsync(server, instant, query.Window.End, cancellationToken).ConfigureAwait(false);
        return Measurement.Of(SingleValue(result, instant), result.Warnings);
    }

    private async Task<Measurement> MeasureSliAsync(Sli sli, MetricQuery query, CancellationToken cancellationToken)
    {
        var (results, warnings, increases) = await CountAsync(sliQueries.Templates(sli), query, cancellationToken).ConfigureAwait(false);

        // A selector that matches no series at all is no data naming the query: for stable that is a scrape or relabelling
        // mistake to report, not an idle track (which has series, with zero increase).
        Measurement None(int i) => Measurement.NoSeries(results[i].Query, warnings);
        switch (sli)
        {
            case Sli.RequestCount:
                return increases[0].Count == 0 ? None(0) : Measurement.Of(Math.Round(increases[0].Sum(s => s.Increase)), warnings);
            case Sli.ErrorRate:
                return increases[0].Count == 0 ? None(0) : Measurement.Of(new EventCount(
                    Count(increases[0].Where(s => s.Labels.GetValueOrDefault("code", "").StartsWith('5'))), Count(increases[0])), warnings);
            case Sli.InputSchemaErrorRate:
                // A server that never rejected input may lack the series: zero events, as long as requests were counted.
                return increases[1].Count == 0 ? None(1)
                    : Measurement.Of(new EventCount(Count(increases[0]), Count(increases[1])), warnings);
            default:
                return increases[0].Count == 0 ? None(0)
                    : Histogram(increases[0], results[0].Query) is { } histogram
                    ? Measurement.Of(histogram, warnings)
                    : Measurement.Of((double?)null, warnings);
        }
    }

    private async Task<Measurement> MeasureDivergenceAsync(MetricQuery query, CancellationToken cancellationToken)
    {
        var (results, warnings, increases) = await CountAsync(sliQueries.Divergence, query, cancellationToken).ConfigureAwait(false);
        if (increases[0].Count == 0)
        {
            // Stable exports the counters of drops and errors from its start when mirroring; no series means no mirroring.
            return increases[4].Count == 0 ? Measurement.NoSeries(results[0].Query, warnings)
                : Measurement.Of((double?)null, warnings) with { Divergence = Empty(Count(increases[4]), Count(increases[5])) };
        }

        var abs = DivergenceBuckets(increases[0], results[0].Query);
        var rel = DivergenceBuckets(increases[1], results[1].Query);
        var counts = new DivergenceCounts(abs.Total, abs, rel, Count(increases[2]), Count(increases[3]), Count(increases[4]), Count(increases[5]));
        return Measurement.Of(counts.Compared, warnings) with { Divergence = counts };

        static DivergenceCounts Empty(long errors, long dropped)
        {
            var none = new DivergenceHistogram([double.PositiveInfinity], [0]);
            return new DivergenceCounts(0, none, none, 0, 0, errors, dropped);
        }
    }

    /// <summary>Bucket increases summed per <c>le</c> over every series (pods, outputs) as a cumulative histogram.</summary>
    internal static DivergenceHistogram DivergenceBuckets(IEnumerable<(IReadOnlyDictionary<string, string> Labels, double Increase)> series, string query)
    {
        var (bounds, cumulative) = CumulativeByBound(series, query);
        return new DivergenceHistogram(bounds, cumulative);
    }

    /// <summary>Runs the counter templates (raw samples over the window plus the lookback) and counts each series' increase.</summary>
    private async Task<((string Query, PrometheusResult Result)[] Results, string[] Warnings, List<(IReadOnlyDictionary<string, string> Labels, double Increase)>[] Increases)> CountAsync(
        IEnumerable<string> templates, MetricQuery query, CancellationToken cancellationToken)
    {
        var window = query.Window;
        var results = await Task.WhenAll(templates.Select(async template =>
        {
            var rendered = PromQlTemplate.Render(template, query.Track, window.Length + counterLookback);
            var result = await client.QueryAsync(server, rendered, window.End, cancellationToken).ConfigureAwait(false);
            return (Query: rendered, Result: result);
        })).ConfigureAwait(false);
        return (results, [.. results.SelectMany(r => r.Result.Warnings)], [.. results.Select(r => Increases(r.Result, r.Query, window))]);
    }

    /// <summary>Each series' exact increase over the window (see <see cref="CounterIncrease"/>).</summary>
    private static List<(IReadOnlyDictionary<string, string> Labels, double Increase)> Increases(
        PrometheusResult result, string query, AnalysisWindow window)
    {
        if (result.ResultType != "matrix")
        {
            throw new PrometheusException(PrometheusErrorKind.BadResponse, $"expected the raw samples of a range selector, got a {result.ResultType} (query: {query})");
        }

        return result.Series.Select(s => (s.Labels,
            CounterIncrease.Between(s.Samples.Select(p => new CounterSample(p.Time, p.Value)).ToArray(), window.Start, window.End))).ToList();
    }

    private static long Count(IEnumerable<(IReadOnlyDictionary<string, string> Labels, double Increase)> series) =>
        (long)Math.Round(series.Sum(s => s.Increase));

    /// <summary>Bucket increases summed per <c>le</c> over all series (pods) of the track; null without buckets.</summary>
    internal static LatencyHistogram? Histogram(IEnumerable<(IReadOnlyDictionary<string, string> Labels, double Increase)> series, string query)
    {
        var (bounds, cumulative) = CumulativeByBound(series, query);
        return bounds.Length == 0 || !double.IsPositiveInfinity(bounds[^1]) ? null : new LatencyHistogram(bounds, cumulative);
    }

    /// <summary>Bucket increases summed per <c>le</c> over all series, made cumulative in bound order.</summary>
    private static (double[] Bounds, long[] Cumulative) CumulativeByBound(IEnumerable<(IReadOnlyDictionary<string, string> Labels, double Increase)> series, string query)
    {
        var byBound = new SortedDictionary<double, double>();
        foreach (var (labels, increase) in series)
        {
            if (!labels.TryGetValue("le", out var le) || !TryParseBound(le, out var bound))
            {
                throw new PrometheusException(PrometheusErrorKind.BadResponse, $"a histogram bucket series has no numeric le label (query: {query})");
            }

            byBound[bound] = byBound.GetValueOrDefault(bound) + increase;
        }

        // Buckets of one scrape are consistent; the running maximum only guards against a torn scrape.
        long running = 0;
        var cumulative = byBound.Values.Select(v => running = Math.Max(running, (long)Math.Round(v))).ToArray();
        return ([.. byBound.Keys], cumulative);
    }

    /// <summary>An <c>le</c> label: a number, or "+Inf" as Prometheus writes it.</summary>
    private static bool TryParseBound(string le, out double bound)
    {
        if (le is "+Inf" or "Inf")
        {
            bound = double.PositiveInfinity;
            return true;
        }

        return double.TryParse(le, NumberStyles.Float, CultureInfo.InvariantCulture, out bound);
    }

    /// <summary>The one value of an instant query; null for no data. Several series is an error naming the query.</summary>
    internal static double? SingleValue(PrometheusResult result, string query)
    {
        if (result.ResultType == "matrix")
        {
            throw new PrometheusException(PrometheusErrorKind.BadResponse,
                $"query returned a range vector where one number was expected; wrap it in e.g. avg_over_time(...) (query: {query})");
        }

        return result.Series.Count switch
        {
            0 => null,
            1 => result.Series[0] is { Samples: [var sample] } && double.IsFinite(sample.Value) ? sample.Value : null,
            var n => throw new PrometheusException(PrometheusErrorKind.BadResponse,
                $"query returned {n} series where one was expected (first: {Describe(result.Series[0])}); aggregate it, e.g. with sum(...) (query: {query})"),
        };
    }

    private static string Describe(PrometheusSeries series) =>
        "{" + string.Join(",", series.Labels.Select(l => $"{l.Key}=\"{l.Value}\"")) + "}";

    private static partial class Log
    {
        [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Measuring {Metric} for {Track} failed ({Kind}): {Error}")]
        public static partial void MeasurementFailed(ILogger logger, string metric, string track, PrometheusErrorKind kind, string error);
    }
}
