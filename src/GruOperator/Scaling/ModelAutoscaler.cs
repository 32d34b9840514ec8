using System.Collections.Concurrent;
using GruOperator.Api;
using GruOperator.Domain.Analysis;
using GruOperator.Domain.Rollout;
using GruOperator.Domain.Scaling;
using GruOperator.Hosting;
using GruOperator.Providers.Prometheus;
using GruOperator.Rollout;
using GruServing.Contract.Serving;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GruOperator.Scaling;

/// <summary>This reconcile's autoscaling: a new decision (null when none was due) and the status to write.</summary>
internal sealed record AutoscalingOutcome(AutoscalingDecision? Decision, AutoscalingStatus Status, TimeSpan NextIn)
{
    /// <summary>The policy and reading behind <see cref="Decision"/> (for metrics); null when none was due.</summary>
    public (AutoscalingPolicy Policy, LoadReading Reading)? Basis { get; init; }
}

/// <summary>
/// Runs <see cref="Autoscaler.Decide"/> for a model with spec.serving.autoscaling: reads the load of the model's own pods
/// (its namespace, model and revisions: never a query the tenant wrote) from the Prometheus the analysis uses, counts
/// its unschedulable pods, and decides from the state kept in status. Reads at most once per
/// <see cref="Autoscaler.SyncPeriod"/> per model (a reconcile in between keeps the status' count), except after a spec change.
/// </summary>
internal sealed partial class ModelAutoscaler(
    PrometheusMetricProviderFactory providers, AutoscalingMetrics metrics, IOptions<OperatorOptions> options, ILogger<ModelAutoscaler> logger)
{
    private readonly ConcurrentDictionary<string, ILoadSource> _sources = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (long Generation, DateTimeOffset At, int Desired)> _evaluated = new(StringComparer.Ordinal);
    private readonly string _defaultAddress = options.Value.DefaultPrometheusAddress;

    /// <summary>The outcome for <paramref name="model"/>; null when it does not autoscale.</summary>
    public async Task<AutoscalingOutcome?> DecideAsync(GruModel model, RolloutObservation observed, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var key = model.Metadata.NamespaceProperty + "/" + model.Metadata.Name;
        if (model.Spec.Serving?.Autoscaling is not { } spec)
        {
            _evaluated.TryRemove(key, out _);
            metrics.Forget(model.Metadata.NamespaceProperty, model.Metadata.Name);
            return null;
        }

        var generation = model.Metadata.Generation ?? 0;
        var previous = model.Status?.Autoscaling;
        // Not due yet: keep the count in status, as long as status holds the last decision (a refused status write must not
        // leave the Deployments at a count status does not know: then decide again).
        if (previous is not null && _evaluated.TryGetValue(key, out var last) && last.Generation == generation
            && now >= last.At && now - last.At < Autoscaler.SyncPeriod && previous.DesiredReplicas == last.Desired)
        {
            return new AutoscalingOutcome(null, previous, Autoscaler.SyncPeriod - (now - last.At));
        }

        var policy = AutoscalingSpecMapping.ToPolicy(spec);
        var tracks = new[] { (observed.Stable, Track.Stable), (observed.Canary, Track.Canary) }
            .Where(t => t.Item1 is not null)
            .Select(t => new TrackSelector(model.Metadata.NamespaceProperty, model.Spec.Model.Name, t.Item2, t.Item1!.Track.Workload.Revision))
            .ToList();
        // Asked even with no track yet: a source that cannot work (no Prometheus address) says so from the first decision.
        var reading = await Source(model).ReadAsync(new LoadQuery(policy.Metric, tracks, now), cancellationToken).ConfigureAwait(false);
        var unschedulable = (observed.Stable?.Track.Workload.UnschedulablePods ?? 0) + (observed.Canary?.Track.Workload.UnschedulablePods ?? 0);
        var state = previous is null ? AutoscalingState.Start(model.Spec.Serving.Replicas) : AutoscalingStatusMapping.ToState(previous);

        var decision = Autoscaler.Decide(new AutoscalingInput(policy, state, reading.PerPod, unschedulable, now));
        _evaluated[key] = (generation, now, decision.Replicas);
        if (decision.Scaled) Log.Scaled(logger, key, decision.From, decision.Replicas, decision.Reason, decision.Message);
        return new AutoscalingOutcome(decision, AutoscalingStatusMapping.ToStatus(decision, policy, spec.Target.AverageValue, reading, unschedulable), Autoscaler.SyncPeriod)
        {
            Basis = (policy, reading),
        };
    }

    /// <summary>Counts a decision whose status was written (a refused write counts nothing: the next reconcile decides again).</summary>
    public void Recorded(GruModel model, AutoscalingOutcome outcome)
    {
        if (outcome is { Decision: { } decision, Basis: var (policy, reading) }) metrics.Record(model.Metadata.NamespaceProperty, model.Metadata.Name, decision, policy, reading.PerPod);
    }

    /// <summary>Drops what is kept for a deleted model.</summary>
    public void Forget(string @namespace, string name)
    {
        _evaluated.TryRemove(@namespace + "/" + name, out _);
        metrics.Forget(@namespace, name);
    }

    private ILoadSource Source(GruModel model)
    {
        var address = string.IsNullOrWhiteSpace(model.Spec.Prometheus?.Address) ? _defaultAddress : model.Spec.Prometheus!.Address!;
        return _sources.GetOrAdd(address, a => providers.CreateLoadSource(Uri.TryCreate(a, UriKind.Absolute, out var uri) ? uri : null));
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "GruModel {Key} scaled {From} → {To} ({Reason}): {Message}")]
        public static partial void Scaled(ILogger logger, string key, int from, int to, string reason, string message);
    }
}
