using System.Collections.Concurrent;
using GruOperator.Api;
using GruOperator.Domain.Rollout;
using GruOperator.Rollout;

namespace GruOperator.Integrity;

/// <summary>
/// The promotion gate the rollout consumes (<see cref="RolloutInput.Gate"/>): open only when the latest integrity check
/// of the model found ready canary pods and verified every one of them. Checks run every verifyInterval and at once when
/// the ready pods change, so the latest one covers a canary pod as soon as it is ready. Kept per model in memory: after
/// an operator restart the gate is closed until the first check, the safe side.
/// </summary>
internal sealed class CanaryPromotionGate : IPromotionGateSource
{
    private static readonly PromotionGate NotChecked = new(false, "the canary's served models have not been checked yet");
    private readonly ConcurrentDictionary<(string Namespace, string Model), PromotionGate> _gates = new();

    /// <summary>Records the gate a check implies (called by the verifier after every check).</summary>
    public void Record(string @namespace, string model, ServedModelReport report) => _gates[(@namespace, model)] = report.CanaryGate();

    /// <summary>The gate for the model's canary, from its latest check.</summary>
    public PromotionGate For(string @namespace, string model) => _gates.TryGetValue((@namespace, model), out var gate) ? gate : NotChecked;

    /// <inheritdoc/>
    public ValueTask<PromotionGate> GateAsync(GruModel model, ModelIdentity canary, CancellationToken cancellationToken) =>
        ValueTask.FromResult(For(model.Metadata.NamespaceProperty, model.Metadata.Name));

    /// <summary>Forgets a deleted model.</summary>
    public void Forget(string @namespace, string model) => _gates.TryRemove((@namespace, model), out _);
}
