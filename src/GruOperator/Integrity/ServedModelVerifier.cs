using ControllerRuntime.Events;
using ControllerRuntime.Informers;
using GruOperator.Api;
using GruOperator.ModelResolution;
using GruOperator.Serving;
using GruRegistry.Distribution;
using GruServing.Contract.Durations;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace GruOperator.Integrity;

/// <summary>A check that ran (<see cref="Report"/>) or was not due yet; either way, when the next one is due.</summary>
internal sealed record VerificationOutcome(ServedModelReport? Report, TimeSpan NextCheckIn);

/// <summary>
/// Continuous verification, timed by the reconcile's requeue-after (no timer of its own): every integrity.verifyInterval,
/// and at once when the number of ready pods changes, asks every ready pod of the model which digest it loaded and
/// compares it with the digest pinned for its track and revision. A pod that does not answer is unverified, never
/// verified. On a mismatch: a Warning Event and the metric; with onMismatch Rollback the pod is also deleted so its
/// ReplicaSet recreates it from the pinned template (a hand-edited Deployment is already restored by server-side apply).
/// </summary>
internal sealed partial class ServedModelVerifier(
    ResourceCache<V1Pod> pods,
    ResourceCache<V1Deployment> deployments,
    ServedDigestProbe probe,
    LayerDigestIndex layers,
    EventRecorder events,
    IKubernetes client,
    IntegrityMetrics metrics,
    CanaryPromotionGate gate,
    ILogger<ServedModelVerifier> logger)
{
    private static readonly TimeSpan DefaultInterval = TimeSpan.FromMinutes(1);

    /// <summary>spec.integrity.verifyInterval, or its default (1m) when integrity is not set.</summary>
    public static TimeSpan Interval(GruModel model) =>
        GoDuration.TryParse(model.Spec.Integrity?.VerifyInterval, out var interval, out _) && interval > TimeSpan.Zero ? interval : DefaultInterval;

    /// <summary>Forgets a deleted model's gate and mismatch series.</summary>
    public void Forget(string @namespace, string model)
    {
        metrics.Forget(@namespace, model);
        gate.Forget(@namespace, model);
    }

    /// <summary>Checks the model's ready pods when a check is due; <paramref name="pin"/> supplies the registry credentials.</summary>
    public async Task<VerificationOutcome> VerifyAsync(GruModel model, ModelPin pin, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var ns = model.Metadata.NamespaceProperty;
        var name = model.Metadata.Name;
        var interval = Interval(model);
        var ready = ReadyPods(ns, name);
        var last = model.Status?.ServedModels;
        var checkedPods = last is null ? -1 : last.Verified + last.Mismatched + last.Unverified;
        if (last?.LastCheck is { } lastCheck && now - lastCheck < interval && checkedPods == ready.Count)
        {
            return new VerificationOutcome(null, Remaining(lastCheck + interval - now));
        }

        var expected = new Dictionary<string, (string? Revision, string? Digest, string? Unknown)>(StringComparer.Ordinal);
        foreach (var track in ready.Select(p => LabelOf(p, Labels.Track) ?? "").Distinct())
        {
            expected[track] = await ExpectedAsync(ns, name, track, pin, cancellationToken).ConfigureAwait(false);
        }

        var checks = new PodCheck[ready.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, ready.Count), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                var pod = ready[i];
                var track = LabelOf(pod, Labels.Track) ?? "";
                var (revision, digest, unknown) = expected[track];
                var podRevision = LabelOf(pod, Labels.Revision);
                if (revision is not null && podRevision != revision)
                {
                    // Counted, not skipped: a pod outside the track's revision is either being replaced or was made by hand.
                    unknown = $"revision {podRevision} is not the {track} track's revision {revision} (being replaced)";
                    digest = null;
                }
                var answer = await probe.AskAsync(pod.Status.PodIP, ServingWorkloadBuilder.HttpPort, model.Spec.Model.Name, ct).ConfigureAwait(false);
                checks[i] = PodCheck.Of(pod.Metadata.Name, pod.Metadata.Uid, track, digest, unknown, answer.Digest, answer.Error);
            }).ConfigureAwait(false);

        var report = new ServedModelReport(checks.OrderBy(c => c.Pod, StringComparer.Ordinal).ToList(), now);
        var mismatched = report.Mismatched.ToList();
        metrics.Record(ns, name, mismatched.Count);
        gate.Record(ns, name, report);
        if (mismatched.Count > 0)
        {
            var condition = report.Condition(model.Metadata.Generation ?? 0, now);
            Log.Mismatch(logger, $"{ns}/{name}", condition.Message);
            await events.RecordAsync(model, EventType.Warning, IntegrityReasons.DigestMismatch, condition.Message, cancellationToken).ConfigureAwait(false);
            if ((model.Spec.Integrity?.OnMismatch ?? MismatchAction.Rollback) == MismatchAction.Rollback)
            {
                foreach (var pod in mismatched) await DeleteAsync(model, pod, cancellationToken).ConfigureAwait(false);
            }
        }
        return new VerificationOutcome(report, interval);
    }

    /// <summary>What pods of <paramref name="track"/> must serve: from the track's Deployment, which names the pinned model.</summary>
    private async Task<(string? Revision, string? Digest, string? Unknown)> ExpectedAsync(string ns, string name, string track, ModelPin pin, CancellationToken cancellationToken)
    {
        var deployment = deployments.Get(ns, ServingWorkloadBuilder.DeploymentName(name, track));
        if (deployment is null) return (null, null, $"no {track} Deployment");
        var revision = Value(deployment.Metadata.Labels, Labels.Revision);
        var source = Value(deployment.Metadata.Annotations, Labels.ModelSourceAnnotation) ?? "";
        if (!source.StartsWith("oci://", StringComparison.Ordinal))
        {
            var sha = Value(deployment.Metadata.Annotations, Labels.ModelSha256Annotation);
            return string.IsNullOrEmpty(sha) ? (revision, null, $"the {track} Deployment pins no sha256") : (revision, "sha256:" + sha, null);
        }

        if (pin.Resolved is { LayerDigest: { } known } resolved && resolved.Reference == source) return (revision, known, null);
        try
        {
            return (revision, await layers.LayerOfAsync(source, pin.Registry.Credentials, cancellationToken).ConfigureAwait(false), null);
        }
        catch (RegistryException e)
        {
            return (revision, null, $"the layer digest of {source} is unknown (registry: {e.Message})");
        }
    }

    private async Task DeleteAsync(GruModel model, PodCheck pod, CancellationToken cancellationToken)
    {
        try
        {
            await client.CoreV1.DeleteNamespacedPodAsync(pod.Pod, model.Metadata.NamespaceProperty,
                new V1DeleteOptions { Preconditions = new V1Preconditions { Uid = pod.Uid } }, cancellationToken: cancellationToken).ConfigureAwait(false);
            await events.RecordAsync(model, EventType.Warning, IntegrityReasons.MismatchedPodDeleted,
                $"Deleted pod {pod.Pod}: it served {pod.Served}, not the pinned {pod.Expected}; its ReplicaSet recreates it from the pinned model (integrity.onMismatch Rollback).",
                cancellationToken).ConfigureAwait(false);
        }
        catch (k8s.Autorest.HttpOperationException e) when ((int)e.Response.StatusCode is 404 or 409)
        {
            // Already gone or replaced: the next check sees its successor.
        }
    }

    /// <summary>The model's ready pods with an IP, not being deleted.</summary>
    private List<V1Pod> ReadyPods(string ns, string name) =>
        pods.List(ns, pod =>
            LabelOf(pod, Labels.Model) == name
            && pod.Metadata.DeletionTimestamp is null
            && !string.IsNullOrEmpty(pod.Status?.PodIP)
            && pod.Status.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true).ToList();

    private static TimeSpan Remaining(TimeSpan left) => left < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : left;

    private static string? Value(IDictionary<string, string>? map, string key) => map is not null && map.TryGetValue(key, out var value) ? value : null;

    private static string? LabelOf(V1Pod pod, string label) =>
        pod.Metadata.Labels is { } labels && labels.TryGetValue(label, out var value) ? value : null;

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "GruModel {Key}: served model mismatch: {Message}")]
        public static partial void Mismatch(ILogger logger, string key, string message);
    }
}
