using GruOperator.Api;
using GruOperator.Domain.Rollout;

namespace GruOperator.Rollout;

/// <summary>
/// Says whether a canary may be promoted: the served-model verification (integrity) plugs in here. The gate closes an
/// automatic promotion and a manual <c>promote</c> alike.
/// </summary>
internal interface IPromotionGateSource
{
    /// <summary>The gate for promoting the canary of <paramref name="model"/> that serves <paramref name="canary"/>.</summary>
    ValueTask<PromotionGate> GateAsync(GruModel model, ModelIdentity canary, CancellationToken cancellationToken);
}

/// <summary>--verify-served-models=false: no served-model check runs, so the gate is open and says so (<see cref="PromotionGate.Unchecked"/>).</summary>
internal sealed class UncheckedPromotionGate : IPromotionGateSource
{
    public ValueTask<PromotionGate> GateAsync(GruModel model, ModelIdentity canary, CancellationToken cancellationToken) =>
        ValueTask.FromResult(PromotionGate.Unchecked);
}
