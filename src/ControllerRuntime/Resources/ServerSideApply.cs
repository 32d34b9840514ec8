using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;

namespace ControllerRuntime.Resources;

/// <summary>What an apply returned: the object as the cluster holds it, and whether a request was sent.</summary>
public readonly record struct ApplyResult<T>(T Object, bool Sent);

/// <summary>Server-side apply of built-in kinds under one field manager, skipped when the cached object already matches.</summary>
/// <remarks>
/// Apply with force: the operator owns every field it sets (drift by hand is taken back), while fields it does not set,
/// such as replicas once an HPA owns them, stay with their managers. A level-triggered reconciler applies on every
/// wake-up (pod and status changes included), and nearly all of those applies change nothing; each one still costs the
/// API server a full admission and merge. So the informer's copy is checked first (<see cref="AppliedConfiguration"/>)
/// and the request is sent only when it differs from what would be applied.
/// </remarks>
public sealed class ServerSideApply(IKubernetes client, string fieldManager, string hashAnnotation)
{
    /// <summary>The field manager name every apply uses.</summary>
    public string FieldManager { get; } = fieldManager;

    /// <summary>Applies <paramref name="desired"/> unless <paramref name="cached"/> (the informer's copy) already matches it.</summary>
    public Task<ApplyResult<V1Deployment>> ApplyAsync(V1Deployment desired, V1Deployment? cached, CancellationToken cancellationToken) =>
        ApplyAsync(desired, cached, patch => client.AppsV1.PatchNamespacedDeploymentAsync(
            patch, desired.Metadata.Name, desired.Metadata.NamespaceProperty,
            fieldManager: FieldManager, force: true, cancellationToken: cancellationToken));

    /// <summary>Applies <paramref name="desired"/> unless <paramref name="cached"/> (the informer's copy) already matches it.</summary>
    public Task<ApplyResult<V1Service>> ApplyAsync(V1Service desired, V1Service? cached, CancellationToken cancellationToken) =>
        ApplyAsync(desired, cached, patch => client.CoreV1.PatchNamespacedServiceAsync(
            patch, desired.Metadata.Name, desired.Metadata.NamespaceProperty,
            fieldManager: FieldManager, force: true, cancellationToken: cancellationToken));

    // One skip-or-apply rule for every kind; only the typed patch call differs, as KubernetesClient's methods are per kind.
    private async Task<ApplyResult<T>> ApplyAsync<T>(T desired, T? cached, Func<V1Patch, Task<T>> patch)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var body = AppliedConfiguration.Stamp(desired, hashAnnotation);
        if (cached is not null && AppliedConfiguration.Matches(body, cached, hashAnnotation)) return new(cached, false);
        // JSON is YAML, so the apply body can be the object's JSON.
        var stored = await patch(new V1Patch(body.ToJsonString(), V1Patch.PatchType.ApplyPatch)).ConfigureAwait(false);
        return new(stored, true);
    }
}

/// <summary>
/// Decides, without a request, whether a server-side apply of a desired object would change the live one: pure, so the
/// drift rules can be table-tested.
/// </summary>
/// <remarks>
/// Two checks, both needed. (1) Every field the apply sets has that value in the live object (fields the server defaults
/// or other managers own are ignored): a hand edit of an owned field fails it. (2) A hash of the whole apply body, stored
/// in an annotation by the apply itself, equals the live one: a field the operator stopped setting (which the apply
/// would remove) is invisible to (1) but changes the hash. A list whose length differs (another manager added an
/// element) fails (1) and is simply applied: a wasted request, never a missed one.
/// </remarks>
public static class AppliedConfiguration
{
    /// <summary>The apply body of <paramref name="desired"/> with its hash stamped into <paramref name="hashAnnotation"/>.</summary>
    public static JsonNode Stamp(IKubernetesObject<V1ObjectMeta> desired, string hashAnnotation)
    {
        var json = KubernetesJson.Serialize(desired);
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(json)))[..16];
        var body = JsonNode.Parse(json)!;
        var metadata = body["metadata"] ??= new JsonObject();
        var annotations = metadata["annotations"] ??= new JsonObject();
        annotations[hashAnnotation] = hash;
        return body;
    }

    /// <summary>Whether <paramref name="live"/> already holds every field of the stamped <paramref name="body"/>.</summary>
    public static bool Matches(JsonNode body, IKubernetesObject<V1ObjectMeta> live, string hashAnnotation)
    {
        var hash = body["metadata"]?["annotations"]?[hashAnnotation]?.GetValue<string>();
        if (live.Metadata.Annotations is null || !live.Metadata.Annotations.TryGetValue(hashAnnotation, out var liveHash) || liveHash != hash) return false;
        var current = JsonNode.Parse(KubernetesJson.Serialize(live))!.AsObject();
        foreach (var (name, value) in body.AsObject())
        {
            // List items carry no apiVersion/kind; the URL the apply goes to fixes both anyway.
            if (name is "apiVersion" or "kind") continue;
            if (!Covers(value, current[name])) return false;
        }
        return true;
    }

    /// <summary>Whether <paramref name="live"/> holds every field of <paramref name="desired"/> with the same value.</summary>
    public static bool Covers(JsonNode? desired, JsonNode? live)
    {
        switch (desired)
        {
            case null:
                return true;
            case JsonObject wanted:
                // An empty object (emptyDir: {}, resources: {}) sets nothing; servers may omit it.
                if (wanted.Count == 0) return live is null or JsonObject;
                if (live is not JsonObject have) return false;
                foreach (var (name, value) in wanted)
                {
                    if (!Covers(value, have[name])) return false;
                }
                return true;
            case JsonArray wantedItems:
                if (wantedItems.Count == 0) return live is null || live is JsonArray { Count: 0 };
                if (live is not JsonArray haveItems || haveItems.Count != wantedItems.Count) return false;
                for (var i = 0; i < wantedItems.Count; i++)
                {
                    if (!Covers(wantedItems[i], haveItems[i])) return false;
                }
                return true;
            default:
                return live is JsonValue && JsonNode.DeepEquals(desired, live);
        }
    }
}
