using GruOperator.Api;
using k8s;
using k8s.Models;

namespace GruOperator.Rollout;

/// <summary>
/// Removes the <c>serving.gru.dev/action</c> annotation once its command was acted on (or refused with an Event): the one
/// way the rollout and the model pinner acknowledge a command. A JSON patch tests the annotation still holds the value
/// that was read, then removes it: a newer command written meanwhile is kept for the next reconcile, and changes to
/// anything else (status, other annotations) do not make the removal fail.
/// </summary>
internal sealed class ActionAnnotationRemover(IKubernetes client, string fieldManager)
{
    /// <summary>Removes the annotation from <paramref name="model"/> if it still holds the value <paramref name="model"/> carries.</summary>
    public async Task RemoveAsync(GruModel model, CancellationToken cancellationToken)
    {
        if (model.Metadata.Annotations?.TryGetValue(RolloutCommandAnnotation.Name, out var value) != true)
        {
            return;
        }

        // RFC 6901: "/" in a key is written "~1" (and "~" as "~0").
        var path = "/metadata/annotations/" + RolloutCommandAnnotation.Name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);
        var patch = new V1Patch(KubernetesJson.Serialize(new object[]
        {
            new { op = "test", path, value },
            new { op = "remove", path },
        }), V1Patch.PatchType.JsonPatch);
        try
        {
            await client.CustomObjects.PatchNamespacedCustomObjectAsync(patch, GruModel.Group, GruModel.Version, model.Metadata.NamespaceProperty,
                GruModel.Plural, model.Metadata.Name, fieldManager: fieldManager, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (k8s.Autorest.HttpOperationException e) when ((int)e.Response.StatusCode is 409 or 422)
        {
            // The annotation changed or went meanwhile (another command, or a human): the new value is the next reconcile's.
        }
    }
}
