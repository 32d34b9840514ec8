using GruOperator.Domain.Analysis;

namespace GruOperator.Domain.Scaling;

/// <summary>Which load to read: one metric over the model's tracks (its own namespace, model and revisions only).</summary>
public sealed record LoadQuery(ScalingMetric Metric, IReadOnlyList<TrackSelector> Tracks, DateTimeOffset At);

/// <summary>
/// What a load source saw: the per-pod average over every pod of the tracks, and how many pods reported. <see cref="PerPod"/>
/// null is "no value" (with <see cref="Problem"/> saying why): the autoscaler holds, it never reads that as zero.
/// </summary>
public sealed record LoadReading(double? PerPod, int Pods, string? Problem)
{
    /// <summary>No value, for the reason given.</summary>
    public static LoadReading None(string problem) => new(null, 0, problem);
}

/// <summary>The port the autoscaler reads load through (Prometheus in production).</summary>
public interface ILoadSource
{
    /// <summary>Reads the load; backend trouble is a <see cref="LoadReading"/> with a problem, never an exception.</summary>
    Task<LoadReading> ReadAsync(LoadQuery query, CancellationToken cancellationToken);
}
