using GruOperator.Api;

namespace GruOperator.Traffic;

/// <summary>Realises a canary's traffic split: exact shares for the stable and canary tracks of one GruModel.</summary>
internal interface ITrafficRouter
{
    /// <summary>
    /// Sends <paramref name="stable"/> and <paramref name="canary"/> percent of <paramref name="model"/>'s traffic to its
    /// two tracks. Idempotent: calling it again with the same weights changes nothing.
    /// </summary>
    /// <exception cref="TrafficRoutingException">The split cannot be written; its reason and message are ready for a condition or Event.</exception>
    Task SetWeightsAsync(GruModel model, int stable, int canary, CancellationToken cancellationToken);
}
