using System.Globalization;
using System.Text.Json.Nodes;
using GruOperator.Api;
using GruOperator.Providers.Prometheus;
using GruOperator.Serving;
using GruServing.Contract.Durations;

namespace GruOperator.Alerting;

/// <summary>
/// The PrometheusRule the operator keeps for one GruModel: multiwindow, multi-burn-rate alerts (the SRE workbook's
/// 14.4x over 1h/5m and 6x over 6h/30m of a 30-day budget) on the model's own <c>spec.slo</c>. Pure.
/// </summary>
/// <remarks>
/// Alert names and labels (alertname, namespace, model, severity) are those of the shipped config/prometheus rules, so a
/// cluster running both gets one alert per condition from Alertmanager, not two. Selectors use the serving pods'
/// labels: <c>namespace</c> from the PodMonitor and GruServer's <c>model</c>, which is <c>spec.model.name</c>.
/// The latency objective is "latencyP95 of requests are faster than the threshold": its budget is the 5% slower ones,
/// counted exactly from the histogram bucket whose bound is the threshold (GruServer adds the SLO thresholds to its
/// bounds); when that bucket is absent, GruModelLatencySliMissing says so instead of the latency alerts staying silent.
/// </remarks>
internal static class SloAlertRules
{
    public const string ApiVersion = "monitoring.coreos.com/v1";
    public const string Kind = "PrometheusRule";

    /// <summary>The share of requests a p95 objective allows above the threshold.</summary>
    private const string LatencyBudget = "0.05";

    /// <summary>A latency threshold spelled as GruServer's <c>le</c> bucket label (200ms is "0.2"), the label the rules join on.</summary>
    public static string BucketBound(TimeSpan latency) => latency.TotalSeconds.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>The PrometheusRule's name for a GruModel.</summary>
    public static string Name(string model) => model + "-slo";

    /// <summary>The desired PrometheusRule for <paramref name="model"/>, owned by it.</summary>
    public static JsonObject Build(GruModel model, string managedBy)
    {
        var ns = model.Metadata.NamespaceProperty;
        var slo = model.Spec.Slo ?? new SloSpec();
        // Escaped, not trusted to the CRD's patterns: a name that closes the string would rewrite the alert expression.
        var selector = $"namespace={PromQlLabelValue.Quote(ns)},model={PromQlLabelValue.Quote(model.Spec.Model.Name)}";
        if (!double.TryParse(slo.ErrorRate, NumberStyles.Float, CultureInfo.InvariantCulture, out var errorRate) || !(errorRate is >= 0 and <= 1))
        {
            throw new ArgumentException($"spec.slo.errorRate '{slo.ErrorRate}' must be a fraction between 0 and 1, e.g. \"0.01\"", nameof(model));
        }
        var errorObjective = errorRate.ToString("R", CultureInfo.InvariantCulture);
        if (!GoDuration.TryParse(slo.LatencyP95, out var latency, out var why))
        {
            throw new ArgumentException($"spec.slo.latencyP95 '{slo.LatencyP95}' {why}", nameof(model));
        }
        var threshold = BucketBound(latency);
        var owner = ServingWorkloadBuilder.OwnerReference(model);

        JsonObject Alert(string name, string expr, string @for, string severity, string summary, string description) => new()
        {
            ["alert"] = name,
            ["expr"] = expr,
            ["for"] = @for,
            ["labels"] = new JsonObject { ["severity"] = severity },
            ["annotations"] = new JsonObject { ["summary"] = summary, ["description"] = description },
        };

        string ErrorRatio(string window) =>
            $"sum by (namespace, model) (rate(gru_requests_total{{{selector},code=~\"5..\"}}[{window}]))\n" +
            $"/ sum by (namespace, model) (rate(gru_requests_total{{{selector}}}[{window}]))";

        string SlowRatio(string window) =>
            $"1 - (sum by (namespace, model) (rate(gru_request_duration_seconds_bucket{{{selector},le=\"{threshold}\"}}[{window}]))\n" +
            $"/ sum by (namespace, model) (rate(gru_request_duration_seconds_count{{{selector}}}[{window}])))";

        string Burn(Func<string, string> ratio, string objective, string factor, string longWindow, string shortWindow) =>
            $"(\n{ratio(longWindow)}\n) > ({factor} * {objective})\nand\n(\n{ratio(shortWindow)}\n) > ({factor} * {objective})";

        var id = $"GruModel {ns}/{model.Metadata.Name}";
        var rules = new JsonArray
        {
            Alert("GruModelErrorBudgetBurnFast", Burn(ErrorRatio, errorObjective, "14.4", "1h", "5m"), "2m", "critical",
                $"{id} burns its error budget 14.4x too fast",
                $"{{{{ $value | humanizePercentage }}}} of infer requests answered 5xx over the last hour and the last 5 minutes, against spec.slo.errorRate {errorObjective}: the 30-day budget is gone in about 2 days at this rate."),
            Alert("GruModelErrorBudgetBurnSlow", Burn(ErrorRatio, errorObjective, "6", "6h", "30m"), "15m", "critical",
                $"{id} burns its error budget 6x too fast",
                $"{{{{ $value | humanizePercentage }}}} of infer requests answered 5xx over the last 6 hours and the last 30 minutes, against spec.slo.errorRate {errorObjective}: the 30-day budget is gone in 5 days at this rate."),
            Alert("GruModelLatencyBudgetBurnFast", Burn(SlowRatio, LatencyBudget, "14.4", "1h", "5m"), "2m", "critical",
                $"{id} is slower than its latency objective for far too many requests",
                $"{{{{ $value | humanizePercentage }}}} of infer requests took longer than spec.slo.latencyP95 {slo.LatencyP95} over the last hour and the last 5 minutes; the objective allows 5%. Look for a slow canary, saturated GPUs or a queue building up (gru_queue_depth)."),
            Alert("GruModelLatencyBudgetBurnSlow", Burn(SlowRatio, LatencyBudget, "6", "6h", "30m"), "15m", "critical",
                $"{id} is slower than its latency objective for too many requests",
                $"{{{{ $value | humanizePercentage }}}} of infer requests took longer than spec.slo.latencyP95 {slo.LatencyP95} over the last 6 hours and the last 30 minutes; the objective allows 5%."),
            Alert("GruModelLatencySliMissing",
                $"sum by (namespace, model) (rate(gru_request_duration_seconds_count{{{selector}}}[10m])) > 0\n" +
                $"unless on (namespace, model)\nsum by (namespace, model) (gru_request_duration_seconds_bucket{{{selector},le=\"{threshold}\"}})",
                "15m", "warning",
                $"{id}: the latency SLO cannot be measured",
                $"The serving pods answer requests but export no latency bucket at spec.slo.latencyP95 {slo.LatencyP95} (le=\"{threshold}\"), so the latency burn-rate alerts cannot fire. Serving pods started before the objective changed keep the old bounds until they are replaced."),
        };

        return new JsonObject
        {
            ["apiVersion"] = ApiVersion,
            ["kind"] = Kind,
            ["metadata"] = new JsonObject
            {
                ["name"] = Name(model.Metadata.Name),
                ["namespace"] = ns,
                ["labels"] = new JsonObject
                {
                    [Labels.Name] = "gru-operator",
                    [Labels.ManagedBy] = managedBy,
                    [Labels.Model] = model.Metadata.Name,
                },
                ["ownerReferences"] = new JsonArray
                {
                    new JsonObject
                    {
                        ["apiVersion"] = owner.ApiVersion,
                        ["kind"] = owner.Kind,
                        ["name"] = owner.Name,
                        ["uid"] = owner.Uid,
                        ["controller"] = true,
                        ["blockOwnerDeletion"] = true,
                    },
                },
            },
            ["spec"] = new JsonObject
            {
                ["groups"] = new JsonArray
                {
                    new JsonObject { ["name"] = $"gru-slo/{ns}/{model.Metadata.Name}", ["rules"] = rules },
                },
            },
        };
    }
}
