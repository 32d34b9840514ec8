using System.Diagnostics.Metrics;
using System.Globalization;
using ControllerRuntime.Informers;
using GruOperator.Api;
using GruServing.Contract.Durations;

namespace GruOperator.Alerting;

/// <summary>
/// <c>gru_operator_slo_objective{namespace, model, objective[, le]}</c>: each GruModel's <c>spec.slo</c> numbers, so the
/// shipped config/prometheus rules and the dashboard judge every model against its own objectives. Read from the GruModel
/// cache at scrape time: always the spec the operator sees, nothing to forget when a model goes.
/// </summary>
internal sealed class SloObjectiveMetrics
{
    /// <summary>The meter name to export (OperatorHost adds it to OpenTelemetry).</summary>
    public const string MeterName = "GruOperator.Slo";

    public SloObjectiveMetrics(IMeterFactory meterFactory, ResourceCache<GruModel> models)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        meter.CreateObservableGauge("gru_operator_slo_objective", () => Observe(models.List(null)),
            description: "Each GruModel's spec.slo: latencyP95 in seconds (label le: the GruServer histogram bucket that counts it), errorRate and inputSchemaErrorRate as fractions.");
    }

    /// <summary>The objectives of <paramref name="models"/>; a value that does not parse (the CRD's patterns refuse it) is left out.</summary>
    internal static List<Measurement<double>> Observe(IEnumerable<GruModel> models)
    {
        var measurements = new List<Measurement<double>>();
        foreach (var model in models)
        {
            var slo = model.Spec?.Slo ?? new SloSpec();
            KeyValuePair<string, object?>[] Labels(string objective) =>
                [new("namespace", model.Metadata.NamespaceProperty), new("model", model.Metadata.Name), new("objective", objective)];
            if (GoDuration.TryParse(slo.LatencyP95, out var latency, out _))
            {
                measurements.Add(new(latency.TotalSeconds, [.. Labels("latencyP95"), new("le", SloAlertRules.BucketBound(latency))]));
            }
            foreach (var (objective, text) in new[] { ("errorRate", slo.ErrorRate), ("inputSchemaErrorRate", slo.InputSchemaErrorRate) })
            {
                if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)) measurements.Add(new(value, Labels(objective)));
            }
        }
        return measurements;
    }
}
