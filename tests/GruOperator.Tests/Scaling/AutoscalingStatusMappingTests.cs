using GruOperator.Domain.Scaling;
using GruOperator.Scaling;

namespace GruOperator.Tests.Scaling;

public sealed class AutoscalingStatusMappingTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 8, 3, 0, 0, TimeSpan.Zero);

    private static readonly AutoscalingPolicy Policy = new(1, 10, ScalingMetric.QueueWait, 0.05,
        ScalingRules.DefaultUp, new ScalingRules(TimeSpan.FromMinutes(1), 0, 100, TimeSpan.FromSeconds(15)));

    [Fact]
    public void The_state_kept_in_status_is_the_state_the_next_decision_starts_from()
    {
        var first = Autoscaler.Decide(new AutoscalingInput(Policy, AutoscalingState.Start(2), 0.2, 0, T0));
        var second = Autoscaler.Decide(new AutoscalingInput(Policy, first.State, 0.01, 1, T0.AddSeconds(15)));

        var status = AutoscalingStatusMapping.ToStatus(second, Policy, "50ms", new LoadReading(0.01, 5, null), 1);
        var state = AutoscalingStatusMapping.ToState(status);

        Assert.Equal(second.State.Replicas, state.Replicas);
        Assert.Equal(second.State.Recommendations, state.Recommendations);
        Assert.Equal(second.State.Scales, state.Scales);
        Assert.Equal(second.State.Ceiling, state.Ceiling);
        Assert.Equal(second.State.LastScaleTime, state.LastScaleTime);
        Assert.Equal(("queueWait", "10ms", "50ms", 5, 1), (status.Metric, status.CurrentValue, status.Target, status.Pods, status.UnschedulableReplicas));
    }

    [Fact]
    public void Why_there_was_no_value_is_part_of_the_message()
    {
        var decision = Autoscaler.Decide(new AutoscalingInput(Policy, AutoscalingState.Start(3), null, 0, T0));

        var status = AutoscalingStatusMapping.ToStatus(decision, Policy, "50ms", LoadReading.None("Prometheus has no gru_queue_wait_seconds series."), 0);

        Assert.Equal("no value of queueWait from Prometheus: holding at 3. Prometheus has no gru_queue_wait_seconds series.", status.Message);
        Assert.Null(status.CurrentValue);
        Assert.Null(status.Recommendations);
    }
}
