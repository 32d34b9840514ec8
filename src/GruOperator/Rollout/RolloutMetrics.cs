using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using GruOperator.Domain.Analysis;
using GruOperator.Domain.Rollout;

namespace GruOperator.Rollout;

/// <summary>
/// The operator's rollout metrics: canary weights per model (asked and effective), analysis runs by verdict, rollouts by
/// outcome. Counted from decisions whose status was written, so a transition counts once even when a reconcile repeats.
/// </summary>
internal sealed class RolloutMetrics
{
    /// <summary>The meter name to export (OperatorHost adds it to OpenTelemetry).</summary>
    public const string MeterName = "GruOperator.Rollout";

    private readonly Counter<long> _analysisRuns;
    private readonly Counter<long> _rollouts;
    private readonly ConcurrentDictionary<(string Namespace, string Model), (int Asked, int Effective)> _weights = new();

    public RolloutMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _analysisRuns = meter.CreateCounter<long>("gru_operator_analysis_runs_total", description: "Canary analysis runs recorded, by verdict (Passed, Failed, Inconclusive).");
        _rollouts = meter.CreateCounter<long>("gru_operator_rollouts_total", description: "Canary rollouts by outcome (Started, Promoted, RolledBack, Aborted, Superseded).");
        meter.CreateObservableGauge("gru_operator_canary_weight", ObserveWeights, unit: "%",
            description: "Canary traffic weight per model: asked (the step's) and effective (what ready pods or the route really give).");
        foreach (var verdict in Enum.GetNames<Verdict>()) _analysisRuns.Add(0, new KeyValuePair<string, object?>("verdict", verdict));
        foreach (var outcome in Outcomes.Values) _rollouts.Add(0, new KeyValuePair<string, object?>("outcome", outcome));
    }

    private static readonly Dictionary<string, string> Outcomes = new(StringComparer.Ordinal)
    {
        [RolloutReasons.CanaryStarted] = "Started",
        [RolloutReasons.Promoted] = "Promoted",
        [RolloutReasons.RolledBack] = "RolledBack",
        [RolloutReasons.Aborted] = "Aborted",
        [RolloutReasons.Superseded] = "Superseded",
    };

    /// <summary>Counts what <paramref name="decision"/> did, once its status is written.</summary>
    public void Record(string @namespace, string model, RolloutDecision decision)
    {
        if (decision.RecordedRun is { } run) _analysisRuns.Add(1, new KeyValuePair<string, object?>("verdict", run.Verdict.ToString()));
        foreach (var e in decision.Actions.OfType<RecordEvent>())
        {
            if (Outcomes.TryGetValue(e.Reason, out var outcome)) _rollouts.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
        }
        if (decision.Status.Canary is { } canary) _weights[(@namespace, model)] = (canary.Weight, canary.EffectiveWeight);
        else _weights.TryRemove((@namespace, model), out _);
    }

    /// <summary>Forgets a deleted model's weight series.</summary>
    public void Forget(string @namespace, string model) => _weights.TryRemove((@namespace, model), out _);

    private IEnumerable<Measurement<int>> ObserveWeights()
    {
        foreach (var ((ns, model), (asked, effective)) in _weights)
        {
            yield return new Measurement<int>(asked, new("namespace", ns), new("model", model), new("weight", "asked"));
            yield return new Measurement<int>(effective, new("namespace", ns), new("model", model), new("weight", "effective"));
        }
    }
}
