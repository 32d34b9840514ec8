using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;
using GruOperator.Api.Schema;

namespace GruOperator.Api;

/// <summary>Load-driven replicas (HPA-like, built in): bounds, a per-pod target and how fast each direction moves.</summary>
[Description("Load-driven replicas without a custom-metrics adapter: the operator reads the target metric from the analysis' Prometheus and sets the model's replica count between minReplicas and maxReplicas, with the HorizontalPodAutoscaler's behaviour. spec.serving.replicas is then only the starting count; the count in use is status.autoscaling.desiredReplicas.")]
[CelRule("!has(self.minReplicas) || self.minReplicas <= self.maxReplicas",
    "autoscaling.minReplicas must not exceed autoscaling.maxReplicas: lower minReplicas or raise maxReplicas", FieldPath = ".minReplicas")]
public sealed class AutoscalingSpec
{
    /// <summary>Fewest replicas.</summary>
    [Description("Fewest replicas the model keeps, even without load (at least 1).")]
    [DefaultValue(1)]
    [Range(1, 1000)]
    public int MinReplicas { get; set; } = 1;

    /// <summary>Most replicas.</summary>
    [Required]
    [Description("Most replicas the model may get, canary pods included (with serving.gpu.count, this bounds the GPUs it takes).")]
    [Range(1, 1000)]
    public int MaxReplicas { get; set; }

    /// <summary>Target.</summary>
    [Required]
    [Description("The load each pod should carry on average.")]
    public ScalingTargetSpec Target { get; set; } = new();

    /// <summary>Behaviour.</summary>
    [Description("Stabilisation windows and rate limits per direction; HPA's defaults when omitted.")]
    public ScalingBehaviorSpec? Behavior { get; set; }
}

/// <summary>The metric an autoscaled model follows.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ScalingMetricName>))]
public enum ScalingMetricName
{
    /// <summary>Infer requests in flight per pod.</summary>
    [JsonStringEnumMemberName("inFlightRequests")]
    InFlightRequests,

    /// <summary>Mean queue wait per request.</summary>
    [JsonStringEnumMemberName("queueWait")]
    QueueWait,
}

/// <summary>A per-pod target.</summary>
[Description("A metric and the average value per pod to hold it at.")]
[CelRule("self.metric != 'inFlightRequests' || (self.averageValue.matches('^[0-9]+(\\\\.[0-9]+)?$') && double(self.averageValue) > 0.0)",
    "target.averageValue for inFlightRequests is a number of requests above 0, e.g. \"4\" or \"2.5\"", FieldPath = ".averageValue")]
[CelRule("self.metric != 'queueWait' || (self.averageValue.matches('" + Patterns.DurationCel + "') && duration(self.averageValue) > duration('0s'))",
    "target.averageValue for queueWait is a duration above 0, e.g. 50ms", FieldPath = ".averageValue")]
public sealed class ScalingTargetSpec
{
    /// <summary>Metric.</summary>
    [Required]
    [Description("inFlightRequests: infer requests being handled at once per pod (gru_requests_in_flight, averaged over the metric window); queueWait: mean time a request waits in the dynamic batcher's queue (gru_queue_wait_seconds, over the metric window).")]
    public ScalingMetricName Metric { get; set; }

    /// <summary>Target value.</summary>
    [Required]
    [Description("Per-pod target: a number for inFlightRequests (e.g. \"4\"), a duration for queueWait (e.g. 50ms, above serving.batching.maxQueueDelay since a request waits that long for its batch to fill even without load).")]
    [MaxLength(32)]
    public string AverageValue { get; set; } = "";
}

/// <summary>Behaviour per direction.</summary>
[Description("How fast replicas move up and down.")]
public sealed class ScalingBehaviorSpec
{
    /// <summary>Scale-up.</summary>
    [Description("Scale-up rules. Omitted: stabilizationWindow 0s, maxPods 4, maxPercent 100, period 15s.")]
    public ScalingRulesSpec? ScaleUp { get; set; }

    /// <summary>Scale-down.</summary>
    [Description("Scale-down rules. Omitted: stabilizationWindow 5m, maxPods 0, maxPercent 100, period 15s.")]
    public ScalingRulesSpec? ScaleDown { get; set; }
}

/// <summary>One direction's rules.</summary>
[Description("A stabilisation window and a rate limit; an omitted field keeps its direction's default.")]
[CelRule("!has(self.maxPods) || !has(self.maxPercent) || self.maxPods > 0 || self.maxPercent > 0",
    "maxPods and maxPercent are both 0, so replicas could never move this way: set one above 0", FieldPath = ".maxPods")]
public sealed class ScalingRulesSpec
{
    /// <summary>Stabilisation window.</summary>
    [Description("Recommendations of this long are considered: scale-up goes to the lowest, scale-down to the highest, so a brief spike or dip moves nothing, e.g. 5m; at most 1h.")]
    [RegularExpression(Patterns.Duration)]
    [MaxLength(32)]
    public string? StabilizationWindow { get; set; }

    /// <summary>Pods per period.</summary>
    [Description("At most this many pods added (or removed) per period.")]
    [Range(0, 1000)]
    public int? MaxPods { get; set; }

    /// <summary>Percent per period.</summary>
    [Description("At most this percentage of the count at the period's start added (or removed) per period; the larger of maxPods and maxPercent applies, as HPA's selectPolicy Max.")]
    [Range(0, 1000)]
    public int? MaxPercent { get; set; }

    /// <summary>Period.</summary>
    [Description("The period the rate limit counts over, e.g. 15s; 1s to 30m.")]
    [RegularExpression(Patterns.Duration)]
    [MaxLength(32)]
    public string? Period { get; set; }
}
