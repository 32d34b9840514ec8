using ControllerRuntime.Controllers;
using ControllerRuntime.Events;
using ControllerRuntime.Finalizers;
using ControllerRuntime.Informers;
using ControllerRuntime.Resources;
using GruOperator.Api;
using GruOperator.Domain.Conditions;
using GruOperator.Domain.Rollout;
using GruOperator.Integrity;
using GruOperator.ModelResolution;
using GruOperator.Rollout;
using GruOperator.Scaling;
using GruOperator.Serving;
using GruServing.Contract.Serving;
using k8s;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GruOperator.Reconciliation;

/// <summary>
/// Reconciles one GruModel, level-triggered: finalizer, validation, then the rollout recomputed from observed state:
/// observe both tracks, decide (<see cref="CanaryRollout.Decide"/>; with an analysis run when the decision asks for one),
/// apply the desired Deployments, write status once, carry out the other actions. Early returns, no branching on event types.
/// </summary>
internal sealed partial class GruModelReconciler : IReconciler
{
    /// <summary>The shortest timed requeue: a decision due "now" still lets the status write's own watch event land first.</summary>
    private static readonly TimeSpan MinRequeue = TimeSpan.FromSeconds(1);

    private readonly ResourceCache<GruModel> _models;
    private readonly CustomResourceClient<GruModel> _client;
    private readonly EventRecorder _events;
    private readonly FinalizerRegistry<GruModel> _finalizers;
    private readonly RolloutObserver _observer;
    private readonly AnalysisRunner _analysis;
    private readonly ModelAutoscaler _autoscaler;
    private readonly RolloutExecutor _executor;
    private readonly IPromotionGateSource _gates;
    private readonly RolloutMetrics _metrics;
    private readonly ModelPinner _pinner;
    private readonly ServedModelVerifier _verifier;
    private readonly LayerDigestIndex _layers;
    private readonly bool _verifyServedModels;
    private readonly string _defaultImage;
    private readonly Tenancy.TenantBounds _bounds;
    private readonly TimeProvider _time;
    private readonly ILogger<GruModelReconciler> _logger;

    public GruModelReconciler(
        ResourceCache<GruModel> models,
        CustomResourceClient<GruModel> client,
        EventRecorder events,
        FinalizerRegistry<GruModel> finalizers,
        RolloutObserver observer,
        AnalysisRunner analysis,
        ModelAutoscaler autoscaler,
        RolloutExecutor executor,
        IPromotionGateSource gates,
        RolloutMetrics metrics,
        ModelPinner pinner,
        ServedModelVerifier verifier,
        LayerDigestIndex layers,
        IOptions<Hosting.OperatorOptions> options,
        Tenancy.TenantBounds bounds,
        TimeProvider time,
        ILogger<GruModelReconciler> logger)
    {
        _models = models;
        _client = client;
        _events = events;
        _finalizers = finalizers;
        _observer = observer;
        _analysis = analysis;
        _autoscaler = autoscaler;
        _executor = executor;
        _gates = gates;
        _metrics = metrics;
        _pinner = pinner;
        _verifier = verifier;
        _layers = layers;
        _defaultImage = options.Value.DefaultServerImage;
        _bounds = bounds;
        _verifyServedModels = options.Value.VerifyServedModels;
        _time = time;
        _logger = logger;
    }

    public async Task<ReconcileResult> ReconcileAsync(ReconcileRequest request, CancellationToken cancellationToken)
    {
        var model = _models.Get(request.Namespace, request.Name);
        if (model is null)
        {
            _metrics.Forget(request.Namespace ?? "", request.Name);
            _verifier.Forget(request.Namespace ?? "", request.Name);
            _autoscaler.Forget(request.Namespace ?? "", request.Name);
            return ReconcileResult.Done;
        }

        var (deleting, current) = await _finalizers.ApplyAsync(model, _client.PatchFinalizersAsync, cancellationToken).ConfigureAwait(false);
        if (deleting) return ReconcileResult.Done;
        model = current;

        var generation = model.Metadata.Generation ?? 0;
        var now = Now();
        var (valid, problems) = SpecValidator.Validate(model.Spec, _defaultImage, _bounds);
        if (valid is null)
        {
            var message = "Invalid spec: " + string.Join("; ", problems) + ".";
            Log.InvalidSpec(_logger, request.ToString(), message);
            await _events.RecordAsync(model, EventType.Warning, PhaseRules.InvalidSpecReason, message, cancellationToken).ConfigureAwait(false);
            var refused = ServingConditions.Refuse(model.Status?.Conditions, message, generation, now);
            await WriteStatusAsync(model, Refused(model, refused), cancellationToken).ConfigureAwait(false);
            // A user error: no retry storm. The next spec edit triggers a new reconcile.
            return ReconcileResult.Done;
        }

        // oci:// sources are pinned to a digest first: the pinned source is what every Deployment names (never a tag).
        var pin = await _pinner.PinAsync(model, valid.Source, now, cancellationToken).ConfigureAwait(false);
        if (pin.Failure is not null)
        {
            // Nothing new is deployed; whatever already serves keeps serving until the registry answers.
            await WriteStatusAsync(model, IntegrityStatus.Unpinned(model, pin, generation, now), cancellationToken).ConfigureAwait(false);
            return ReconcileResult.After(pin.RetryAfter);
        }
        valid = valid with { Source = pin.Source };

        // The served-model check runs before the decision: its result is the canary's promotion gate.
        var verification = _verifyServedModels
            ? await _verifier.VerifyAsync(model, pin, now, cancellationToken).ConfigureAwait(false)
            : new VerificationOutcome(null, ServedModelVerifier.Interval(model));
        var observed = _observer.Observe(model);
        // Load-driven replicas: the count for the whole model, decided before the rollout splits it between the tracks.
        var autoscaling = await _autoscaler.DecideAsync(model, observed, now, cancellationToken).ConfigureAwait(false);
        var command = RolloutCommandAnnotation.Read(model);
        var state = RolloutStatusMapping.ToState(model.Status);
        var desired = ModelIdentity.Of(valid.Source);
        var gate = await _gates.GateAsync(model, state.Canary?.Model ?? desired, cancellationToken).ConfigureAwait(false);
        var input = new RolloutInput(
            generation, desired, ServingReplicas.Effective(model.Spec, autoscaling?.Status), RolloutSpecMapping.ToPlan(model.Spec), state,
            observed.Stable?.Track, observed.Canary?.Track, Analysis: null, command.Command, gate, now);
        var decision = CanaryRollout.Decide(input);
        if (decision.Actions.OfType<RunAnalysis>().FirstOrDefault() is { } run)
        {
            input = input with { Analysis = await _analysis.RunAsync(model, decision.Status.Stable!.Revision, run, cancellationToken).ConfigureAwait(false) };
            decision = CanaryRollout.Decide(input);
        }

        // Desired state first; when an apply changed a Deployment, decide again from what it now holds (same time, same
        // run), so status never calls a track ready at a template its controller has not rolled out yet.
        var applied = await _executor.EnsureAsync(model, decision.Actions, observed, pin.Registry.Secret, cancellationToken).ConfigureAwait(false);
        if (applied.Changed)
        {
            observed = _observer.Observe(model, applied.Stable, applied.Canary);
            decision = CanaryRollout.Decide(input with { Stable = observed.Stable?.Track, Canary = observed.Canary?.Track });
        }

        // Status before the other actions: if the write is refused (409, the object moved on) nothing below happens and
        // the next reconcile decides again from fresh state, so an Event, a deletion or an acknowledged command is never
        // carried out for a status that was not kept.
        var status = Status(model, decision, observed);
        status.Autoscaling = autoscaling?.Status;
        status.Conditions = [.. IntegrityStatus.Conditions(status.Conditions, pin, verification, generation, now)];
        // A pod serving the wrong model outranks the rollout's phase: the service answers, but not with what was asked for.
        if (ConditionSet.Find(status.Conditions, ConditionTypes.ModelVerified)?.Status == Condition.False) status.Phase = ModelPhase.Degraded;
        var written = await WriteStatusAsync(model, IntegrityStatus.Apply(status, pin, verification, _layers, model.Status), cancellationToken).ConfigureAwait(false);
        _metrics.Record(model.Metadata.NamespaceProperty, model.Metadata.Name, decision);
        if (autoscaling is not null) _autoscaler.Recorded(written, autoscaling);
        await _executor.ExecuteAsync(written, decision.Actions, observed, cancellationToken).ConfigureAwait(false);
        if (autoscaling?.Decision is { Scaled: true } scaled)
        {
            await _events.RecordAsync(written, EventType.Normal, scaled.Reason, $"Replicas {scaled.From} → {scaled.Replicas}: {autoscaling.Status.Message}", cancellationToken).ConfigureAwait(false);
        }
        if (command.Unknown is { } unknown)
        {
            await _events.RecordAsync(written, EventType.Warning, RolloutReasons.CommandIgnored,
                $"{RolloutCommandAnnotation.Name}={unknown} is not an action: use {RolloutCommandAnnotation.Choices}.", cancellationToken).ConfigureAwait(false);
            await _executor.RemoveCommandAsync(written, cancellationToken).ConfigureAwait(false);
        }
        // The next integrity check is timed by the queue as well, not by a timer.
        var next = decision.RequeueAfter is { } after && after < verification.NextCheckIn ? after : verification.NextCheckIn;
        if (autoscaling is not null && autoscaling.NextIn < next) next = autoscaling.NextIn;
        return ReconcileResult.After(next < MinRequeue ? MinRequeue : next);
    }

    private DateTimeOffset Now()
    {
        // metav1.Time has second precision; finer times would never compare equal after a round trip.
        var now = _time.GetUtcNow();
        return new DateTimeOffset(now.Ticks - now.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
    }

    /// <summary>The rollout's status (RolloutStatusMapping) with the stable track's replica counts as observed.</summary>
    private static GruModelStatus Status(GruModel model, RolloutDecision decision, RolloutObservation observed)
    {
        var stable = observed.Stable?.Track.Workload;
        var replicas = stable?.DesiredReplicas ?? decision.Actions.OfType<EnsureStable>().Single().Replicas;
        var status = new GruModelStatus
        {
            ObservedGeneration = model.Metadata.Generation,
            Ready = $"{stable?.ReadyReplicas ?? 0}/{replicas}",
            Replicas = ServingReplicas.Running(observed),
            Selector = ServingReplicas.Selector(model.Metadata.Name),
            Stable = new TrackStatus
            {
                Replicas = replicas,
                ReadyReplicas = stable?.ReadyReplicas ?? 0,
                UpdatedReplicas = stable?.UpdatedReplicas ?? 0,
                UnschedulableReplicas = stable?.UnschedulablePods ?? 0,
            },
            ServedModels = model.Status?.ServedModels,
        };
        RolloutStatusMapping.Apply(status, decision, model.Status);
        return status;
    }

    /// <summary>A refused spec: the conditions say why; what the rollout last recorded stays as it was.</summary>
    private static GruModelStatus Refused(GruModel model, ServingAssessment assessment) => new()
    {
        ObservedGeneration = model.Metadata.Generation,
        Phase = assessment.Phase,
        Message = assessment.Message,
        Conditions = [.. assessment.Conditions],
        Ready = model.Status?.Ready,
        Replicas = model.Status?.Replicas,
        Selector = model.Status?.Selector,
        Stable = model.Status?.Stable,
        Canary = model.Status?.Canary,
        RolledBack = model.Status?.RolledBack,
        ServedModels = model.Status?.ServedModels,
        History = model.Status?.History,
        Autoscaling = model.Status?.Autoscaling,
    };

    /// <summary>
    /// One status write per reconcile, skipped when nothing changed (Argo's persistRolloutStatus). Returns the object as it
    /// now is, so later writes (the command annotation's removal) carry the resourceVersion the status was written at.
    /// </summary>
    private async Task<GruModel> WriteStatusAsync(GruModel model, GruModelStatus status, CancellationToken cancellationToken)
    {
        if (model.Status is not null && KubernetesJson.Serialize(model.Status) == KubernetesJson.Serialize(status)) return model;
        // The cached object is shared with every reader: write from a private copy. It keeps the resourceVersion the
        // status was computed from, so if the object changed meanwhile the write is refused (409) and the controller
        // reconciles again from fresh state instead of landing this status on a newer object.
        // A shallow copy is enough: the write only reads it (a JSON round trip of the whole object cost a serialize and a
        // parse per write).
        var copy = new GruModel { ApiVersion = model.ApiVersion, Kind = model.Kind, Metadata = model.Metadata, Spec = model.Spec, Status = status };
        return await _client.ReplaceStatusAsync(copy, cancellationToken).ConfigureAwait(false);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "GruModel {Key} refused: {Message}")]
        public static partial void InvalidSpec(ILogger logger, string key, string message);
    }
}
