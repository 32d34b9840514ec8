namespace GruOperator.Domain.Rollout;

/// <summary>Desired pod counts of the two tracks at a canary weight.</summary>
public sealed record ReplicaSplit(int Stable, int Canary);

/// <summary>
/// Canary arithmetic (after Argo Rollouts' utils/replicaset/canary.go): how many pods each track runs for a weight,
/// and what weight the ready pods really give. Pure; every rule has a worked example.
/// </summary>
public static class CanaryReplicaMath
{
    /// <summary>
    /// Pods per track for <paramref name="weight"/>% of <paramref name="replicas"/> (spec.serving.replicas).
    /// A canary with weight above 0 always has a pod, and stable keeps one while the weight is below 100: the canary
    /// is never judged on no traffic and stable never stops serving before promotion. So with 1 replica and
    /// surge false the canary still takes one pod of its own.
    /// <list type="bullet">
    /// <item>Replicas routing, surge true: stable keeps all its pods and the canary gets the count whose share of the
    /// ready pods is nearest the weight, at most as many as stable; past 50% stable gives pods up instead.
    /// 10 replicas: 10% → 10+1 (9%), 50% → 10+10, 90% → 1+10 (91%). 3 replicas at 10% → 3+1 (25%).</item>
    /// <item>Replicas routing, surge false: the canary's pods come out of stable's count.
    /// 10 replicas: 10% → 9+1, 50% → 5+5. 3 replicas at 10% → 2+1 (33%). 1 replica at 10% → 1+1.</item>
    /// <item>Gateway API: weights are exact, so the canary gets the pods its share of the load needs (rounded up) and
    /// stable keeps all of them (surge) or the rest. 10 replicas at 10% → 10+1 (surge) or 9+1.</item>
    /// <item>Weight 0 → no canary pods; weight 100 → all pods on the canary, none on stable (surge false or replicas
    /// routing) or all kept (Gateway API with surge).</item>
    /// </list>
    /// </summary>
    public static ReplicaSplit Split(int replicas, int weight, bool surge, TrafficRouter router)
    {
        if (replicas < 0) throw new ArgumentOutOfRangeException(nameof(replicas), replicas, "replicas must not be negative");
        if (weight is < 0 or > 100) throw new ArgumentOutOfRangeException(nameof(weight), weight, "weight must be within 0..100");
        if (replicas == 0 || weight == 0) return new(replicas, 0);

        if (router == TrafficRouter.GatewayApi)
        {
            var needed = Math.Clamp(CeilingShare(replicas, weight), 1, replicas);
            var rest = weight == 100 ? 0 : Math.Max(replicas - needed, 1);
            return new(surge ? replicas : rest, needed);
        }

        if (weight == 100) return new(0, replicas);
        if (!surge)
        {
            var canary = Math.Max(Round(replicas * weight / 100.0), 1);
            return replicas == 1 ? new(1, 1) : new(replicas - Math.Min(canary, replicas - 1), Math.Min(canary, replicas - 1));
        }

        // With surge the split keeps the larger track at `replicas`: the smaller one is sized so that its share of
        // all ready pods is nearest the weight.
        return weight <= 50
            ? new(replicas, Nearest(replicas, weight))
            : new(Nearest(replicas, 100 - weight), replicas);
    }

    /// <summary>
    /// The weight ready pods give under replicas routing: the canary's share of all ready pods, rounded to a whole
    /// percent (1 of 3 → 33, 2 of 3 → 67); 0 when nothing is ready.
    /// </summary>
    public static int EffectiveWeight(int stableReady, int canaryReady)
    {
        var total = Math.Max(stableReady, 0) + Math.Max(canaryReady, 0);
        return total == 0 ? 0 : Round(100.0 * Math.Max(canaryReady, 0) / total);
    }

    /// <summary>The pod count n in 1..replicas whose share n/(replicas+n) is nearest <paramref name="weight"/>%; the smaller on a tie.</summary>
    private static int Nearest(int replicas, int weight)
    {
        var exact = replicas * weight / (100.0 - weight);
        var low = Math.Clamp((int)Math.Floor(exact), 1, replicas);
        var high = Math.Clamp(low + 1, 1, replicas);
        double Miss(int n) => Math.Abs(100.0 * n / (replicas + n) - weight);
        return Miss(high) < Miss(low) ? high : low;
    }

    private static int Round(double value) => (int)Math.Round(value, MidpointRounding.AwayFromZero);

    private static int CeilingShare(int replicas, int weight) => (replicas * weight + 99) / 100;
}
