using ControllerRuntime.Informers;
using GruOperator.Api;
using GruOperator.Domain.Conditions;
using GruOperator.Domain.Rollout;
using GruOperator.Reconciliation;
using GruOperator.Serving;
using GruServing.Contract.Serving;
using k8s.Models;

namespace GruOperator.Rollout;

/// <summary>One track's Deployment as cached, and what the rollout reads of it and its pods.</summary>
internal sealed record TrackSnapshot(V1Deployment Deployment, ObservedTrack Track);

/// <summary>Both tracks of a GruModel as the informers see them; a track is null when its Deployment does not exist.</summary>
internal sealed record RolloutObservation(TrackSnapshot? Stable, TrackSnapshot? Canary);

/// <summary>
/// Reads the stable and canary Deployments and their pods from the informer caches: the revision and model each template
/// serves (its labels and annotations, written by <see cref="ServingWorkloadBuilder"/>), ready and updated counts, and why
/// pods are not ready. No API calls: the rollout is decided from observed state only.
/// </summary>
internal sealed class RolloutObserver(ResourceCache<V1Deployment> deployments, ResourceCache<V1Pod> pods)
{
    /// <summary>Both tracks as the caches hold them.</summary>
    public RolloutObservation Observe(GruModel model) => Observe(model, Cached(model, Tracks.StableLabel), Cached(model, Tracks.CanaryLabel));

    /// <summary>
    /// Both tracks with the given Deployments (e.g. what an apply just returned: a new generation its controller has not
    /// observed yet, so the track is not claimed ready at a template it does not run yet) and the cached pods.
    /// </summary>
    public RolloutObservation Observe(GruModel model, V1Deployment? stable, V1Deployment? canary) =>
        new(Track(stable, Tracks.StableLabel), Track(canary, Tracks.CanaryLabel));

    private V1Deployment? Cached(GruModel model, string track) =>
        deployments.Get(model.Metadata.NamespaceProperty, ServingWorkloadBuilder.DeploymentName(model.Metadata.Name, track));

    private TrackSnapshot? Track(V1Deployment? deployment, string track)
    {
        if (deployment is null || deployment.Metadata.DeletionTimestamp is not null) return null;
        var revision = Label(deployment.Metadata.Labels, Labels.Revision) ?? "";
        var source = Label(deployment.Metadata.Annotations, Labels.ModelSourceAnnotation) ?? "";
        var sha = Label(deployment.Metadata.Annotations, Labels.ModelSha256Annotation);
        var identity = new ModelIdentity(source, string.IsNullOrEmpty(sha) ? null : sha);
        return new TrackSnapshot(deployment, new ObservedTrack(Workload(deployment, track, revision), identity));
    }

    private TrackObservation Workload(V1Deployment deployment, string track, string revision)
    {
        var status = deployment.Status;
        var templateObserved = (status?.ObservedGeneration ?? 0) >= (deployment.Metadata.Generation ?? 0);
        var model = deployment.Spec.Selector.MatchLabels[Labels.Model];
        var trackPods = pods.List(deployment.Metadata.NamespaceProperty, pod =>
            Label(pod.Metadata.Labels, Labels.Model) == model
            && Label(pod.Metadata.Labels, Labels.Track) == track
            && pod.Metadata.DeletionTimestamp is null);
        var unschedulable = trackPods.Select(PodDiagnosis.Unschedulable).Where(m => m is not null).ToList();
        var failing = trackPods.Select(PodDiagnosis.Failure).Where(m => m is not null).ToList();
        var conditions = (status?.Conditions ?? []).Select(c => new WorkloadCondition(c.Type, c.Status, c.Reason, c.Message)).ToList();
        return new TrackObservation(
            deployment.Spec.Replicas ?? 1,
            status?.ReadyReplicas ?? 0,
            status?.UpdatedReplicas ?? 0,
            templateObserved,
            unschedulable.Count,
            unschedulable.FirstOrDefault(),
            revision,
            failing.Count,
            failing.FirstOrDefault(),
            DeploymentDiagnosis.Stalled(conditions, deployment.Metadata.Name),
            DeploymentDiagnosis.ReplicaFailure(conditions, deployment.Metadata.Name));
    }

    private static string? Label(IDictionary<string, string>? map, string key) =>
        map is not null && map.TryGetValue(key, out var value) ? value : null;
}
