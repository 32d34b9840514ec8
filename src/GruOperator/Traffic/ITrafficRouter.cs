using GruOperator.Api;

namespace GruOperator.Traffic;

/// <summary>
/// Writes exact canary weights where traffic is split by a router rather than by replica counts
/// (<c>spec.rollout.canary.trafficRouting.gatewayAPI</c>: the named HTTPRoute's backendRefs). The rollout calls it for
/// every <c>SetTrafficWeights</c> action, the one call site in <see cref="Rollout.RolloutExecutor"/>.
/// </summary>
internal interface ITrafficRouter
{
    /// <summary>Sends <paramref name="stable"/>% of the model's traffic to stable and <paramref name="canary"/>% to the canary.</summary>
    Task SetWeightsAsync(GruModel model, int stable, int canary, CancellationToken cancellationToken);
}

/// <summary>
/// Replica-weighted routing: one Service spans both tracks, so the split is already what the ready replica counts give
/// and there is nothing to write. The Gateway API HTTPRoute writer replaces this registration (OperatorHost); until then
/// <see cref="Reconciliation.SpecValidator"/> refuses trafficRouting.gatewayAPI rather than accept a field that does nothing.
/// </summary>
internal sealed class ReplicaTrafficRouter : ITrafficRouter
{
    public Task SetWeightsAsync(GruModel model, int stable, int canary, CancellationToken cancellationToken) => Task.CompletedTask;
}
