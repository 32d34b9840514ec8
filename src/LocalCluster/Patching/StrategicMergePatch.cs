using System.Text.Json.Nodes;
using Kube.Local.Api;

namespace Kube.Local.Patching;

/// <summary>
/// Strategic merge patch for built-in kinds. Lists that Kubernetes merges by key (containers by name,
/// ports, env, volumes, conditions, ownerReferences...) merge element-wise; finalizers merge as a set;
/// other lists replace. Supports the directives kubectl sends: <c>$patch</c> (replace/delete/merge),
/// <c>$retainKeys</c>, <c>$deleteFromPrimitiveList/</c> and <c>$setElementOrder/</c>.
/// </summary>
internal static class StrategicMergePatch
{
    // Field name → merge key, the patchMergeKey tags of k8s.io/api that kubectl relies on.
    private static readonly Dictionary<string, string> MergeKeys = new(StringComparer.Ordinal)
    {
        ["containers"] = "name",
        ["initContainers"] = "name",
        ["ephemeralContainers"] = "name",
        ["env"] = "name",
        ["volumes"] = "name",
        ["volumeMounts"] = "mountPath",
        ["volumeDevices"] = "devicePath",
        ["imagePullSecrets"] = "name",
        ["conditions"] = "type",
        ["ownerReferences"] = "uid",
        ["hostAliases"] = "ip",
        ["topologySpreadConstraints"] = "topologyKey",
        ["resourceClaims"] = "name",
        ["secrets"] = "name",
        ["containerStatuses"] = "name",
        ["initContainerStatuses"] = "name",
    };

    private static readonly HashSet<string> PrimitiveSetLists = new(StringComparer.Ordinal) { "finalizers" };

    public static JsonObject Apply(JsonObject original, JsonObject patch) => MergeObject(original, patch);

    private static JsonObject MergeObject(JsonObject target, JsonObject patch)
    {
        if (patch["$patch"]?.GetValue<string>() is { } directive)
        {
            switch (directive)
            {
                case "replace":
                    var replaced = patch.DeepClone().AsObject();
                    replaced.Remove("$patch");
                    return replaced;
                case "delete":
                    return new JsonObject();
                case "merge":
                    break;
                default:
                    throw ApiError.BadRequest($"Unknown patch type: {directive} in map: {patch.ToJsonString()}");
            }
        }
        if (patch["$retainKeys"] is JsonArray retain)
        {
            var keep = retain.Select(k => k?.GetValue<string>()).ToHashSet();
            foreach (var key in target.Select(kv => kv.Key).ToList())
            {
                if (!keep.Contains(key)) target.Remove(key);
            }
        }
        foreach (var (key, value) in patch)
        {
            if (key is "$patch" or "$retainKeys") continue;
            if (key.StartsWith("$setElementOrder/", StringComparison.Ordinal))
            {
                continue;
            }
            if (key.StartsWith("$deleteFromPrimitiveList/", StringComparison.Ordinal))
            {
                var field = key["$deleteFromPrimitiveList/".Length..];
                if (target[field] is JsonArray list && value is JsonArray remove)
                {
                    foreach (var r in remove)
                    {
                        for (var i = list.Count - 1; i >= 0; i--)
                        {
                            if (JsonNode.DeepEquals(list[i], r)) list.RemoveAt(i);
                        }
                    }
                }
                continue;
            }
            if (value is null)
            {
                target.Remove(key);
                continue;
            }
            var existing = target[key];
            target[key] = (existing, value) switch
            {
                (JsonObject eo, JsonObject po) => MergeObject(eo.DeepClone().AsObject(), po),
                (JsonArray ea, JsonArray pa) => MergeList(key, ea, pa),
                (_, JsonObject po) => MergeObject(new JsonObject(), po),
                (_, JsonArray pa) => MergeList(key, new JsonArray(), pa),
                _ => value.DeepClone(),
            };
        }
        foreach (var (key, value) in patch)
        {
            if (key.StartsWith("$setElementOrder/", StringComparison.Ordinal) && value is JsonArray order)
            {
                var field = key["$setElementOrder/".Length..];
                if (target[field] is JsonArray list) target[field] = Reorder(field, list, order);
            }
        }
        return target;
    }

    private static JsonArray MergeList(string field, JsonArray existing, JsonArray patch)
    {
        if (patch.Count > 0 && patch[0] is JsonObject first && first["$patch"]?.GetValue<string>() == "replace")
        {
            return new JsonArray(patch.Skip(1).Select(p => p?.DeepClone()).ToArray());
        }
        if (PrimitiveSetLists.Contains(field))
        {
            var result = existing.DeepClone().AsArray();
            foreach (var p in patch)
            {
                if (!result.Any(r => JsonNode.DeepEquals(r, p))) result.Add(p?.DeepClone());
            }
            return result;
        }
        var mergeKey = MergeKeyFor(field, existing, patch);
        if (mergeKey is null) return patch.DeepClone().AsArray();
        var merged = existing.DeepClone().AsArray();
        foreach (var p in patch)
        {
            if (p is not JsonObject po) continue;
            var keyValue = po[mergeKey];
            var index = -1;
            for (var i = 0; i < merged.Count; i++)
            {
                if (merged[i] is JsonObject m && JsonNode.DeepEquals(m[mergeKey], keyValue))
                {
                    index = i;
                    break;
                }
            }
            var directive = po["$patch"]?.GetValue<string>();
            if (directive == "delete")
            {
                if (index >= 0) merged.RemoveAt(index);
                continue;
            }
            if (index >= 0) merged[index] = MergeObject(((JsonObject)merged[index]!).DeepClone().AsObject(), po);
            else
            {
                var added = po.DeepClone().AsObject();
                added.Remove("$patch");
                merged.Add(added);
            }
        }
        return merged;
    }

    /// <summary>The merge key of a list field of a built-in kind (null: the list is atomic or primitive).</summary>
    internal static string? ListMergeKey(string field, JsonArray list) => MergeKeyFor(field, list, list);

    private static string? MergeKeyFor(string field, JsonArray existing, JsonArray patch)
    {
        if (field == "ports")
        {
            // Container ports merge by containerPort, service ports by port.
            var sample = patch.OfType<JsonObject>().Concat(existing.OfType<JsonObject>()).FirstOrDefault();
            return sample?.ContainsKey("containerPort") == true ? "containerPort" : "port";
        }
        return MergeKeys.GetValueOrDefault(field);
    }

    private static JsonArray Reorder(string field, JsonArray list, JsonArray order)
    {
        var key = MergeKeyFor(field, list, order);
        var result = new JsonArray();
        var remaining = list.Select(x => x?.DeepClone()).ToList();
        foreach (var o in order)
        {
            var idx = remaining.FindIndex(r => key is null ? JsonNode.DeepEquals(r, o) : r is JsonObject ro && o is JsonObject oo && JsonNode.DeepEquals(ro[key], oo[key]));
            if (idx < 0) continue;
            result.Add(remaining[idx]);
            remaining.RemoveAt(idx);
        }
        foreach (var r in remaining) result.Add(r);
        return result;
    }
}
