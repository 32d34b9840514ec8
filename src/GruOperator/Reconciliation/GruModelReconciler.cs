using ControllerRuntime.Controllers;
using ControllerRuntime.Events;
using ControllerRuntime.Finalizers;
using ControllerRuntime.Informers;
using ControllerRuntime.Resources;
using GruOperator.Api;
using GruOperator.Domain.Conditions;
using GruOperator.Domain.Rollout;
using GruOperator.Hosting;
using GruOperator.Integrity;
using GruOperator.ModelResolution;
using GruOperator.Serving;
using GruServing.Contract.Models;
using GruServing.Contract.Serving;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GruOperator.Reconciliation;

/// <summary>
/// Reconciles one GruModel: finalizer, validation, stable Deployment and Service by server-side apply, then one status
/// write built from what the cluster really reports. Early returns, no branching on event types.
/// </summary>
internal sealed partial class GruModelReconciler : IReconciler
{
    private readonly ResourceCache<GruModel> _models;
    private readonly ResourceCache<V1Deployment> _deployments;
    private readonly ResourceCache<V1Service> _services;
    private readonly ResourceCache<V1Pod> _pods;
    private readonly CustomResourceClient<GruModel> _client;
    private readonly ServerSideApply _apply;
    private readonly EventRecorder _events;
    private readonly FinalizerRegistry<GruModel> _finalizers;
    private readonly ServingDefaults _defaults;
    private readonly TimeProvider _time;
    private readonly ILogger<GruModelReconciler> _logger;
    private readonly ModelPinner _pinner;
    private readonly ServedModelVerifier _verifier;
    private readonly LayerDigestIndex _layers;

    public GruModelReconciler(
        ResourceCache<GruModel> models,
        ResourceCache<V1Deployment> deployments,
        ResourceCache<V1Service> services,
        ResourceCache<V1Pod> pods,
        CustomResourceClient<GruModel> client,
        ServerSideApply apply,
        EventRecorder events,
        FinalizerRegistry<GruModel> finalizers,
        IOptions<OperatorOptions> options,
        TimeProvider time,
        ILogger<GruModelReconciler> logger,
        ModelPinner pinner,
        ServedModelVerifier verifier,
        LayerDigestIndex layers)
    {
        _models = models;
        _deployments = deployments;
        _services = services;
        _pods = pods;
        _client = client;
        _apply = apply;
        _events = events;
        _finalizers = finalizers;
        _defaults = new ServingDefaults(options.Value.DefaultServerImage, options.Value.ModelFetcherImage, options.Value.FieldManager)
        {
            PlainHttpRegistries = options.Value.PlainHttpRegistries(),
        };
        _pinner = pinner;
        _verifier = verifier;
        _layers = layers;
        _time = time;
        _logger = logger;
    }

    public async Task<ReconcileResult> ReconcileAsync(ReconcileRequest request, CancellationToken cancellationToken)
    {
        var model = _models.Get(request.Namespace, request.Name);
        if (model is null) return ReconcileResult.Done;

        var (deleting, current) = await _finalizers.ApplyAsync(model, _client.PatchFinalizersAsync, cancellationToken).ConfigureAwait(false);
        if (deleting) return ReconcileResult.Done;
        model = current;

        var generation = model.Metadata.Generation ?? 0;
        var (valid, problems) = SpecValidator.Validate(model.Spec, _defaults.ServerImage);
        if (valid is null)
        {
            var message = "Invalid spec: " + string.Join("; ", problems) + ".";
            Log.InvalidSpec(_logger, request.ToString(), message);
            await _events.RecordAsync(model, EventType.Warning, PhaseRules.InvalidSpecReason, message, cancellationToken).ConfigureAwait(false);
            var refused = ServingConditions.Refuse(model.Status?.Conditions, message, generation, Now());
            await WriteStatusAsync(model, Status(model, refused, model.Status?.Stable), cancellationToken).ConfigureAwait(false);
            // A user error: no retry storm. The next spec edit triggers a new reconcile.
            return ReconcileResult.Done;
        }

        // oci:// sources are pinned to a digest first: the pinned source is what every Deployment names (never a tag).
        var pin = await _pinner.PinAsync(model, valid.Source, Now(), cancellationToken).ConfigureAwait(false);
        if (pin.Failure is not null)
        {
            // Nothing new is deployed; whatever already serves keeps serving until the registry answers.
            await WriteStatusAsync(model, IntegrityStatus.Unpinned(model, pin, generation, Now()), cancellationToken).ConfigureAwait(false);
            return ReconcileResult.After(pin.RetryAfter);
        }
        valid = valid with { Source = pin.Source };

        var name = model.Metadata.Name;
        var ns = model.Metadata.NamespaceProperty;
        var deploymentName = ServingWorkloadBuilder.DeploymentName(name, Tracks.StableLabel);
        var existing = _deployments.Get(ns, deploymentName);
        var revision = StableRevision(model, existing, valid.Source);
        var desired = ServingWorkloadBuilder.BuildStable(model, valid.Source, revision, _defaults, pin.Registry.Secret);

        var (deployment, deploymentSent) = await _apply.ApplyAsync(desired.Deployment, existing, cancellationToken).ConfigureAwait(false);
        if (existing is null)
        {
            await _events.RecordAsync(model, EventType.Normal, "DeploymentCreated",
                $"Created Deployment {deploymentName} for revision {revision}.", cancellationToken).ConfigureAwait(false);
        }
        else if (deploymentSent && deployment.Metadata.Generation > existing.Metadata.Generation)
        {
            await _events.RecordAsync(model, EventType.Normal, "DeploymentUpdated",
                $"Updated Deployment {deploymentName} to generation {deployment.Metadata.Generation} (revision {revision}).", cancellationToken).ConfigureAwait(false);
        }

        var existingService = _services.Get(ns, name);
        await _apply.ApplyAsync(desired.Service, existingService, cancellationToken).ConfigureAwait(false);
        if (existingService is null)
        {
            await _events.RecordAsync(model, EventType.Normal, "ServiceCreated", $"Created Service {name}.", cancellationToken).ConfigureAwait(false);
        }

        var observation = Observe(deployment, revision);
        if (observation.ReplicaFailureMessage is { } replicaFailure)
        {
            await _events.RecordAsync(model, EventType.Warning, ServingConditions.ReplicaFailure,
                $"Pods of revision {revision} cannot be created: {replicaFailure}", cancellationToken).ConfigureAwait(false);
        }
        if (observation.UnschedulablePods > 0)
        {
            await _events.RecordAsync(model, EventType.Warning, ServingConditions.Unschedulable,
                $"{observation.UnschedulablePods} pod(s) of revision {revision} cannot be scheduled: {observation.UnschedulableMessage}", cancellationToken).ConfigureAwait(false);
        }
        if (observation.FailingPods > 0)
        {
            await _events.RecordAsync(model, EventType.Warning, ServingConditions.PodsFailing,
                $"{observation.FailingPods} pod(s) of revision {revision} failing: {observation.FailingMessage}", cancellationToken).ConfigureAwait(false);
        }
        if (observation.StalledMessage is { } stalled)
        {
            await _events.RecordAsync(model, EventType.Warning, ServingConditions.ProgressDeadlineExceeded,
                $"Revision {revision} stopped progressing: {stalled}", cancellationToken).ConfigureAwait(false);
        }
        var verification = await _verifier.VerifyAsync(model, pin, Now(), cancellationToken).ConfigureAwait(false);
        var conditions = IntegrityStatus.Conditions(model.Status?.Conditions, pin, verification, generation, Now());
        var assessment = ServingConditions.Assess(conditions, observation, generation, Now());
        var stable = new TrackStatus
        {
            Revision = revision,
            ModelSource = valid.Source.Uri,
            ModelDigest = valid.Source.Digest,
            ShortDigest = valid.Source.Sha256Hex?[..12],
            Replicas = observation.DesiredReplicas,
            ReadyReplicas = observation.ReadyReplicas,
            UpdatedReplicas = observation.UpdatedReplicas,
            UnschedulableReplicas = observation.UnschedulablePods,
        };
        var status = IntegrityStatus.Apply(Status(model, assessment, stable), pin, verification, _layers, model.Status);
        await WriteStatusAsync(model, status, cancellationToken).ConfigureAwait(false);
        // The next integrity check is timed by the queue, not by a timer.
        return ReconcileResult.After(verification.NextCheckIn);
    }

    private DateTimeOffset Now()
    {
        // metav1.Time has second precision; finer times would never compare equal after a round trip.
        var now = _time.GetUtcNow();
        return new DateTimeOffset(now.Ticks - now.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
    }

    /// <summary>The running Deployment is the authority on which model version it serves; status is the fallback.</summary>
    private static string StableRevision(GruModel model, V1Deployment? existing, ModelSource desired)
    {
        if (existing?.Metadata.Labels?.TryGetValue(Labels.Revision, out var revision) == true)
        {
            var annotations = existing.Metadata.Annotations;
            var source = (annotations is null ? null : annotations.TryGetValue(Labels.ModelSourceAnnotation, out var s) ? s : null);
            var sha = (annotations is null ? null : annotations.TryGetValue(Labels.ModelSha256Annotation, out var h) ? h : null);
            return RevisionPolicy.Next(revision, source, string.IsNullOrEmpty(sha) ? null : sha, desired);
        }
        var stable = model.Status?.Stable;
        return RevisionPolicy.Next(stable?.Revision, stable?.ModelSource, ModelDigest.TryParse(stable?.ModelDigest)?.Hex, desired);
    }

    private TrackObservation Observe(V1Deployment deployment, string revision)
    {
        var desired = deployment.Spec.Replicas ?? 1;
        var status = deployment.Status;
        var templateObserved = (status?.ObservedGeneration ?? 0) >= (deployment.Metadata.Generation ?? 0);
        var pods = _pods.List(deployment.Metadata.NamespaceProperty, pod =>
            LabelOf(pod, Labels.Model) == deployment.Spec.Selector.MatchLabels[Labels.Model]
            && LabelOf(pod, Labels.Track) == Tracks.StableLabel
            && pod.Metadata.DeletionTimestamp is null);
        var unschedulable = pods.Select(PodDiagnosis.Unschedulable).Where(m => m is not null).ToList();
        var failing = pods.Select(PodDiagnosis.Failure).Where(m => m is not null).ToList();
        var conditions = (status?.Conditions ?? []).Select(c => new WorkloadCondition(c.Type, c.Status, c.Reason, c.Message)).ToList();
        return new TrackObservation(
            desired,
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

    private static string? LabelOf(V1Pod pod, string label) =>
        pod.Metadata.Labels is { } labels && labels.TryGetValue(label, out var value) ? value : null;

    private static GruModelStatus Status(GruModel model, ServingAssessment assessment, TrackStatus? stable) => new()
    {
        ObservedGeneration = model.Metadata.Generation,
        Phase = assessment.Phase,
        Message = assessment.Message,
        Conditions = [.. assessment.Conditions],
        Ready = stable is null ? null : $"{stable.ReadyReplicas}/{stable.Replicas}",
        Stable = stable,
        Canary = model.Status?.Canary,
        ServedModels = model.Status?.ServedModels,
        History = model.Status?.History,
    };

    /// <summary>One status write per reconcile, skipped when nothing changed (Argo's persistRolloutStatus).</summary>
    private async Task WriteStatusAsync(GruModel model, GruModelStatus status, CancellationToken cancellationToken)
    {
        if (model.Status is not null && KubernetesJson.Serialize(model.Status) == KubernetesJson.Serialize(status)) return;
        // The cached object is shared with every reader: write from a private copy. It keeps the resourceVersion the
        // status was computed from, so if the object changed meanwhile the write is refused (409) and the controller
        // reconciles again from fresh state instead of landing this status on a newer object.
        // A shallow copy is enough: the write only reads it (a JSON round trip of the whole object cost a serialize and a
        // parse per write).
        var copy = new GruModel { ApiVersion = model.ApiVersion, Kind = model.Kind, Metadata = model.Metadata, Spec = model.Spec, Status = status };
        await _client.ReplaceStatusAsync(copy, cancellationToken).ConfigureAwait(false);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "GruModel {Key} refused: {Message}")]
        public static partial void InvalidSpec(ILogger logger, string key, string message);
    }
}
