using ControllerRuntime.Events;
using ControllerRuntime.Queues;
using GruOperator.Api;
using GruOperator.Domain.Rollout;
using GruRegistry.Distribution;
using GruRegistry.Models;
using GruRegistry.References;
using GruServing.Contract.Durations;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace GruOperator.ModelResolution;

/// <summary>
/// Pins an oci:// spec.model.source to a manifest digest on reconcile and keeps the pin in status.resolvedModel: a tag is
/// resolved once, then only compared (every integrity.verifyInterval) so a moved tag is reported (TagMoved) but changes
/// nothing served until spec.model changes or <c>serving.gru.dev/action=re-resolve</c>. A digest reference needs no
/// registry call to deploy. When the registry or the Secret fails, nothing new is deployed and the caller retries with
/// backoff: what serves keeps serving.
/// </summary>
internal sealed partial class ModelPinner(
    DistributionClientFactory registries,
    RegistrySecretReader secrets,
    EventRecorder events,
    IKubernetes client,
    Rollout.ActionAnnotationRemover commands,
    ILogger<ModelPinner> logger)
{
    /// <summary>The annotation value this class owns on serving.gru.dev/action (the rollout owns promote/abort/resume/retry).</summary>
    public const string ReResolveAction = Rollout.RolloutCommandAnnotation.ReResolve;

    /// <summary>The manual-action annotation (the kubectl plugin writes the same).</summary>
    public const string ActionAnnotation = Rollout.RolloutCommandAnnotation.Name;

    private static readonly TimeSpan DefaultTagCheckInterval = TimeSpan.FromMinutes(1);

    // Per model: a registry that stays down is asked less and less often (5 s doubling to 5 min).
    private readonly ExponentialBackoff _backoff = new(TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5));

    /// <summary>Pins <paramref name="source"/> (spec.model parsed) for <paramref name="model"/>.</summary>
    public async Task<ModelPin> PinAsync(GruModel model, ModelSource source, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (source.Kind != ModelSourceKind.Oci) return ModelPin.Direct(source);
        var key = $"{model.Metadata.NamespaceProperty}/{model.Metadata.Name}";
        try
        {
            var pin = await PinOciAsync(model, source, now, cancellationToken).ConfigureAwait(false);
            _backoff.Forget(key);
            return pin;
        }
        catch (ModelResolutionException e)
        {
            var retry = _backoff.NextDelay(key);
            Log.ResolutionFailed(logger, key, e.Reason, e.Message, retry);
            await events.RecordAsync(model, EventType.Warning, e.Reason, $"{e.Message}; retrying in {GoDuration.Format(retry)}, what serves keeps serving.", cancellationToken).ConfigureAwait(false);
            return new ModelPin(source, RegistryAccess.Anonymous, model.Status?.ResolvedModel, e.Reason, e.Message, e, retry);
        }
    }

    private async Task<ModelPin> PinOciAsync(GruModel model, ModelSource source, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!OciReference.TryParse(source.Uri, out var reference, out var error))
        {
            throw new ModelResolutionException(ModelResolutionReasons.RegistryError, transient: false, $"spec.model.source: {error}");
        }

        var access = await secrets.ReadAsync(model.Metadata.NamespaceProperty, model.Spec.Model.RegistrySecretRef?.Name, reference.Registry, cancellationToken)
            .ConfigureAwait(false);
        var previous = model.Status?.ResolvedModel;

        var reResolve = IsReResolveAsked(model);

        // A digest in the reference (or spec.model.sha256) already pins the model: deploy it without asking the registry.
        if (source.Sha256Hex is { } hex)
        {
            if (reResolve)
            {
                await events.RecordAsync(model, EventType.Normal, ModelResolutionReasons.ReResolved,
                    $"Nothing to re-resolve: {source.Uri} is pinned by digest; change spec.model to serve another model.", cancellationToken).ConfigureAwait(false);
                await AcknowledgeReResolveAsync(model, cancellationToken).ConfigureAwait(false);
            }

            var pinned = PinByDigest(source)!;
            var same = previous?.Reference == pinned.Uri;
            var resolved = new ResolvedModelStatus
            {
                Source = source.Uri,
                Reference = pinned.Uri,
                Digest = pinned.Digest,
                LayerDigest = same ? previous!.LayerDigest : null,
                ResolvedAt = same ? previous!.ResolvedAt : now,
            };
            return new ModelPin(pinned, access, resolved, ModelResolutionReasons.Resolved, $"Pinned by digest: {pinned.Uri}.");
        }

        var registry = registries.Create(access.Credentials);
        if (previous is { Reference: not null, Digest: not null } && previous.Source == source.Uri && !reResolve)
        {
            return await CheckTagAsync(model, reference, previous, access, registry, now, cancellationToken).ConfigureAwait(false);
        }

        ResolvedModel answer;
        try
        {
            answer = await new ModelArtifactClient(registry).ResolveAsync(reference, cancellationToken).ConfigureAwait(false);
        }
        catch (RegistryException e)
        {
            throw Failure(e);
        }

        var pinnedSource = Pinned(answer.Reference, answer.ManifestDigest);
        var status = new ResolvedModelStatus
        {
            Source = source.Uri,
            Reference = pinnedSource.Uri,
            Digest = answer.ManifestDigest.ToString(),
            LayerDigest = answer.LayerDigest.ToString(),
            ResolvedAt = now,
            TagCheckedAt = now,
        };
        Log.Resolved(logger, source.Uri, status.Reference);
        // Kept before anything else happens: if the reconcile's status write then loses a race (409), the next reconcile
        // must find this pin, not resolve the tag again (it may have moved meanwhile) or miss an acknowledged re-resolve.
        await PersistAsync(model, status, cancellationToken).ConfigureAwait(false);
        if (reResolve)
        {
            var moved = previous?.Digest != status.Digest;
            await events.RecordAsync(model, EventType.Normal, ModelResolutionReasons.ReResolved,
                moved ? $"Re-resolved {source.Uri}: {previous?.Digest ?? "nothing"} -> {status.Digest}; the new digest rolls out."
                      : $"Re-resolved {source.Uri}: it still points to {status.Digest}; nothing changes.", cancellationToken).ConfigureAwait(false);
            await AcknowledgeReResolveAsync(model, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await events.RecordAsync(model, EventType.Normal, ModelResolutionReasons.Resolved,
                $"Resolved {source.Uri} to {status.Digest} (layer {status.LayerDigest}); deployments name {status.Reference}.", cancellationToken).ConfigureAwait(false);
        }
        return new ModelPin(pinnedSource, access, status, ModelResolutionReasons.Resolved, $"{source.Uri} is pinned to {status.Digest}.");
    }

    /// <summary>Keeps the pin and, once per interval, asks where the tag points now (HEAD, no body).</summary>
    private async Task<ModelPin> CheckTagAsync(
        GruModel model, OciReference tag, ResolvedModelStatus previous, RegistryAccess access, DistributionClient registry, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var pinned = Pinned(OciReference.Parse(previous.Reference!), Sha256Digest.Parse(previous.Digest!));
        var interval = TagCheckInterval(model);
        var status = Copy(previous);
        if (previous.TagCheckedAt is { } checkedAt && now - checkedAt < interval)
        {
            return Kept(tag, pinned, status, access);
        }

        try
        {
            var current = (await registry.HeadManifestAsync(tag, cancellationToken).ConfigureAwait(false)).ToString();
            status.TagCheckedAt = now;
            status.TagDigest = current == previous.Digest ? null : current;
            if (status.TagDigest is not null && status.TagDigest != previous.TagDigest)
            {
                await events.RecordAsync(model, EventType.Warning, ModelResolutionReasons.TagMoved,
                    $"{tag} now points to {current}, not the pinned {previous.Digest}; still serving {previous.Digest}: annotate serving.gru.dev/action={ReResolveAction} to move, or pin a digest in spec.model.source.",
                    cancellationToken).ConfigureAwait(false);
            }
            return Kept(tag, pinned, status, access);
        }
        catch (RegistryException e)
        {
            // The pin stands; a failed comparison is worth saying but not worth stopping anything for.
            status.TagCheckedAt = now;
            return new ModelPin(pinned, access, status, ModelResolutionReasons.TagCheckFailed,
                $"Still serving {previous.Digest}; could not check where {tag} points now: {e.Message}.");
        }
    }

    private static ModelPin Kept(OciReference tag, ModelSource pinned, ResolvedModelStatus status, RegistryAccess access) =>
        status.TagDigest is { } moved
            ? new ModelPin(pinned, access, status, ModelResolutionReasons.TagMoved,
                $"{tag} now points to {moved}; still serving the pinned {status.Digest} until spec.model changes or serving.gru.dev/action={ReResolveAction}.")
            : new ModelPin(pinned, access, status, ModelResolutionReasons.Resolved, $"{tag} is pinned to {status.Digest}.");

    private static TimeSpan TagCheckInterval(GruModel model) =>
        GoDuration.TryParse(model.Spec.Integrity?.VerifyInterval, out var interval, out _) && interval > TimeSpan.Zero ? interval : DefaultTagCheckInterval;

    private static bool IsReResolveAsked(GruModel model) =>
        model.Metadata.Annotations?.TryGetValue(ActionAnnotation, out var action) == true
        && string.Equals(action.Trim(), ReResolveAction, StringComparison.OrdinalIgnoreCase);

    /// <summary>Writes status.resolvedModel alone (a merge patch of the status subresource, no resourceVersion needed).</summary>
    private async Task PersistAsync(GruModel model, ResolvedModelStatus status, CancellationToken cancellationToken)
    {
        var patch = new V1Patch(KubernetesJson.Serialize(new { status = new { resolvedModel = status } }), V1Patch.PatchType.MergePatch);
        await client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(patch, GruModel.Group, GruModel.Version, model.Metadata.NamespaceProperty,
            GruModel.Plural, model.Metadata.Name, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes the annotation only while it still says re-resolve, so a newer command is kept.</summary>
    private Task AcknowledgeReResolveAsync(GruModel model, CancellationToken cancellationToken) => commands.RemoveAsync(model, cancellationToken);

    private static ModelResolutionException Failure(RegistryException e) =>
        e.IsTransient
            ? new ModelResolutionException(ModelResolutionReasons.RegistryUnreachable, transient: true, e.Message, e)
            : new ModelResolutionException(ModelResolutionReasons.RegistryError, transient: false, e.Message, e);

    /// <summary>
    /// An oci:// source whose digest is known (in the reference or spec.model.sha256) as the tagless pinned reference;
    /// null for a tag alone. Example: oci://reg/models/m:1.0 with sha256 ab… → oci://reg/models/m@sha256:ab….
    /// </summary>
    public static ModelSource? PinByDigest(ModelSource source) =>
        source.Kind == ModelSourceKind.Oci && source.Sha256Hex is { } hex && OciReference.TryParse(source.Uri, out var reference, out _)
            ? Pinned(reference, Sha256Digest.Parse(ModelDigestPrefix + hex))
            : null;

    private const string ModelDigestPrefix = "sha256:";

    private static ModelSource Pinned(OciReference reference, Sha256Digest digest)
    {
        // The tag is dropped: a Deployment names only the digest, so no reader can mistake the tag for what is served.
        var text = $"{OciReference.Scheme}{reference.Registry}/{reference.Repository}@{digest}";
        return new ModelSource(ModelSourceKind.Oci, text, text[OciReference.Scheme.Length..], digest.Hex);
    }

    private static ResolvedModelStatus Copy(ResolvedModelStatus s) => new()
    {
        Source = s.Source,
        Reference = s.Reference,
        Digest = s.Digest,
        LayerDigest = s.LayerDigest,
        ResolvedAt = s.ResolvedAt,
        TagDigest = s.TagDigest,
        TagCheckedAt = s.TagCheckedAt,
    };

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Resolved {Source} to {Reference}")]
        public static partial void Resolved(ILogger logger, string source, string reference);

        [LoggerMessage(2, LogLevel.Warning, "GruModel {Key}: model not pinned ({Reason}): {Message}; retrying in {Retry}")]
        public static partial void ResolutionFailed(ILogger logger, string key, string reason, string message, TimeSpan retry);
    }
}
