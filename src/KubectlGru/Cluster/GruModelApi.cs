using System.Net;
using System.Text.Json;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace KubectlGru.Cluster;

/// <summary>
/// The GruModel calls the plugin makes, with the API server's refusals turned into sentences that name the object,
/// the namespace, the context and the fix. It writes only the serving.gru.dev/action annotation.
/// </summary>
internal sealed class GruModelApi(ClusterConnection connection)
{
    public const string Group = "serving.gru.dev";
    public const string Version = "v1alpha1";
    public const string Plural = "grumodels";
    public const string ActionAnnotation = GruServing.Contract.Serving.ManualAction.Annotation;
    public const string FieldManager = "kubectl-gru";

    public async Task<JsonElement> GetAsync(string name, CancellationToken cancellationToken) =>
        await CallAsync("get", name, async () => ToJson(await connection.Client.CustomObjects.GetNamespacedCustomObjectAsync(
            Group, Version, connection.Namespace, Plural, name, cancellationToken)));

    public async Task<IReadOnlyList<JsonElement>> ListAsync(bool allNamespaces, CancellationToken cancellationToken)
    {
        var list = await CallAsync("list", null, async () => ToJson(allNamespaces
            ? await connection.Client.CustomObjects.ListClusterCustomObjectAsync(Group, Version, Plural, cancellationToken: cancellationToken)
            : await connection.Client.CustomObjects.ListNamespacedCustomObjectAsync(Group, Version, connection.Namespace, Plural, cancellationToken: cancellationToken)));
        return list.GetProperty("items").EnumerateArray().Select(i => i.Clone()).ToList();
    }

    /// <summary>Sets serving.gru.dev/action=<paramref name="action"/> with a merge patch: nothing else changes.</summary>
    public async Task<JsonElement> RequestActionAsync(string name, string action, CancellationToken cancellationToken)
    {
        var patch = new V1Patch(JsonSerializer.Serialize(new { metadata = new { annotations = new Dictionary<string, string> { [ActionAnnotation] = action } } }), V1Patch.PatchType.MergePatch);
        return await CallAsync("patch", name, async () => ToJson(await connection.Client.CustomObjects.PatchNamespacedCustomObjectAsync(
            patch, Group, Version, connection.Namespace, Plural, name, fieldManager: FieldManager, cancellationToken: cancellationToken)));
    }

    private static JsonElement ToJson(object body) => body switch
    {
        JsonElement element => element.Clone(),
        _ => JsonSerializer.SerializeToElement(body),
    };

    private async Task<T> CallAsync<T>(string verb, string? name, Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.Forbidden)
        {
            var scope = verb == "list" && name is null ? $"grumodels in namespace \"{connection.Namespace}\"" : $"grumodel \"{name}\" in namespace \"{connection.Namespace}\"";
            throw new CommandException(
                $"forbidden: context \"{connection.Context}\" may not {verb} {scope} ({ServerMessage(ex)}). " +
                $"Ask for a Role granting {verb} on grumodels.serving.gru.dev" + (verb == "patch" ? " (the action annotation is a patch)" : "") + ".");
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound && name is not null && !IsMissingResource(ex))
        {
            throw new CommandException($"GruModel \"{name}\" not found in namespace \"{connection.Namespace}\" (context \"{connection.Context}\"); `kubectl gru list -n {connection.Namespace}` lists them.");
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
            throw new CommandException($"the GruModel API ({Group}/{Version}) is not served by {connection.Server}: install the CRD (kubectl apply -k config/default).");
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.Unauthorized)
        {
            throw new CommandException($"unauthorized: the credentials of context \"{connection.Context}\" were refused by {connection.Server} ({ServerMessage(ex)}).");
        }
        catch (HttpOperationException ex)
        {
            throw new CommandException($"{verb} {name ?? Plural} failed: HTTP {(int)ex.Response.StatusCode}: {ServerMessage(ex)}");
        }
        catch (HttpRequestException ex)
        {
            throw new CommandException($"cannot reach the API server {connection.Server} (context \"{connection.Context}\"): {ex.Message}");
        }
    }

    /// <summary>A 404 for the resource type itself (no CRD) rather than for the named object.</summary>
    private static bool IsMissingResource(HttpOperationException ex) =>
        ServerMessage(ex).Contains("the server could not find the requested resource", StringComparison.OrdinalIgnoreCase);

    private static string ServerMessage(HttpOperationException ex)
    {
        try
        {
            using var doc = JsonDocument.Parse(ex.Response.Content ?? "");
            return doc.RootElement.TryGetProperty("message", out var m) ? m.GetString() ?? ex.Message : ex.Message;
        }
        catch (JsonException)
        {
            return string.IsNullOrWhiteSpace(ex.Response.Content) ? ex.Message : ex.Response.Content.Trim();
        }
    }
}
