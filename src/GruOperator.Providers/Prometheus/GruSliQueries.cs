using GruOperator.Domain.Analysis;

namespace GruOperator.Providers.Prometheus;

/// <summary>
/// The built-in SLIs as PromQL templates over GruServer's metrics. Every query aggregates to one series;
/// a rate over no traffic is 0/0 = NaN, which the provider reports as "no data", never as zero. Error
/// numerators use <c>or vector(0)</c> because a canary that never failed has no 5xx series at all — that
/// is a real 0 whenever the denominator has traffic.
/// </summary>
internal sealed class GruSliQueries(string seriesSelector)
{
    /// <summary>The template for one SLI; <c>{{window}}</c> is the range each rate looks back over.</summary>
    public string Template(Sli sli)
    {
        var all = $"gru_requests_total{{{seriesSelector}}}";
        return sli switch
        {
            Sli.RequestCount => $"sum(increase({all}[{{{{window}}}}]))",
            Sli.LatencyP95 =>
                $"histogram_quantile(0.95, sum by (le) (rate(gru_request_duration_seconds_bucket{{{seriesSelector}}}[{{{{window}}}}])))",
            Sli.ErrorRate =>
                $"(sum(rate(gru_requests_total{{{seriesSelector},code=~\"5..\"}}[{{{{window}}}}])) or vector(0)) / sum(rate({all}[{{{{window}}}}]))",
            Sli.InputSchemaErrorRate =>
                $"(sum(rate(gru_input_schema_errors_total{{{seriesSelector}}}[{{{{window}}}}])) or vector(0)) / sum(rate({all}[{{{{window}}}}]))",
            _ => throw new ArgumentOutOfRangeException(nameof(sli), sli, "unknown SLI"),
        };
    }
}
