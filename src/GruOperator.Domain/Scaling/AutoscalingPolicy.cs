namespace GruOperator.Domain.Scaling;

/// <summary>The load signal the autoscaler follows, averaged over the model's serving pods.</summary>
public enum ScalingMetric
{
    /// <summary>Infer requests being handled at once per pod (GruServer's gru_requests_in_flight).</summary>
    InFlightRequests,

    /// <summary>Mean time a request waits in the dynamic batcher's queue, in seconds (GruServer's gru_queue_wait).</summary>
    QueueWait,
}

/// <summary>
/// How fast one direction may move (HPA's behavior.scaleUp/scaleDown): recommendations are stabilised over
/// <paramref name="StabilizationWindow"/>, and within any <paramref name="Period"/> the count moves by at most
/// <paramref name="MaxPods"/> or <paramref name="MaxPercent"/>% of the count at the period's start, whichever allows more.
/// </summary>
public sealed record ScalingRules(TimeSpan StabilizationWindow, int MaxPods, int MaxPercent, TimeSpan Period)
{
    /// <summary>HPA's scale-up default: no window, +4 pods or +100% per 15 s.</summary>
    public static ScalingRules DefaultUp { get; } = new(TimeSpan.Zero, 4, 100, TimeSpan.FromSeconds(15));

    /// <summary>HPA's scale-down default: a 5 minute window, −100% per 15 s.</summary>
    public static ScalingRules DefaultDown { get; } = new(TimeSpan.FromMinutes(5), 0, 100, TimeSpan.FromSeconds(15));
}

/// <summary>What the user asked for: bounds, the per-pod target of one metric, and how fast each direction moves.</summary>
public sealed record AutoscalingPolicy(int MinReplicas, int MaxReplicas, ScalingMetric Metric, double Target, ScalingRules Up, ScalingRules Down)
{
    /// <summary>HPA's tolerance: a ratio within 10% of 1 changes nothing, so noise does not move replicas.</summary>
    public const double Tolerance = 0.1;

    /// <summary>
    /// How long a count found not to fit (pods unschedulable) stays a ceiling before the autoscaler tries above it again:
    /// long enough not to churn pods that cannot get a GPU, short enough to use a GPU freed meanwhile.
    /// </summary>
    public static readonly TimeSpan CapacityHold = TimeSpan.FromMinutes(2);
}
