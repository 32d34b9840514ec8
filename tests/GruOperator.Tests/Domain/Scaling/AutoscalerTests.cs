using GruOperator.Domain.Scaling;

namespace GruOperator.Tests.Domain.Scaling;

public sealed class AutoscalerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 8, 3, 0, 0, TimeSpan.Zero);

    private static AutoscalingPolicy Policy(int min = 1, int max = 10, double target = 4,
        ScalingRules? up = null, ScalingRules? down = null, ScalingMetric metric = ScalingMetric.InFlightRequests) =>
        new(min, max, metric, target, up ?? ScalingRules.DefaultUp, down ?? new ScalingRules(TimeSpan.Zero, 0, 100, TimeSpan.FromSeconds(15)));

    private static AutoscalingDecision Decide(AutoscalingPolicy policy, int current, double? observed, int unschedulable = 0, AutoscalingState? state = null, DateTimeOffset? now = null) =>
        Autoscaler.Decide(new AutoscalingInput(policy, state ?? AutoscalingState.Start(current), observed, unschedulable, now ?? T0));

    /// <summary>No windows, generous limits: the count is ceil(current × observed / target) within the bounds.</summary>
    public static TheoryData<int, double, int, string> RatioRows => new()
    {
        // current, observed per pod (target 4) → replicas, reason
        { 2, 8, 4, AutoscalingReasons.ScaledUp },          // load doubled
        { 3, 4.4, 3, AutoscalingReasons.WithinTolerance }, // +10%: tolerance
        { 3, 3.6, 3, AutoscalingReasons.WithinTolerance }, // −10%: tolerance
        { 3, 4.41, 4, AutoscalingReasons.ScaledUp },       // just past the tolerance: ceil(3.3075)
        { 4, 2, 2, AutoscalingReasons.ScaledDown },        // load halved
        { 4, 1, 1, AutoscalingReasons.ScaledDown },
        { 4, 0, 1, AutoscalingReasons.ScaledDown },        // no load: down to min, not 0
        { 3, 1.2, 1, AutoscalingReasons.ScaledDown },      // ceil(0.9) = 1 even though 3 × 0.3 is not exact in binary
        { 5, 40, 10, AutoscalingReasons.ScaledUp },        // 50 wanted, up to max 10 (rate limits are not what stops it)
        { 10, 40, 10, AutoscalingReasons.AtMaxReplicas },  // already at max
        { 1, 0, 1, AutoscalingReasons.AtMinReplicas },     // already at min
        { 12, 4, 10, AutoscalingReasons.ScaledDown },      // above max (maxReplicas lowered): into the bounds at once
    };

    [Theory]
    [MemberData(nameof(RatioRows))]
    public void Replicas_follow_the_ratio_of_load_to_target(int current, double observed, int replicas, string reason)
    {
        var decision = Decide(Policy(up: new ScalingRules(TimeSpan.Zero, 100, 1000, TimeSpan.FromSeconds(15))), current, observed);

        Assert.Equal(replicas, decision.Replicas);
        Assert.Equal(reason, decision.Reason);
        Assert.Equal(replicas != current, decision.Scaled);
        Assert.Equal(replicas, decision.State.Replicas);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(-1.0)]
    public void No_metric_holds_the_count_and_says_so(double? observed)
    {
        var decision = Decide(Policy(), 3, observed);

        Assert.Equal(3, decision.Replicas);
        Assert.Equal(AutoscalingReasons.NoMetric, decision.Reason);
        Assert.Null(decision.Recommended);
        Assert.Empty(decision.State.Recommendations);
        Assert.Contains("no value of inFlightRequests from Prometheus", decision.Message);
        Assert.False(decision.Scaled);
    }

    [Fact]
    public void No_metric_still_moves_a_count_outside_the_bounds_into_them()
    {
        var decision = Decide(Policy(min: 2, max: 5), 1, null);

        Assert.Equal(2, decision.Replicas);
        Assert.Equal(AutoscalingReasons.ScaledUp, decision.Reason);
        Assert.EndsWith("1 wanted; 1 → 2 (minReplicas 2).", decision.Message, StringComparison.Ordinal);
    }

    /// <summary>Scale-up rate limit: from the count at the period's start, +maxPods or +maxPercent, whichever allows more.</summary>
    public static TheoryData<int, int, int, int, int> UpLimitRows => new()
    {
        // current, wanted (observed = wanted × target / current), maxPods, maxPercent → replicas
        { 1, 10, 4, 100, 5 },   // +4 pods beats +100% (2)
        { 8, 30, 4, 100, 16 },  // +100% (16) beats +4 pods (12)
        { 2, 10, 1, 0, 3 },     // +1 pod only
        { 3, 10, 0, 50, 5 },    // ceil(4.5)
        { 2, 3, 4, 100, 3 },    // within the limit: not limited
    };

    [Theory]
    [MemberData(nameof(UpLimitRows))]
    public void Scale_up_is_rate_limited(int current, int wanted, int maxPods, int maxPercent, int replicas)
    {
        var policy = Policy(max: 100, up: new ScalingRules(TimeSpan.Zero, maxPods, maxPercent, TimeSpan.FromSeconds(15)));
        var decision = Decide(policy, current, 4.0 * wanted / current);

        Assert.Equal(replicas, decision.Replicas);
        Assert.Equal(replicas == wanted ? AutoscalingReasons.ScaledUp : AutoscalingReasons.RateLimited, decision.Reason);
    }

    [Fact]
    public void Scale_up_within_one_period_counts_from_the_periods_start()
    {
        var policy = Policy(max: 100, up: new ScalingRules(TimeSpan.Zero, 2, 0, TimeSpan.FromSeconds(15)));
        var first = Decide(policy, 2, 4.0 * 10 / 2);
        Assert.Equal(4, first.Replicas);

        // 10 s later the period (15 s) still holds the +2: no more room.
        var second = Decide(policy, 4, 4.0 * 10 / 4, state: first.State, now: T0.AddSeconds(10));
        Assert.Equal(4, second.Replicas);
        Assert.Equal(AutoscalingReasons.RateLimited, second.Reason);

        // Once the period has passed, another +2.
        var third = Decide(policy, 4, 4.0 * 10 / 4, state: second.State, now: T0.AddSeconds(15));
        Assert.Equal(6, third.Replicas);
        Assert.Equal(AutoscalingReasons.RateLimited, third.Reason);
        Assert.Equal(T0.AddSeconds(15), third.State.LastScaleTime);
    }

    public static TheoryData<int, int, int, int, int> DownLimitRows => new()
    {
        // current, wanted, maxPods, maxPercent → replicas
        { 10, 1, 0, 50, 5 },   // −50%
        { 10, 1, 2, 0, 8 },    // −2 pods
        { 10, 1, 2, 10, 8 },   // −2 pods beats −10% (ceil(9) = 9)
        { 10, 1, 0, 100, 1 },  // −100%: all the way
        { 3, 1, 0, 10, 3 },    // −10% of 3 rounds to no pod (HPA keeps ceil(2.7) = 3)
    };

    [Theory]
    [MemberData(nameof(DownLimitRows))]
    public void Scale_down_is_rate_limited(int current, int wanted, int maxPods, int maxPercent, int replicas)
    {
        var policy = Policy(max: 100, down: new ScalingRules(TimeSpan.Zero, maxPods, maxPercent, TimeSpan.FromMinutes(1)));
        var decision = Decide(policy, current, 4.0 * wanted / current);

        Assert.Equal(replicas, decision.Replicas);
    }

    [Fact]
    public void Scale_down_follows_the_highest_recommendation_of_its_window()
    {
        var policy = Policy(down: new ScalingRules(TimeSpan.FromSeconds(60), 0, 100, TimeSpan.FromSeconds(15)));
        // At 6 with load for 6, then the load drops: 2 is wanted but the window still holds 6.
        var state = Decide(policy, 6, 4).State;
        var dropped = Decide(policy, 6, 4.0 * 2 / 6, state: state, now: T0.AddSeconds(15));
        Assert.Equal(6, dropped.Replicas);
        Assert.Equal(AutoscalingReasons.ScaleDownStabilizing, dropped.Reason);
        Assert.Contains("scale-down window (1m)", dropped.Message);

        // A brief rise to 4 within the window: after 6 leaves it, 4 is the highest, then 2.
        var rise = Decide(policy, 6, 4.0 * 4 / 6, state: dropped.State, now: T0.AddSeconds(30));
        var low = Decide(policy, 6, 4.0 * 2 / 6, state: rise.State, now: T0.AddSeconds(45));
        Assert.Equal(6, low.Replicas);
        var past6 = Decide(policy, 6, 4.0 * 2 / 6, state: low.State, now: T0.AddSeconds(75));
        Assert.Equal(4, past6.Replicas);
        Assert.Equal(AutoscalingReasons.ScaledDown, past6.Reason);
        var past4 = Decide(policy, 4, 4.0 * 2 / 4, state: past6.State, now: T0.AddSeconds(105));
        Assert.Equal(2, past4.Replicas);
    }

    [Fact]
    public void Scale_up_follows_the_lowest_recommendation_of_its_window()
    {
        var policy = Policy(up: new ScalingRules(TimeSpan.FromSeconds(30), 10, 100, TimeSpan.FromSeconds(15)));
        var steady = Decide(policy, 2, 4);
        // A spike: the window still holds 2 (in effect at its start), so nothing moves yet.
        var spike = Decide(policy, 2, 8, state: steady.State, now: T0.AddSeconds(15));
        Assert.Equal(2, spike.Replicas);
        Assert.Equal(AutoscalingReasons.ScaleUpStabilizing, spike.Reason);
        Assert.Equal(4, spike.Recommended);
        // The spike passed: back to within tolerance, nothing ever moved.
        var gone = Decide(policy, 2, 4, state: spike.State, now: T0.AddSeconds(30));
        Assert.Equal(2, gone.Replicas);

        // A sustained rise: once the whole window wanted 4, up to 4.
        var rise = Decide(policy, 2, 8, state: gone.State, now: T0.AddSeconds(45));
        Assert.Equal(2, rise.Replicas);
        var held = Decide(policy, 2, 8, state: rise.State, now: T0.AddSeconds(75));
        Assert.Equal(4, held.Replicas);
        Assert.Equal(AutoscalingReasons.ScaledUp, held.Reason);
    }

    [Fact]
    public void History_keeps_only_changes_and_what_a_window_can_still_see()
    {
        var policy = Policy(down: new ScalingRules(TimeSpan.FromSeconds(60), 0, 100, TimeSpan.FromSeconds(15)));
        var state = AutoscalingState.Start(4);
        for (var i = 0; i < 20; i++) state = Decide(policy, state.Replicas, 4, state: state, now: T0.AddSeconds(15 * i)).State;

        // 20 identical recommendations are one entry.
        Assert.Single(state.Recommendations);

        for (var i = 0; i < 20; i++) state = Decide(policy, state.Replicas, i % 2 == 0 ? 8 : 4, state: state, now: T0.AddSeconds(300 + 15 * i)).State;
        // Changes every 15 s, a 60 s window: at most the entries in the window plus the one in effect at its start.
        Assert.InRange(state.Recommendations.Count, 2, 6);
        Assert.All(state.Recommendations.Skip(1), r => Assert.True(r.Time > T0.AddSeconds(300 + 15 * 19 - 60)));
    }

    [Fact]
    public void Unschedulable_pods_cap_the_count_at_what_runs_and_the_cap_holds_for_a_while()
    {
        var policy = Policy(max: 10);
        // 6 asked for, 2 cannot get a GPU: down to 4 at once (no window: pending pods hold no sequences).
        var capped = Decide(policy, 6, 8, unschedulable: 2);
        Assert.Equal(4, capped.Replicas);
        Assert.Equal(AutoscalingReasons.CappedByCapacity, capped.Reason);
        Assert.Contains("2 of 6 pods cannot be scheduled", capped.Message);
        Assert.Equal(new CapacityCeiling(4, T0), capped.State.Ceiling);
        Assert.True(capped.Scaled);

        // Still overloaded, nothing pending now: the ceiling holds, no churn of pods that cannot run.
        var held = Decide(policy, 4, 8, state: capped.State, now: T0.AddSeconds(60));
        Assert.Equal(4, held.Replicas);
        Assert.Equal(AutoscalingReasons.CappedByCapacity, held.Reason);
        Assert.Contains("the most that could be scheduled 1m ago", held.Message);

        // After the hold it tries above it again (a GPU may be free by now).
        var retry = Decide(policy, 4, 8, state: held.State, now: T0 + AutoscalingPolicy.CapacityHold);
        Assert.Equal(8, retry.Replicas);
        Assert.Equal(AutoscalingReasons.ScaledUp, retry.Reason);
        Assert.Null(retry.State.Ceiling);
    }

    [Fact]
    public void The_capacity_cap_never_goes_below_min_replicas()
    {
        var decision = Decide(Policy(min: 3), 4, 4, unschedulable: 3);

        Assert.Equal(3, decision.Replicas);
        Assert.Equal(AutoscalingReasons.CappedByCapacity, decision.Reason);
    }

    [Fact]
    public void A_cap_above_the_wanted_count_changes_nothing()
    {
        var decision = Decide(Policy(), 6, 2, unschedulable: 1);

        Assert.Equal(3, decision.Replicas);
        Assert.Equal(AutoscalingReasons.ScaledDown, decision.Reason);
    }

    [Fact]
    public void Queue_wait_targets_read_in_milliseconds()
    {
        var decision = Decide(Policy(target: 0.05, metric: ScalingMetric.QueueWait), 2, 0.2);

        Assert.Equal(6, decision.Replicas); // 8 wanted, +4 pods per 15 s
        Assert.Equal(AutoscalingReasons.RateLimited, decision.Reason);
        Assert.StartsWith("queueWait 200ms per pod against a target of 50ms: 8 wanted; 2 → 6", decision.Message);
    }

    [Fact]
    public void Scale_events_outside_every_period_are_forgotten()
    {
        var policy = Policy(max: 100);
        var up = Decide(policy, 2, 8);
        Assert.Single(up.State.Scales);
        var later = Decide(policy, up.Replicas, 4, state: up.State, now: T0.AddMinutes(5));
        Assert.Empty(later.State.Scales);
        Assert.Equal(T0, later.State.LastScaleTime);
    }
}
