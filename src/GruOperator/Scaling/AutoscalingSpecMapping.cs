using System.Globalization;
using GruOperator.Api;
using GruOperator.Domain.Scaling;
using GruServing.Contract.Durations;
using GruServing.Contract.Serving;

namespace GruOperator.Scaling;

/// <summary>spec.serving.autoscaling → <see cref="AutoscalingPolicy"/>, and the checks the CRD schema cannot make (or a cluster without CEL skips).</summary>
internal static class AutoscalingSpecMapping
{
    private const string Field = "spec.serving.autoscaling";

    /// <summary>HPA's limit on stabilizationWindowSeconds.</summary>
    private static readonly TimeSpan LongestWindow = TimeSpan.FromHours(1);

    /// <summary>HPA's limits on periodSeconds.</summary>
    private static readonly TimeSpan ShortestPeriod = TimeSpan.FromSeconds(1), LongestPeriod = TimeSpan.FromMinutes(30);

    /// <summary>The policy of a spec <see cref="Problems"/> accepted; omitted behaviour fields take their direction's default.</summary>
    public static AutoscalingPolicy ToPolicy(AutoscalingSpec spec)
    {
        TryTarget(spec.Target, out var target);
        return new AutoscalingPolicy(spec.MinReplicas, spec.MaxReplicas, ToMetric(spec.Target.Metric), target,
            Rules(spec.Behavior?.ScaleUp, ScalingRules.DefaultUp), Rules(spec.Behavior?.ScaleDown, ScalingRules.DefaultDown));
    }

    /// <summary>The domain's metric for the API's name.</summary>
    public static ScalingMetric ToMetric(ScalingMetricName name) =>
        name == ScalingMetricName.QueueWait ? ScalingMetric.QueueWait : ScalingMetric.InFlightRequests;

    /// <summary>Every problem of <paramref name="serving"/>'s autoscaling, each naming the field and the fix.</summary>
    public static IEnumerable<string> Problems(ServingSpec serving)
    {
        if (serving.Autoscaling is not { } spec) yield break;
        if (spec.MinReplicas < 1) yield return $"{Field}.minReplicas {spec.MinReplicas} is below 1: keep at least one pod (remove autoscaling to scale to 0)";
        if (spec.MaxReplicas < 1) yield return $"{Field}.maxReplicas {spec.MaxReplicas} is below 1: set the most replicas the model may get";
        if (spec.MinReplicas > spec.MaxReplicas)
        {
            yield return $"{Field}.minReplicas {spec.MinReplicas} exceeds maxReplicas {spec.MaxReplicas}: lower minReplicas or raise maxReplicas";
        }
        if (serving.Replicas == 0)
        {
            yield return $"spec.serving.replicas 0 turns the model off but {Field} keeps at least minReplicas: remove {Field} to scale to 0";
        }

        var target = spec.Target ?? new ScalingTargetSpec();
        if (!TryTarget(target, out var value))
        {
            yield return target.Metric == ScalingMetricName.QueueWait
                ? $"{Field}.target.averageValue '{target.AverageValue}' is not a queue wait above 0: write a duration such as 50ms"
                : $"{Field}.target.averageValue '{target.AverageValue}' is not a number of in-flight requests above 0: write e.g. \"4\" or \"2.5\"";
        }
        else if (target.Metric == ScalingMetricName.QueueWait
            && GoDuration.TryParse(serving.Batching?.MaxQueueDelay ?? ServingLimits.MaxQueueDelay, out var delay, out _) && value <= delay.TotalSeconds)
        {
            // The batcher holds a lone request up to maxQueueDelay for its batch to fill: the wait an idle pod shows.
            yield return $"{Field}.target.averageValue {target.AverageValue} is not above spec.serving.batching.maxQueueDelay ({GoDuration.Format(delay)}): "
                + "a request waits that long for its batch to fill even without load, so the model would scale up while idle; set a longer target or a shorter maxQueueDelay";
        }

        foreach (var (name, rules, defaults) in new[] { ("scaleUp", spec.Behavior?.ScaleUp, ScalingRules.DefaultUp), ("scaleDown", spec.Behavior?.ScaleDown, ScalingRules.DefaultDown) })
        {
            if (rules is null) continue;
            var at = $"{Field}.behavior.{name}";
            if (rules.StabilizationWindow is { } window)
            {
                if (!GoDuration.TryParse(window, out var w, out var error)) yield return $"{at}.stabilizationWindow {error}";
                else if (w > LongestWindow) yield return $"{at}.stabilizationWindow {window} is longer than 1h: use a shorter window (HPA's limit too)";
            }
            if (rules.Period is { } period)
            {
                if (!GoDuration.TryParse(period, out var p, out var error)) yield return $"{at}.period {error}";
                else if (p < ShortestPeriod || p > LongestPeriod) yield return $"{at}.period {period} is outside 1s..30m: rate limits count over seconds to minutes";
            }
            if (rules.MaxPods is < 0 || rules.MaxPercent is < 0) yield return $"{at}.maxPods and maxPercent must not be negative";
            if (Rules(rules, defaults) is { MaxPods: 0, MaxPercent: 0 })
            {
                // Checked on the effective rule: scaleDown.maxPercent 0 alone leaves maxPods at its default 0.
                yield return $"{at}.maxPods and maxPercent are both 0 (an omitted one takes its default: scaleUp 4 pods, 100%; scaleDown 0 pods, 100%), so replicas could never move this way: set one above 0";
            }
        }
    }

    /// <summary>The target in the metric's unit (requests, or seconds of queue wait); false unless above 0.</summary>
    private static bool TryTarget(ScalingTargetSpec target, out double value)
    {
        value = 0;
        if (target.Metric == ScalingMetricName.QueueWait)
        {
            if (!GoDuration.TryParse(target.AverageValue, out var wait, out _)) return false;
            value = wait.TotalSeconds;
        }
        else if (!double.TryParse(target.AverageValue, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out value))
        {
            return false;
        }
        return value > 0 && double.IsFinite(value);
    }

    private static ScalingRules Rules(ScalingRulesSpec? spec, ScalingRules defaults)
    {
        if (spec is null) return defaults;
        return new ScalingRules(
            GoDuration.TryParse(spec.StabilizationWindow, out var window, out _) ? window : defaults.StabilizationWindow,
            spec.MaxPods ?? defaults.MaxPods,
            spec.MaxPercent ?? defaults.MaxPercent,
            GoDuration.TryParse(spec.Period, out var period, out _) ? period : defaults.Period);
    }
}
