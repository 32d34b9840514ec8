using GruOperator.Domain.Analysis;
using GruOperator.Domain.Scaling;
using Microsoft.Extensions.Logging;

namespace GruOperator.Providers.Prometheus;

/// <summary>
/// Reads an autoscaled model's load from Prometheus. The queries are the operator's own, built from the configured series
/// selector with the model's namespace, name and revisions as escaped label values (<see cref="PromQlTemplate"/>), then
/// confined to the model's namespace (<see cref="PromQlSelectors.Confine"/>): nothing the tenant writes reaches PromQL,
/// and no other namespace's series can be read. Per pod: the in-flight gauge averaged over the window, or the queue-wait
/// histogram's sum and count rates; the value is the mean over every pod of every track.
/// </summary>
internal sealed partial class PrometheusLoadSource(
    PrometheusClient client, Uri server, string seriesSelector, TimeSpan window, string namespaceLabel, ILogger<PrometheusLoadSource> logger) : ILoadSource
{
    /// <summary>The per-pod queries of <paramref name="metric"/> for one track, confined to its namespace.</summary>
    internal IReadOnlyList<string> Queries(ScalingMetric metric, TrackSelector track)
    {
        string[] templates = metric == ScalingMetric.QueueWait
            ? [$"rate(gru_queue_wait_seconds_sum{{{seriesSelector}}}[{{{{window}}}}])", $"rate(gru_queue_wait_seconds_count{{{seriesSelector}}}[{{{{window}}}}])"]
            : [$"avg_over_time(gru_requests_in_flight{{{seriesSelector}}}[{{{{window}}}}])"];
        return templates.Select(t => PromQlSelectors.Confine(PromQlTemplate.Render(t, track, window), namespaceLabel, track.Namespace)).ToList();
    }

    public async Task<LoadReading> ReadAsync(LoadQuery query, CancellationToken cancellationToken)
    {
        try
        {
            if (query.Tracks.Count == 0) return LoadReading.None("The model has no serving track yet.");
            var perQuery = new List<List<double>>();
            var queries = query.Tracks.Select(t => Queries(query.Metric, t)).ToList();
            var width = queries[0].Count;
            for (var i = 0; i < width; i++)
            {
                var values = new List<double>();
                foreach (var trackQueries in queries)
                {
                    var result = await client.QueryAsync(server, trackQueries[i], query.At, cancellationToken).ConfigureAwait(false);
                    if (result.ResultType != "vector")
                    {
                        throw new PrometheusException(PrometheusErrorKind.BadResponse, $"expected an instant vector, got a {result.ResultType} (query: {trackQueries[i]})");
                    }
                    values.AddRange(result.Series.SelectMany(s => s.Samples).Select(s => s.Value).Where(double.IsFinite));
                }
                perQuery.Add(values);
            }

            var pods = perQuery[^1].Count;
            if (pods == 0)
            {
                return LoadReading.None($"Prometheus has no {(query.Metric == ScalingMetric.QueueWait ? "gru_queue_wait_seconds" : "gru_requests_in_flight")} series for the model's pods"
                    + $" ({string.Join(", ", queries.Select(q => q[^1]))}): are they scraped with the labels Prometheus:SeriesSelector expects?");
            }

            if (query.Metric == ScalingMetric.QueueWait)
            {
                // The mean wait of the requests in the window; none arrived means none waited.
                var requests = perQuery[1].Sum();
                return new LoadReading(requests > 0 ? perQuery[0].Sum() / requests : 0, pods, null);
            }

            return new LoadReading(perQuery[0].Average(), pods, null);
        }
        catch (Exception ex) when (ex is PrometheusException or PromQlTemplateException)
        {
            Log.ReadFailed(logger, query.Tracks[0].Namespace, query.Tracks[0].Model, ex.Message);
            return LoadReading.None($"Reading the load from Prometheus failed: {ex.Message}");
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Reading the load of {Namespace}/{Model} failed: {Error}")]
        public static partial void ReadFailed(ILogger logger, string @namespace, string model, string error);
    }
}

/// <summary>Stands in when no usable Prometheus address is known: every reading is "no value" with the reason.</summary>
internal sealed class FailingLoadSource(string reason) : ILoadSource
{
    public Task<LoadReading> ReadAsync(LoadQuery query, CancellationToken cancellationToken) => Task.FromResult(LoadReading.None(reason));
}
