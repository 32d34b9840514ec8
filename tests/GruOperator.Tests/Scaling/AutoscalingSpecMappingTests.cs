using GruOperator.Api;
using GruOperator.Domain.Scaling;
using GruOperator.Reconciliation;
using GruOperator.Scaling;
using GruOperator.Tests.Support;

namespace GruOperator.Tests.Scaling;

public sealed class AutoscalingSpecMappingTests
{
    private static AutoscalingSpec Spec(string metric = "inFlightRequests", string value = "4", int min = 1, int max = 5, ScalingBehaviorSpec? behavior = null) => new()
    {
        MinReplicas = min,
        MaxReplicas = max,
        Target = new ScalingTargetSpec { Metric = metric == "queueWait" ? ScalingMetricName.QueueWait : ScalingMetricName.InFlightRequests, AverageValue = value },
        Behavior = behavior,
    };

    public static TheoryData<string, Action<ServingSpec>, string> Refused => new()
    {
        { "min above max", s => s.Autoscaling = Spec(min: 6, max: 5), "spec.serving.autoscaling.minReplicas 6 exceeds maxReplicas 5: lower minReplicas or raise maxReplicas" },
        { "min 0", s => s.Autoscaling = Spec(min: 0), "spec.serving.autoscaling.minReplicas 0 is below 1" },
        { "max 0", s => s.Autoscaling = Spec(min: 1, max: 0), "spec.serving.autoscaling.maxReplicas 0 is below 1" },
        { "replicas 0 with autoscaling", s => { s.Replicas = 0; s.Autoscaling = Spec(); }, "spec.serving.replicas 0 turns the model off but spec.serving.autoscaling keeps at least minReplicas" },
        { "target 0 requests", s => s.Autoscaling = Spec(value: "0"), "spec.serving.autoscaling.target.averageValue '0' is not a number of in-flight requests above 0" },
        { "target not a number", s => s.Autoscaling = Spec(value: "four"), "spec.serving.autoscaling.target.averageValue 'four' is not a number" },
        { "negative target", s => s.Autoscaling = Spec(value: "-1"), "target.averageValue '-1'" },
        { "queue wait as a number", s => s.Autoscaling = Spec(metric: "queueWait", value: "0.05"), "spec.serving.autoscaling.target.averageValue '0.05' is not a queue wait above 0: write a duration such as 50ms" },
        { "queue wait 0", s => s.Autoscaling = Spec(metric: "queueWait", value: "0s"), "is not a queue wait above 0" },
        { "queue wait not above the batch delay", s => { s.Batching = new BatchingSpec { MaxQueueDelay = "5ms" }; s.Autoscaling = Spec(metric: "queueWait", value: "5ms"); }, "target.averageValue 5ms is not above spec.serving.batching.maxQueueDelay (5ms)" },
        { "queue wait under the default batch delay", s => s.Autoscaling = Spec(metric: "queueWait", value: "1ms"), "maxQueueDelay (2ms)" },
        { "window too long", s => s.Autoscaling = Spec(behavior: new() { ScaleDown = new() { StabilizationWindow = "2h" } }), "spec.serving.autoscaling.behavior.scaleDown.stabilizationWindow 2h is longer than 1h" },
        { "window not a duration", s => s.Autoscaling = Spec(behavior: new() { ScaleUp = new() { StabilizationWindow = "5 m" } }), "spec.serving.autoscaling.behavior.scaleUp.stabilizationWindow" },
        { "period too short", s => s.Autoscaling = Spec(behavior: new() { ScaleUp = new() { Period = "500ms" } }), "spec.serving.autoscaling.behavior.scaleUp.period 500ms is outside 1s..30m" },
        { "period too long", s => s.Autoscaling = Spec(behavior: new() { ScaleDown = new() { Period = "1h" } }), "scaleDown.period 1h is outside 1s..30m" },
        { "both limits 0", s => s.Autoscaling = Spec(behavior: new() { ScaleUp = new() { MaxPods = 0, MaxPercent = 0 } }), "spec.serving.autoscaling.behavior.scaleUp.maxPods and maxPercent are both 0" },
        { "percent 0 with the default of 0 pods", s => s.Autoscaling = Spec(behavior: new() { ScaleDown = new() { MaxPercent = 0 } }), "spec.serving.autoscaling.behavior.scaleDown.maxPods and maxPercent are both 0" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void The_operator_refuses_a_contradictory_autoscaling_spec_naming_the_field(string scenario, Action<ServingSpec> breakIt, string expected)
    {
        var spec = Models.Cpu().Spec;
        breakIt(spec.Serving);

        var (valid, problems) = SpecValidator.Validate(spec, "img");

        Assert.Null(valid);
        Assert.True(problems.Any(p => p.Contains(expected, StringComparison.Ordinal)), $"{scenario}: {string.Join(" | ", problems)}");
    }

    [Fact]
    public void Omitted_behaviour_takes_HPAs_defaults()
    {
        var policy = AutoscalingSpecMapping.ToPolicy(Spec(min: 2, max: 8, value: "2.5"));

        Assert.Equal(new AutoscalingPolicy(2, 8, ScalingMetric.InFlightRequests, 2.5, ScalingRules.DefaultUp, ScalingRules.DefaultDown), policy);
        Assert.Empty(AutoscalingSpecMapping.Problems(new ServingSpec { Autoscaling = Spec(min: 2, max: 8, value: "2.5") }));
    }

    [Fact]
    public void Given_behaviour_fields_replace_only_themselves()
    {
        var policy = AutoscalingSpecMapping.ToPolicy(Spec(metric: "queueWait", value: "50ms", behavior: new()
        {
            ScaleUp = new() { StabilizationWindow = "10s", MaxPods = 1 },
            ScaleDown = new() { StabilizationWindow = "30s", MaxPercent = 50, Period = "1m" },
        }));

        Assert.Equal(ScalingMetric.QueueWait, policy.Metric);
        Assert.Equal(0.05, policy.Target, 9);
        Assert.Equal(new ScalingRules(TimeSpan.FromSeconds(10), 1, 100, TimeSpan.FromSeconds(15)), policy.Up);
        Assert.Equal(new ScalingRules(TimeSpan.FromSeconds(30), 0, 50, TimeSpan.FromMinutes(1)), policy.Down);
    }

    [Fact]
    public void The_CEL_duration_pattern_is_the_contracts_grammar() =>
        Assert.Equal(Patterns.DurationCel, GruServing.Contract.Durations.GoDuration.Pattern.Replace(@"\", @"\\", StringComparison.Ordinal));
}
