using System.Text.Json.Nodes;
using Kube.Local.Api;
using Kube.Local.Resources;

namespace Kube.Local.Crds;

/// <summary>
/// Reads a CustomResourceDefinition: validates what the API server validates before accepting one, and turns
/// its served versions into resources, and writes the status conditions kubectl waits on.
/// </summary>
internal static class CrdDefinition
{
    public static IReadOnlyList<StatusCause> Validate(JsonObject crd)
    {
        var causes = new List<StatusCause>();
        var spec = crd["spec"] as JsonObject;
        var name = crd["metadata"]?["name"]?.GetValue<string>() ?? "";
        if (spec is null)
        {
            causes.Add(new StatusCause("FieldValueRequired", "Required value", "spec"));
            return causes;
        }
        var group = Str(spec, "group");
        var names = spec["names"] as JsonObject;
        var plural = names is null ? "" : Str(names, "plural");
        var kind = names is null ? "" : Str(names, "kind");
        if (group.Length == 0) causes.Add(new StatusCause("FieldValueRequired", "Required value", "spec.group"));
        else if (!group.Contains('.', StringComparison.Ordinal))
        {
            causes.Add(new StatusCause("FieldValueInvalid", $"Invalid value: \"{group}\": should be a domain with at least one dot", "spec.group"));
        }
        if (plural.Length == 0) causes.Add(new StatusCause("FieldValueRequired", "Required value", "spec.names.plural"));
        if (kind.Length == 0) causes.Add(new StatusCause("FieldValueRequired", "Required value", "spec.names.kind"));
        if (plural.Length > 0 && group.Length > 0 && name != $"{plural}.{group}")
        {
            causes.Add(new StatusCause("FieldValueInvalid", $"Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group", "metadata.name"));
        }
        var scope = Str(spec, "scope");
        if (scope is not ("Namespaced" or "Cluster"))
        {
            causes.Add(scope.Length == 0
                ? new StatusCause("FieldValueRequired", "Required value", "spec.scope")
                : new StatusCause("FieldValueNotSupported", $"Unsupported value: \"{scope}\": supported values: \"Cluster\", \"Namespaced\"", "spec.scope"));
        }
        if (spec["versions"] is not JsonArray versions || versions.Count == 0)
        {
            causes.Add(new StatusCause("FieldValueRequired", "Required value: must have exactly one version marked as storage version", "spec.versions"));
            return causes;
        }
        var storage = 0;
        for (var i = 0; i < versions.Count; i++)
        {
            if (versions[i] is not JsonObject v) continue;
            if (Str(v, "name").Length == 0) causes.Add(new StatusCause("FieldValueRequired", "Required value", $"spec.versions[{i}].name"));
            if (v["storage"]?.GetValue<bool>() == true) storage++;
            if (v["schema"]?["openAPIV3Schema"] is not JsonObject)
            {
                causes.Add(new StatusCause("FieldValueRequired", "Required value: schemas are required", $"spec.versions[{i}].schema.openAPIV3Schema"));
            }
            else if (v["schema"]!["openAPIV3Schema"]!["type"]?.GetValue<string>() != "object")
            {
                causes.Add(new StatusCause("FieldValueInvalid", "Invalid value: \"\": must be object at the root", $"spec.versions[{i}].schema.openAPIV3Schema.type"));
            }
        }
        if (storage != 1)
        {
            causes.Add(new StatusCause("FieldValueInvalid", $"Invalid value: {JsonSerializerSafe(versions)}: must have exactly one version marked as storage version", "spec.versions"));
        }
        return causes;
    }

    private static string JsonSerializerSafe(JsonArray versions) =>
        "[" + string.Join(",", versions.Select(v => v?["name"]?.ToJsonString() ?? "null")) + "]";

    /// <summary>The resources that the CRD serves, one per served version.</summary>
    public static IReadOnlyList<ResourceType> ServedResources(JsonObject crd)
    {
        var spec = (JsonObject)crd["spec"]!;
        var names = (JsonObject)spec["names"]!;
        var group = Str(spec, "group");
        var plural = Str(names, "plural");
        var list = new List<ResourceType>();
        foreach (var node in (JsonArray)spec["versions"]!)
        {
            if (node is not JsonObject v || v["served"]?.GetValue<bool>() == false) continue;
            var hasStatus = v["subresources"]?["status"] is JsonObject;
            var columns = new List<PrinterColumn>();
            if (v["additionalPrinterColumns"] is JsonArray cols)
            {
                foreach (var c in cols.OfType<JsonObject>())
                {
                    columns.Add(new PrinterColumn(Str(c, "name"), Str(c, "type"), Str(c, "format"), Str(c, "description"),
                        c["priority"]?.GetValue<int>() ?? 0, Str(c, "jsonPath")));
                }
            }
            list.Add(new ResourceType
            {
                Group = group,
                Version = Str(v, "name"),
                Plural = plural,
                Kind = Str(names, "kind"),
                Namespaced = Str(spec, "scope") == "Namespaced",
                ShortNames = (names["shortNames"] as JsonArray)?.Select(x => x!.GetValue<string>()).ToList() ?? [],
                Categories = (names["categories"] as JsonArray)?.Select(x => x!.GetValue<string>()).ToList() ?? [],
                HasStatus = hasStatus,
                TracksGeneration = true,
                IsBuiltIn = false,
                Schema = new CrdVersionSchema(v["schema"]?["openAPIV3Schema"] as JsonObject, columns, hasStatus),
                Scale = v["subresources"]?["scale"] is JsonObject scale
                    ? new ScalePaths(Str(scale, "specReplicasPath"), Str(scale, "statusReplicasPath"), Str(scale, "labelSelectorPath") is { Length: > 0 } l ? l : null)
                    : null,
            });
        }
        return list;
    }

    /// <summary>Writes acceptedNames and the NamesAccepted/Established conditions, keeping transition times that did not change.</summary>
    public static void SetEstablishedStatus(JsonObject crd, string now)
    {
        var spec = (JsonObject)crd["spec"]!;
        var status = crd["status"] as JsonObject ?? new JsonObject();
        var old = status["conditions"] as JsonArray;
        string Since(string type) =>
            old?.OfType<JsonObject>().FirstOrDefault(c => Str(c, "type") == type && Str(c, "status") == "True")?["lastTransitionTime"]?.GetValue<string>() ?? now;
        status["acceptedNames"] = spec["names"]!.DeepClone();
        if (status["acceptedNames"] is JsonObject accepted)
        {
            if (!accepted.ContainsKey("singular")) accepted["singular"] = Str((JsonObject)spec["names"]!, "kind").ToLowerInvariant();
            if (!accepted.ContainsKey("listKind")) accepted["listKind"] = Str((JsonObject)spec["names"]!, "kind") + "List";
        }
        status["conditions"] = new JsonArray(
            new JsonObject
            {
                ["type"] = "NamesAccepted",
                ["status"] = "True",
                ["lastTransitionTime"] = Since("NamesAccepted"),
                ["reason"] = "NoConflicts",
                ["message"] = "no conflicts found",
            },
            new JsonObject
            {
                ["type"] = "Established",
                ["status"] = "True",
                ["lastTransitionTime"] = Since("Established"),
                ["reason"] = "InitialNamesAccepted",
                ["message"] = "the initial names have been accepted",
            });
        status["storedVersions"] = new JsonArray(((JsonArray)spec["versions"]!).OfType<JsonObject>()
            .Where(v => v["storage"]?.GetValue<bool>() == true).Select(v => (JsonNode)Str(v, "name")).ToArray());
        crd["status"] = status;
    }

    /// <summary>Fills the defaults the API server adds to a CRD (names.singular, names.listKind, conversion).</summary>
    public static void ApplyDefaults(JsonObject crd)
    {
        if (crd["spec"] is not JsonObject spec || spec["names"] is not JsonObject names) return;
        var kind = Str(names, "kind");
        if (!names.ContainsKey("singular") && kind.Length > 0) names["singular"] = kind.ToLowerInvariant();
        if (!names.ContainsKey("listKind") && kind.Length > 0) names["listKind"] = kind + "List";
        if (!spec.ContainsKey("conversion")) spec["conversion"] = new JsonObject { ["strategy"] = "None" };
    }

    private static string Str(JsonObject o, string key) => o[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : "";
}
