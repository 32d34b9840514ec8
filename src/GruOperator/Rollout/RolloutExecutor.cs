using System.Net;
using ControllerRuntime.Events;
using ControllerRuntime.Informers;
using ControllerRuntime.Resources;
using GruOperator.Api;
using GruOperator.Domain.Conditions;
using GruOperator.Domain.Rollout;
using GruOperator.ModelResolution;
using GruOperator.Serving;
using GruOperator.Traffic;
using GruServing.Contract.Serving;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace GruOperator.Rollout;

/// <summary>The Deployments after the desired-state actions; <see cref="Changed"/> when an apply changed one.</summary>
internal sealed record AppliedTracks(V1Deployment? Stable, V1Deployment? Canary, bool Changed);

/// <summary>
/// Carries out a rollout decision's actions: first the desired state (<see cref="EnsureAsync"/>: Deployments and the
/// Service by server-side apply, repeats are free), after the status write the rest in order (<see cref="ExecuteAsync"/>):
/// the canary's deletion, traffic weights through <see cref="ITrafficRouter"/>, Events, and the removal of the
/// acted-on <c>serving.gru.dev/action</c> annotation. It decides nothing: what to do is the decision's.
/// </summary>
internal sealed class RolloutExecutor(
    IKubernetes client,
    ResourceCache<V1Service> services,
    ServerSideApply apply,
    EventRecorder events,
    ITrafficRouter traffic,
    ServingDefaults defaults,
    ActionAnnotationRemover commands)
{
    /// <summary>
    /// The desired-state actions (stable and canary Deployments, the Service), before the status write: repeating them is
    /// free, and the status can then describe what the cluster was asked for rather than the template before it.
    /// </summary>
    /// <param name="registrySecret">spec.model.registrySecretRef as read, for the pods of oci:// sources.</param>
    public async Task<AppliedTracks> EnsureAsync(GruModel model, IReadOnlyList<RolloutAction> actions, RolloutObservation observed, RegistrySecret? registrySecret, CancellationToken cancellationToken)
    {
        var (stable, canary, changed) = (observed.Stable?.Deployment, observed.Canary?.Deployment, false);
        foreach (var action in actions)
        {
            switch (action)
            {
                case EnsureStable s:
                    // A shadow step: first the model's Service narrows to stable (before the canary's pod can be ready,
                    // so no user request reaches it), then stable's pods learn the canary's address.
                    var mirror = s.MirrorSample is { } sample ? new ShadowMirror(await EnsureCanaryServiceAsync(model, cancellationToken).ConfigureAwait(false), sample) : null;
                    await EnsureServiceAsync(model, stableOnly: mirror is not null, cancellationToken).ConfigureAwait(false);
                    (stable, var stableChanged) = await EnsureTrackAsync(model, Tracks.StableLabel, s.Revision, s.Model, s.Replicas, stable, registrySecret, cancellationToken, mirror).ConfigureAwait(false);
                    changed |= stableChanged;
                    break;
                case EnsureCanary c:
                    (canary, var canaryChanged) = await EnsureTrackAsync(model, Tracks.CanaryLabel, c.Revision, c.Model, c.Replicas, canary, registrySecret, cancellationToken).ConfigureAwait(false);
                    changed |= canaryChanged;
                    break;
            }
        }
        return new AppliedTracks(stable, canary, changed);
    }

    /// <summary>The other actions, in order, after the status write.</summary>
    public async Task ExecuteAsync(GruModel model, IReadOnlyList<RolloutAction> actions, RolloutObservation observed, CancellationToken cancellationToken)
    {
        foreach (var action in actions)
        {
            switch (action)
            {
                case EnsureStable or EnsureCanary:
                    // Applied before the status write (EnsureAsync).
                    break;
                case DeleteCanary:
                    await DeleteCanaryAsync(model, cancellationToken).ConfigureAwait(false);
                    break;
                case SetTrafficWeights weights:
                    // The one call site of the traffic router: the Gateway API HTTPRoute writer plugs in behind it.
                    try
                    {
                        await traffic.SetWeightsAsync(model, weights.Stable, weights.Canary, cancellationToken).ConfigureAwait(false);
                    }
                    catch (TrafficRoutingException e)
                    {
                        // Nothing after the weights runs (a rollback never deletes a canary the route still sends
                        // traffic to); the controller retries with backoff and the Event says what to fix.
                        await events.RecordAsync(model, EventType.Warning, e.Reason, e.Message, cancellationToken).ConfigureAwait(false);
                        throw;
                    }
                    break;
                case RecordEvent e:
                    await events.RecordAsync(model, e.Type == RolloutEventType.Warning ? EventType.Warning : EventType.Normal, e.Reason, e.Message, cancellationToken).ConfigureAwait(false);
                    break;
                case AcknowledgeCommand:
                    await RemoveCommandAsync(model, cancellationToken).ConfigureAwait(false);
                    break;
                case RunAnalysis:
                    // Answered before the status write (the reconciler decides again with the run); nothing to do here.
                    break;
                default:
                    throw new InvalidOperationException($"unknown rollout action {action.GetType().Name}");
            }
        }
        await ReportTrackProblemsAsync(model, observed.Stable, cancellationToken).ConfigureAwait(false);
        await ReportTrackProblemsAsync(model, observed.Canary, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Removes the annotation after it was acted on (or refused with an Event), only while it still holds the value read:
    /// a command written meanwhile is kept for the next reconcile.
    /// </summary>
    public Task RemoveCommandAsync(GruModel model, CancellationToken cancellationToken) => commands.RemoveAsync(model, cancellationToken);

    private async Task<(V1Deployment Deployment, bool Changed)> EnsureTrackAsync(
        GruModel model, string track, string revision, ModelIdentity identity, int replicas, V1Deployment? existing, RegistrySecret? registrySecret, CancellationToken cancellationToken,
        ShadowMirror? mirror = null)
    {
        if (!ModelSource.TryParse(identity.Source, identity.Sha256Hex, out var source, out var error))
        {
            throw new InvalidOperationException($"the {track} model {identity} recorded in status does not parse: {error}");
        }
        var desired = ServingWorkloadBuilder.BuildTrack(model, source!, revision, track, replicas, defaults, registrySecret, mirror);
        var name = desired.Metadata.Name;
        var (deployment, sent) = await apply.ApplyAsync(desired, existing, cancellationToken).ConfigureAwait(false);
        if (existing is null)
        {
            await events.RecordAsync(model, EventType.Normal, "DeploymentCreated",
                $"Created Deployment {name} for {track} revision {revision}.", cancellationToken).ConfigureAwait(false);
            return (deployment, true);
        }
        if (sent && deployment.Metadata.Generation > existing.Metadata.Generation)
        {
            await events.RecordAsync(model, EventType.Normal, "DeploymentUpdated",
                $"Updated Deployment {name} to generation {deployment.Metadata.Generation} ({track} revision {revision}, {replicas} replica(s)).", cancellationToken).ConfigureAwait(false);
            return (deployment, true);
        }
        return (deployment, false);
    }

    private async Task EnsureServiceAsync(GruModel model, bool stableOnly, CancellationToken cancellationToken)
    {
        var existing = services.Get(model.Metadata.NamespaceProperty, model.Metadata.Name);
        await apply.ApplyAsync(ServingWorkloadBuilder.BuildService(model, defaults, stableOnly), existing, cancellationToken).ConfigureAwait(false);
        if (existing is null)
        {
            await events.RecordAsync(model, EventType.Normal, "ServiceCreated", $"Created Service {model.Metadata.Name}.", cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The canary's own Service (the one Gateway API routing also uses), the address stable mirrors to: its
    /// ClusterIP, so stable needs no cluster DNS; the DNS name until the API server has assigned one.</summary>
    private async Task<Uri> EnsureCanaryServiceAsync(GruModel model, CancellationToken cancellationToken)
    {
        var desired = TrackServices.For(model, Tracks.CanaryLabel, defaults);
        var existing = services.Get(model.Metadata.NamespaceProperty, desired.Metadata.Name);
        var (service, _) = await apply.ApplyAsync(desired, existing, cancellationToken).ConfigureAwait(false);
        var host = service.Spec?.ClusterIP is { Length: > 0 } ip && ip != "None" ? ip : $"{desired.Metadata.Name}.{model.Metadata.NamespaceProperty}.svc";
        return new Uri($"http://{host}:{ServingWorkloadBuilder.HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
    }

    private async Task DeleteCanaryAsync(GruModel model, CancellationToken cancellationToken)
    {
        var name = ServingWorkloadBuilder.DeploymentName(model.Metadata.Name, Tracks.CanaryLabel);
        try
        {
            await client.AppsV1.DeleteNamespacedDeploymentAsync(name, model.Metadata.NamespaceProperty, propagationPolicy: "Background", cancellationToken: cancellationToken).ConfigureAwait(false);
            await events.RecordAsync(model, EventType.Normal, "DeploymentDeleted", $"Deleted Deployment {name}: no canary runs.", cancellationToken).ConfigureAwait(false);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
            // Already gone: the cache had not seen it yet.
        }
    }

    /// <summary>Why a track's pods are not serving, as Warning Events (the recorder folds repeats).</summary>
    private async Task ReportTrackProblemsAsync(GruModel model, TrackSnapshot? snapshot, CancellationToken cancellationToken)
    {
        if (snapshot is null) return;
        var o = snapshot.Track.Workload;
        var what = $"{snapshot.Deployment.Metadata.Labels?[Labels.Track]} revision {o.Revision}";
        if (o.ReplicaFailureMessage is { } replicaFailure)
        {
            await events.RecordAsync(model, EventType.Warning, ServingConditions.ReplicaFailure,
                $"Pods of {what} cannot be created: {replicaFailure}", cancellationToken).ConfigureAwait(false);
        }
        if (o.UnschedulablePods > 0)
        {
            await events.RecordAsync(model, EventType.Warning, ServingConditions.Unschedulable,
                $"{o.UnschedulablePods} pod(s) of {what} cannot be scheduled: {o.UnschedulableMessage}", cancellationToken).ConfigureAwait(false);
        }
        if (o.FailingPods > 0)
        {
            await events.RecordAsync(model, EventType.Warning, ServingConditions.PodsFailing,
                $"{o.FailingPods} pod(s) of {what} failing: {o.FailingMessage}", cancellationToken).ConfigureAwait(false);
        }
        if (o.StalledMessage is { } stalled)
        {
            await events.RecordAsync(model, EventType.Warning, ServingConditions.ProgressDeadlineExceeded,
                $"The {what} stopped progressing: {stalled}", cancellationToken).ConfigureAwait(false);
        }
    }
}
