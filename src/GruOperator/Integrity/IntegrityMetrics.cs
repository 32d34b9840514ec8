using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace GruOperator.Integrity;

/// <summary>The operator's integrity metric: gru_operator_served_model_mismatches{namespace, model}.</summary>
internal sealed class IntegrityMetrics
{
    /// <summary>The meter name to export.</summary>
    public const string MeterName = "GruOperator.Integrity";

    private readonly ConcurrentDictionary<(string Namespace, string Model), int> _mismatches = new();

    public IntegrityMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        meter.CreateObservableGauge("gru_operator_served_model_mismatches", Observe,
            description: "Ready pods whose served model digest differs from the pinned one, at the last integrity check.");
    }

    /// <summary>Records the mismatches of the latest check of a model.</summary>
    public void Record(string @namespace, string model, int mismatches) => _mismatches[(@namespace, model)] = mismatches;

    /// <summary>The value last recorded for a model (tests and logs).</summary>
    public int Mismatches(string @namespace, string model) => _mismatches.TryGetValue((@namespace, model), out var n) ? n : 0;

    /// <summary>Drops a deleted model's series.</summary>
    public void Forget(string @namespace, string model) => _mismatches.TryRemove((@namespace, model), out _);

    private IEnumerable<Measurement<int>> Observe() =>
        _mismatches.Select(e => new Measurement<int>(e.Value,
            new KeyValuePair<string, object?>("namespace", e.Key.Namespace), new KeyValuePair<string, object?>("model", e.Key.Model)));
}
