using GruOperator.Domain.Analysis;

namespace GruOperator.Providers.Prometheus;

/// <summary>
/// The counters behind the built-in SLIs, as PromQL range selectors over GruServer's metrics. They return the raw
/// stored samples of every series of a track (every pod, every code or bucket) over the window plus a lookback, so
/// the provider can count requests exactly (<see cref="CounterIncrease"/>) instead of extrapolating with
/// <c>increase()</c> or interpolating with <c>histogram_quantile</c>.
/// </summary>
internal sealed class GruSliQueries(string seriesSelector)
{
    /// <summary>Every request, by code (5xx are the error rate's events).</summary>
    public string Requests => $"gru_requests_total{{{seriesSelector}}}[{{{{window}}}}]";

    /// <summary>Requests rejected by input validation, by reason.</summary>
    public string SchemaErrors => $"gru_input_schema_errors_total{{{seriesSelector}}}[{{{{window}}}}]";

    /// <summary>Latency histogram buckets, by <c>le</c>.</summary>
    public string LatencyBuckets => $"gru_request_duration_seconds_bucket{{{seriesSelector}}}[{{{{window}}}}]";

    /// <summary>The divergence stable's pods measured on mirrored requests (<see cref="GruServing.Contract.Serving.ShadowTraffic"/>):
    /// both histograms' buckets, the arg-max counters, then errors and drops. The same selector confines them to the
    /// model's own series; a GruModel author writes thresholds, never these queries.</summary>
    public IReadOnlyList<string> Divergence =>
    [
        Range(GruServing.Contract.Serving.ShadowTraffic.AbsDiffMetric + "_bucket"),
        Range(GruServing.Contract.Serving.ShadowTraffic.RelDiffMetric + "_bucket"),
        Range(GruServing.Contract.Serving.ShadowTraffic.ArgMaxComparedMetric),
        Range(GruServing.Contract.Serving.ShadowTraffic.ArgMaxAgreedMetric),
        Range(GruServing.Contract.Serving.ShadowTraffic.ErrorsMetric),
        Range(GruServing.Contract.Serving.ShadowTraffic.DroppedMetric),
    ];

    private string Range(string metric) => $"{metric}{{{seriesSelector}}}[{{{{window}}}}]";

    /// <summary>The templates one SLI needs: its events (or buckets) first, then the requests they are a share of.</summary>
    public IReadOnlyList<string> Templates(Sli sli) => sli switch
    {
        Sli.RequestCount or Sli.ErrorRate => [Requests],
        Sli.InputSchemaErrorRate => [SchemaErrors, Requests],
        Sli.LatencyP95 => [LatencyBuckets],
        _ => throw new ArgumentOutOfRangeException(nameof(sli), sli, "unknown SLI"),
    };
}
