using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using GruOperator.Domain.Analysis;
using GruOperator.Domain.Rollout;

namespace GruOperator.Rollout;

/// <summary>
/// The operator's rollout metrics, per model (labels <c>namespace</c>, <c>model</c>, as config/prometheus and the
/// dashboard read them): the canary weight asked and effective, analysis runs by verdict, rollouts by outcome. Counted
/// from decisions whose status was written, so a transition counts once even when a reconcile repeats; every series is
/// created at 0 the first time a model is reconciled, so a dashboard shows zero rather than no data.
/// </summary>
internal sealed class RolloutMetrics
{
    /// <summary>The meter name to export (OperatorHost adds it to OpenTelemetry).</summary>
    public const string MeterName = "GruOperator.Rollout";

    private static readonly Dictionary<string, string> Outcomes = new(StringComparer.Ordinal)
    {
        [RolloutReasons.CanaryStarted] = "Started",
        [RolloutReasons.Promoted] = "Promoted",
        [RolloutReasons.RolledBack] = "RolledBack",
        [RolloutReasons.Aborted] = "Aborted",
        [RolloutReasons.Superseded] = "Superseded",
    };

    private readonly Counter<long> _analysisRuns;
    private readonly Counter<long> _rollouts;
    private readonly ConcurrentDictionary<(string Namespace, string Model), (int Asked, int Effective)> _weights = new();

    public RolloutMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _analysisRuns = meter.CreateCounter<long>("gru_operator_analysis_runs_total", description: "Canary analysis runs recorded, by verdict (Passed, Failed, Inconclusive).");
        _rollouts = meter.CreateCounter<long>("gru_operator_rollouts_total", description: "Canary rollouts by outcome (Started, Promoted, RolledBack, Aborted, Superseded).");
        meter.CreateObservableGauge("gru_operator_canary_weight", () => Observe(w => w.Asked),
            description: "Traffic weight the canary's step asks for, in percent; 0 without a canary.");
        meter.CreateObservableGauge("gru_operator_canary_effective_weight", () => Observe(w => w.Effective),
            description: "Traffic weight the canary really gets (its share of ready pods, or the route's weight), in percent; 0 without a canary.");
    }

    /// <summary>Counts what <paramref name="decision"/> did for the model, once its status is written.</summary>
    public void Record(string @namespace, string model, RolloutDecision decision)
    {
        var ns = new KeyValuePair<string, object?>("namespace", @namespace);
        var name = new KeyValuePair<string, object?>("model", model);
        if (!_weights.ContainsKey((@namespace, model)))
        {
            foreach (var verdict in Enum.GetNames<Verdict>()) _analysisRuns.Add(0, ns, name, new("verdict", verdict));
            foreach (var outcome in Outcomes.Values) _rollouts.Add(0, ns, name, new("outcome", outcome));
        }
        if (decision.RecordedRun is { } run) _analysisRuns.Add(1, ns, name, new("verdict", run.Verdict.ToString()));
        foreach (var e in decision.Actions.OfType<RecordEvent>())
        {
            if (Outcomes.TryGetValue(e.Reason, out var outcome)) _rollouts.Add(1, ns, name, new("outcome", outcome));
        }
        _weights[(@namespace, model)] = decision.Status.Canary is { } canary ? (canary.Weight, canary.EffectiveWeight) : (0, 0);
    }

    /// <summary>Drops a deleted model's weight series.</summary>
    public void Forget(string @namespace, string model) => _weights.TryRemove((@namespace, model), out _);

    private List<Measurement<int>> Observe(Func<(int Asked, int Effective), int> pick) =>
        [.. _weights.Select(w => new Measurement<int>(pick(w.Value), new("namespace", w.Key.Namespace), new("model", w.Key.Model)))];
}
