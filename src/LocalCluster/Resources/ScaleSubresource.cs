using System.Text.Json;
using System.Text.Json.Nodes;
using Kube.Local.Api;

namespace Kube.Local.Resources;

/// <summary>Where a resource keeps what its /scale subresource shows (CRD subresources.scale, or the apps/v1 fields).</summary>
internal sealed record ScalePaths(string SpecReplicas, string StatusReplicas, string? LabelSelector)
{
    /// <summary>Deployments and ReplicaSets: spec.replicas, status.replicas and the spec.selector as a string.</summary>
    public static readonly ScalePaths Apps = new(".spec.replicas", ".status.replicas", null);

    /// <summary>The autoscaling/v1 Scale of <paramref name="obj"/>.</summary>
    public JsonObject ToScale(JsonObject obj)
    {
        var meta = (JsonObject)obj["metadata"]!;
        var scaleMeta = new JsonObject();
        foreach (var key in new[] { "name", "namespace", "uid", "resourceVersion", "creationTimestamp" })
        {
            if (meta[key] is { } v) scaleMeta[key] = v.DeepClone();
        }
        var status = new JsonObject { ["replicas"] = Read(obj, StatusReplicas)?.DeepClone() ?? 0 };
        var selector = LabelSelector is null ? SelectorString(obj["spec"]?["selector"] as JsonObject) : Read(obj, LabelSelector)?.GetValue<string>();
        if (!string.IsNullOrEmpty(selector)) status["selector"] = selector;
        return new JsonObject
        {
            ["kind"] = "Scale",
            ["apiVersion"] = "autoscaling/v1",
            ["metadata"] = scaleMeta,
            ["spec"] = new JsonObject { ["replicas"] = Read(obj, SpecReplicas)?.DeepClone() ?? 0 },
            ["status"] = status,
        };
    }

    /// <summary>Writes the Scale's spec.replicas back into the object (and its resourceVersion, for the precondition).</summary>
    public void Apply(JsonObject obj, JsonObject scale)
    {
        if (scale["spec"]?["replicas"] is not JsonValue replicas || replicas.GetValueKind() != JsonValueKind.Number || replicas.GetValue<double>() < 0)
        {
            throw ApiError.Invalid("autoscaling", "Scale", obj["metadata"]?["name"]?.GetValue<string>() ?? "",
                [new StatusCause("FieldValueInvalid", $"Invalid value: {scale["spec"]?["replicas"]?.ToJsonString() ?? "null"}: must be greater than or equal to 0", "spec.replicas")]);
        }
        var parts = SpecReplicas.TrimStart('.').Split('.');
        var node = obj;
        foreach (var p in parts[..^1]) node = BuiltInStrategy.Obj(node, p);
        node[parts[^1]] = (long)replicas.GetValue<double>();
        if (scale["metadata"]?["resourceVersion"] is JsonValue rv) ((JsonObject)obj["metadata"]!)["resourceVersion"] = rv.DeepClone();
    }

    private static JsonNode? Read(JsonObject obj, string path)
    {
        JsonNode? node = obj;
        foreach (var p in path.TrimStart('.').Split('.')) node = (node as JsonObject)?[p];
        return node;
    }

    /// <summary>A metav1.LabelSelector in its string form, as Scale.status.selector carries it.</summary>
    private static string SelectorString(JsonObject? selector)
    {
        if (selector is null) return "";
        var parts = new List<string>();
        if (selector["matchLabels"] is JsonObject labels)
        {
            parts.AddRange(labels.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value?.GetValue<string>()}"));
        }
        if (selector["matchExpressions"] is JsonArray expressions)
        {
            foreach (var e in expressions.OfType<JsonObject>())
            {
                var key = e["key"]?.GetValue<string>();
                IEnumerable<string?> values = (e["values"] as JsonArray)?.Select(v => v?.GetValue<string>()).Order(StringComparer.Ordinal) ?? Enumerable.Empty<string?>();
                parts.Add(e["operator"]?.GetValue<string>() switch
                {
                    "In" => $"{key} in ({string.Join(",", values)})",
                    "NotIn" => $"{key} notin ({string.Join(",", values)})",
                    "Exists" => key!,
                    _ => $"!{key}",
                });
            }
        }
        return string.Join(",", parts);
    }
}
