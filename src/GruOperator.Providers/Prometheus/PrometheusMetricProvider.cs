using GruOperator.Domain.Analysis;
using Microsoft.Extensions.Logging;

namespace GruOperator.Providers.Prometheus;

/// <summary>
/// The Prometheus implementation of the <see cref="IMetricProvider"/> port: renders the query for a track,
/// evaluates it at the window's end (and over the window when series are asked for), and returns data.
/// Every failure becomes <see cref="Measurement.Failed"/>; NaN, ±Inf and empty results become "no data".
/// </summary>
internal sealed partial class PrometheusMetricProvider(
    PrometheusClient client, Uri server, GruSliQueries sliQueries, ILogger<PrometheusMetricProvider> logger) : IMetricProvider
{
    public async Task<Measurement> MeasureAsync(MetricQuery query, CancellationToken cancellationToken)
    {
        var template = query.Source switch
        {
            BuiltInSli builtIn => sliQueries.Template(builtIn.Sli),
            CustomQuery custom => custom.Template,
            _ => throw new ArgumentOutOfRangeException(nameof(query), query.Source, "unknown metric source"),
        };

        string instant, perStep;
        try
        {
            // Instant value: one rate over the whole window. Per-step series: short rates, one point a step.
            instant = PromQlTemplate.Render(template, query.Track, query.Window.Length);
            perStep = PromQlTemplate.Render(template, query.Track, query.Window.RateWindow);
        }
        catch (PromQlTemplateException ex)
        {
            return Measurement.Failed($"{query.Name}: {ex.Message}");
        }

        try
        {
            var result = await client.QueryAsync(server, instant, query.Window.End, cancellationToken).ConfigureAwait(false);
            var value = SingleValue(result, instant);
            var warnings = result.Warnings;
            IReadOnlyList<double> series = [];
            if (query.WithSeries)
            {
                var range = await client.QueryRangeAsync(
                    server, perStep, query.Window.Start, query.Window.End, query.Window.Step, cancellationToken).ConfigureAwait(false);
                series = SingleSeries(range, perStep);
                warnings = [.. warnings, .. range.Warnings];
            }

            return Measurement.Of(value, series, warnings);
        }
        catch (PrometheusException ex)
        {
            Log.MeasurementFailed(logger, query.Name, query.Track.TrackLabel, ex.Kind, ex.Message);
            return Measurement.Failed(ex.Message);
        }
    }

    /// <summary>The one value of an instant query; null for no data. Several series is an error naming the query.</summary>
    internal static double? SingleValue(PrometheusResult result, string query)
    {
        if (result.ResultType == "matrix")
        {
            throw new PrometheusException(PrometheusErrorKind.BadResponse,
                $"query returned a range vector where one number was expected; wrap it in e.g. avg_over_time(...) (query: {query})");
        }

        return One(result, query) is { Samples: [var sample] } && double.IsFinite(sample.Value) ? sample.Value : null;
    }

    /// <summary>The finite points of a range query's one series; empty for no data.</summary>
    internal static IReadOnlyList<double> SingleSeries(PrometheusResult result, string query) =>
        One(result, query)?.Samples.Select(s => s.Value).Where(double.IsFinite).ToArray() ?? [];

    private static PrometheusSeries? One(PrometheusResult result, string query) => result.Series.Count switch
    {
        0 => null,
        1 => result.Series[0],
        var n => throw new PrometheusException(PrometheusErrorKind.BadResponse,
            $"query returned {n} series where one was expected (first: {Describe(result.Series[0])}); aggregate it, e.g. with sum(...) (query: {query})"),
    };

    private static string Describe(PrometheusSeries series) =>
        "{" + string.Join(",", series.Labels.Select(l => $"{l.Key}=\"{l.Value}\"")) + "}";

    private static partial class Log
    {
        [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Measuring {Metric} for {Track} failed ({Kind}): {Error}")]
        public static partial void MeasurementFailed(ILogger logger, string metric, string track, PrometheusErrorKind kind, string error);
    }
}
