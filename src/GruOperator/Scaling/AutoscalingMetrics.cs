using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using GruOperator.Domain.Scaling;

namespace GruOperator.Scaling;

/// <summary>
/// The autoscaler's metrics per model (labels <c>namespace</c>, <c>model</c>): the count it chose, the load it read and
/// its target, and scales by direction. Recorded from decisions whose status was written, so a scale counts once.
/// </summary>
internal sealed class AutoscalingMetrics
{
    /// <summary>The meter name to export (OperatorHost adds it to OpenTelemetry).</summary>
    public const string MeterName = "GruOperator.Autoscaling";

    private readonly Counter<long> _scales;
    private readonly ConcurrentDictionary<(string Namespace, string Model), (int Desired, double? Value, double Target)> _models = new();

    public AutoscalingMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _scales = meter.CreateCounter<long>("gru_operator_autoscaling_scales_total", description: "Replica count changes the autoscaler made, by direction (up, down).");
        meter.CreateObservableGauge("gru_operator_autoscaling_desired_replicas", () => Observe(m => m.Desired),
            description: "Replicas the autoscaler chose for the whole model (spec.serving.autoscaling).");
        meter.CreateObservableGauge("gru_operator_autoscaling_metric_value", () => Observe(m => m.Value),
            description: "The per-pod load the autoscaler last read (requests in flight, or queue wait in seconds); absent while it has no value.");
        meter.CreateObservableGauge("gru_operator_autoscaling_target_value", () => Observe(m => m.Target),
            description: "The per-pod target (requests in flight, or queue wait in seconds).");
    }

    /// <summary>Records a decision once its status is written.</summary>
    public void Record(string @namespace, string model, AutoscalingDecision decision, AutoscalingPolicy policy, double? value)
    {
        var ns = new KeyValuePair<string, object?>("namespace", @namespace);
        var name = new KeyValuePair<string, object?>("model", model);
        if (!_models.ContainsKey((@namespace, model)))
        {
            _scales.Add(0, ns, name, new("direction", "up"));
            _scales.Add(0, ns, name, new("direction", "down"));
        }
        if (decision.Scaled) _scales.Add(1, ns, name, new("direction", decision.Replicas > decision.From ? "up" : "down"));
        _models[(@namespace, model)] = (decision.Replicas, value, policy.Target);
    }

    /// <summary>Drops a model's series (deleted, or no longer autoscaled).</summary>
    public void Forget(string @namespace, string model) => _models.TryRemove((@namespace, model), out _);

    private List<Measurement<double>> Observe(Func<(int Desired, double? Value, double Target), double?> pick) =>
        [.. _models.Select(m => (m.Key, Value: pick(m.Value))).Where(m => m.Value is not null)
            .Select(m => new Measurement<double>(m.Value!.Value, new("namespace", m.Key.Namespace), new("model", m.Key.Model)))];
}
