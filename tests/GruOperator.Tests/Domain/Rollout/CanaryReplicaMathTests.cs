using GruOperator.Domain.Rollout;

namespace GruOperator.Tests.Domain.Rollout;

public sealed class CanaryReplicaMathTests
{
    /// <summary>Replicas routing: pods per track and the weight the ready pods give, for small replica counts.</summary>
    public static TheoryData<int, int, bool, int, int, int> ReplicaRows => new()
    {
        // replicas, weight, surge → stable, canary, effective weight
        { 1, 10, true, 1, 1, 50 }, { 1, 50, true, 1, 1, 50 }, { 1, 90, true, 1, 1, 50 }, { 1, 100, true, 0, 1, 100 },
        { 2, 10, true, 2, 1, 33 }, { 2, 25, true, 2, 1, 33 }, { 2, 50, true, 2, 2, 50 }, { 2, 90, true, 1, 2, 67 },
        { 3, 10, true, 3, 1, 25 }, { 3, 25, true, 3, 1, 25 }, { 3, 50, true, 3, 3, 50 }, { 3, 90, true, 1, 3, 75 },
        { 5, 10, true, 5, 1, 17 }, { 5, 25, true, 5, 2, 29 }, { 5, 50, true, 5, 5, 50 }, { 5, 90, true, 1, 5, 83 },
        { 10, 10, true, 10, 1, 9 }, { 10, 25, true, 10, 3, 23 }, { 10, 50, true, 10, 10, 50 }, { 10, 90, true, 1, 10, 91 }, { 10, 100, true, 0, 10, 100 },
        { 1, 10, false, 1, 1, 50 }, { 1, 50, false, 1, 1, 50 }, { 1, 100, false, 0, 1, 100 },
        { 2, 10, false, 1, 1, 50 }, { 2, 50, false, 1, 1, 50 }, { 2, 90, false, 1, 1, 50 },
        { 3, 10, false, 2, 1, 33 }, { 3, 25, false, 2, 1, 33 }, { 3, 50, false, 1, 2, 67 }, { 3, 90, false, 1, 2, 67 },
        { 5, 10, false, 4, 1, 20 }, { 5, 25, false, 4, 1, 20 }, { 5, 50, false, 2, 3, 60 }, { 5, 90, false, 1, 4, 80 },
        { 10, 10, false, 9, 1, 10 }, { 10, 25, false, 7, 3, 30 }, { 10, 50, false, 5, 5, 50 }, { 10, 90, false, 1, 9, 90 },
        { 10, 0, true, 10, 0, 0 }, { 10, 0, false, 10, 0, 0 }, { 0, 50, true, 0, 0, 0 },
    };

    [Theory]
    [MemberData(nameof(ReplicaRows))]
    public void Replicas_routing_splits_pods_and_reports_what_they_serve(int replicas, int weight, bool surge, int stable, int canary, int effective)
    {
        var split = CanaryReplicaMath.Split(replicas, weight, surge, TrafficRouter.Replicas);

        Assert.Equal(new ReplicaSplit(stable, canary), split);
        Assert.Equal(effective, CanaryReplicaMath.EffectiveWeight(split.Stable, split.Canary));
    }

    public static TheoryData<int, int, bool, int, int> GatewayRows => new()
    {
        // replicas, weight, surge → stable, canary: the canary gets the pods its exact share of the load needs
        { 1, 10, true, 1, 1 }, { 1, 10, false, 1, 1 }, { 1, 100, false, 0, 1 }, { 1, 100, true, 1, 1 },
        { 3, 10, true, 3, 1 }, { 3, 10, false, 2, 1 }, { 3, 50, true, 3, 2 }, { 3, 50, false, 1, 2 },
        { 10, 25, true, 10, 3 }, { 10, 25, false, 7, 3 }, { 10, 90, false, 1, 9 }, { 10, 100, false, 0, 10 },
    };

    [Theory]
    [MemberData(nameof(GatewayRows))]
    public void Gateway_routing_sizes_the_canary_for_its_share(int replicas, int weight, bool surge, int stable, int canary) =>
        Assert.Equal(new ReplicaSplit(stable, canary), CanaryReplicaMath.Split(replicas, weight, surge, TrafficRouter.GatewayApi));

    [Theory]
    [InlineData(3, 1, 25)]
    [InlineData(2, 1, 33)]
    [InlineData(1, 2, 67)]
    [InlineData(0, 0, 0)]
    [InlineData(0, 3, 100)]
    [InlineData(3, 0, 0)]
    public void Effective_weight_is_the_canarys_share_of_ready_pods(int stableReady, int canaryReady, int expected) =>
        Assert.Equal(expected, CanaryReplicaMath.EffectiveWeight(stableReady, canaryReady));

    public static TheoryData<bool, TrafficRouter> Modes => new()
    {
        { true, TrafficRouter.Replicas }, { false, TrafficRouter.Replicas }, { true, TrafficRouter.GatewayApi }, { false, TrafficRouter.GatewayApi },
    };

    [Theory]
    [MemberData(nameof(Modes))]
    public void Every_split_keeps_its_promises(bool surge, TrafficRouter router)
    {
        for (var replicas = 1; replicas <= 12; replicas++)
        {
            var previous = -1;
            for (var weight = 0; weight <= 100; weight++)
            {
                var split = CanaryReplicaMath.Split(replicas, weight, surge, router);
                var at = $"{replicas} replicas at {weight}% (surge {surge}, {router}): {split}";
                Assert.True(weight == 0 ? split.Canary == 0 : split.Canary >= 1, "a canary with traffic has a pod; " + at);
                Assert.True(weight == 100 || split.Stable >= 1, "stable keeps a pod until 100%; " + at);
                Assert.True(split.Canary <= replicas && split.Stable <= replicas, "no track exceeds the replicas asked for; " + at);
                if (router == TrafficRouter.Replicas)
                {
                    if (!surge && replicas > 1) Assert.True(split.Stable + split.Canary == replicas, "surge false adds no pod; " + at);
                    var effective = CanaryReplicaMath.EffectiveWeight(split.Stable, split.Canary);
                    Assert.True(effective >= previous, "more weight never means less canary traffic; " + at);
                    previous = effective;
                    if (surge && weight is > 0 and <= 50)
                    {
                        // The canary count is the one whose share is nearest the weight.
                        var best = Enumerable.Range(1, replicas).Min(c => Math.Abs(100.0 * c / (replicas + c) - weight));
                        Assert.True(Math.Abs(100.0 * split.Canary / (replicas + split.Canary) - weight) <= best + 1e-9, "nearest achievable weight; " + at);
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData(-1, 10)]
    [InlineData(3, -1)]
    [InlineData(3, 101)]
    public void Impossible_inputs_are_refused(int replicas, int weight) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => CanaryReplicaMath.Split(replicas, weight, true, TrafficRouter.Replicas));
}
