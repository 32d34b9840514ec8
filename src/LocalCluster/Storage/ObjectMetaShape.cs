using System.Text.Json;
using System.Text.Json.Nodes;
using Kube.Local.Api;

namespace Kube.Local.Storage;

/// <summary>
/// Checks the JSON types of apiVersion, kind and the ObjectMeta fields before anything reads them, and answers
/// a wrong type as the real server's decoder does (400, naming the field and both types) instead of guessing.
/// </summary>
internal static class ObjectMetaShape
{
    private static readonly string[] StringFields = ["name", "generateName", "namespace", "uid", "resourceVersion", "creationTimestamp", "deletionTimestamp"];

    public static void Check(JsonObject obj)
    {
        Expect(obj["apiVersion"], JsonValueKind.String, "apiVersion", "string");
        Expect(obj["kind"], JsonValueKind.String, "kind", "string");
        if (obj["metadata"] is null) return;
        if (obj["metadata"] is not JsonObject meta)
        {
            throw Mismatch("metadata", obj["metadata"]!, "v1.ObjectMeta");
        }
        foreach (var f in StringFields) Expect(meta[f], JsonValueKind.String, $"metadata.{f}", "string");
        Expect(meta["generation"], JsonValueKind.Number, "metadata.generation", "int64");
        foreach (var map in new[] { "labels", "annotations" })
        {
            if (meta[map] is null) continue;
            if (meta[map] is not JsonObject m) throw Mismatch($"metadata.{map}", meta[map]!, "map[string]string");
            foreach (var (k, v) in m) Expect(v, JsonValueKind.String, $"metadata.{map}.{k}", "string");
        }
        if (meta["finalizers"] is { } finalizers)
        {
            if (finalizers is not JsonArray fa) throw Mismatch("metadata.finalizers", finalizers, "[]string");
            for (var i = 0; i < fa.Count; i++) Expect(fa[i], JsonValueKind.String, $"metadata.finalizers[{i}]", "string");
        }
        if (meta["ownerReferences"] is { } owners)
        {
            if (owners is not JsonArray oa) throw Mismatch("metadata.ownerReferences", owners, "[]v1.OwnerReference");
            for (var i = 0; i < oa.Count; i++)
            {
                if (oa[i] is not JsonObject o) throw Mismatch($"metadata.ownerReferences[{i}]", oa[i]!, "v1.OwnerReference");
                foreach (var f in new[] { "apiVersion", "kind", "name", "uid" })
                {
                    if (o[f] is null)
                    {
                        throw ApiError.BadRequest($"metadata.ownerReferences[{i}].{f}: Required value");
                    }
                    Expect(o[f], JsonValueKind.String, $"metadata.ownerReferences[{i}].{f}", "string");
                }
            }
        }
    }

    private static void Expect(JsonNode? node, JsonValueKind kind, string field, string goType)
    {
        if (node is null || node.GetValueKind() == kind) return;
        throw Mismatch(field, node, goType);
    }

    private static ApiError Mismatch(string field, JsonNode node, string goType)
    {
        var actual = node.GetValueKind() switch
        {
            JsonValueKind.Object => "object",
            JsonValueKind.Array => "array",
            JsonValueKind.String => "string",
            JsonValueKind.Number => "number",
            JsonValueKind.True or JsonValueKind.False => "bool",
            _ => "null",
        };
        return ApiError.BadRequest($"json: cannot unmarshal {actual} into Go struct field {field} of type {goType}");
    }
}
