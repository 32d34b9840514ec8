using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Kube.Local.Resources;

namespace Kube.Local.OpenApi;

/// <summary>
/// /openapi/v3: an index of group-versions and, per group-version, the paths with their operations,
/// parameters (including fieldValidation, so kubectl leaves validation to the server) and patch media types,
/// and component schemas (a CRD's own schema; an open object for built-ins, which this server does not model).
/// </summary>
internal sealed class OpenApiDocuments
{
    private readonly ResourceCatalog _catalog;

    public OpenApiDocuments(ResourceCatalog catalog) => _catalog = catalog;

    private static string PathKey(ResourceType r) => r.Group.Length == 0 ? $"api/{r.Version}" : $"apis/{r.Group}/{r.Version}";

    public JsonObject Index()
    {
        var paths = new JsonObject();
        foreach (var key in _catalog.All.Select(PathKey).Distinct())
        {
            var doc = GroupVersion(key)!;
            var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(doc.ToJsonString())))[..32];
            paths[key] = new JsonObject { ["serverRelativeURL"] = $"/openapi/v3/{key}?hash={hash}" };
        }
        return new JsonObject { ["paths"] = paths };
    }

    public JsonObject? GroupVersion(string key)
    {
        var resources = _catalog.All.Where(r => PathKey(r) == key).ToList();
        if (resources.Count == 0) return null;
        var paths = new JsonObject();
        var schemas = new JsonObject();
        foreach (var r in resources)
        {
            var schemaName = SchemaName(r);
            var gvk = new JsonObject { ["group"] = r.Group, ["version"] = r.Version, ["kind"] = r.Kind };
            var schema = r.Schema?.OpenApiSchema?.DeepClone().AsObject() ?? new JsonObject
            {
                ["type"] = "object",
                ["x-kubernetes-preserve-unknown-fields"] = true,
            };
            schema["x-kubernetes-group-version-kind"] = new JsonArray(gvk.DeepClone());
            schemas[schemaName] = schema;
            var reference = new JsonObject { ["$ref"] = $"#/components/schemas/{schemaName}" };
            var prefix = "/" + key + (r.Namespaced ? "/namespaces/{namespace}" : "");
            paths[$"{prefix}/{r.Plural}"] = new JsonObject
            {
                ["get"] = Operation($"list{r.Kind}", gvk, "list", reference, []),
                ["post"] = Operation($"create{r.Kind}", gvk, "post", reference, ["dryRun", "fieldManager", "fieldValidation"], Body(reference, ["application/json", "application/yaml"])),
            };
            var patchTypes = new List<string> { "application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml" };
            paths[$"{prefix}/{r.Plural}/{{name}}"] = new JsonObject
            {
                ["get"] = Operation($"read{r.Kind}", gvk, "get", reference, []),
                ["put"] = Operation($"replace{r.Kind}", gvk, "put", reference, ["dryRun", "fieldManager", "fieldValidation"], Body(reference, ["application/json", "application/yaml"])),
                ["patch"] = Operation($"patch{r.Kind}", gvk, "patch", reference, ["dryRun", "fieldManager", "fieldValidation", "force"], Body(new JsonObject { ["type"] = "object" }, patchTypes)),
                ["delete"] = Operation($"delete{r.Kind}", gvk, "delete", reference, ["dryRun", "gracePeriodSeconds", "propagationPolicy"]),
            };
            if (r.HasStatus)
            {
                paths[$"{prefix}/{r.Plural}/{{name}}/status"] = new JsonObject
                {
                    ["get"] = Operation($"read{r.Kind}Status", gvk, "get", reference, []),
                    ["put"] = Operation($"replace{r.Kind}Status", gvk, "put", reference, ["dryRun", "fieldManager", "fieldValidation"], Body(reference, ["application/json"])),
                    ["patch"] = Operation($"patch{r.Kind}Status", gvk, "patch", reference, ["dryRun", "fieldManager", "fieldValidation", "force"], Body(new JsonObject { ["type"] = "object" }, patchTypes)),
                };
            }
        }
        return new JsonObject
        {
            ["openapi"] = "3.0.0",
            ["info"] = new JsonObject { ["title"] = "Kubernetes", ["version"] = "v1.32.0" },
            ["paths"] = paths,
            ["components"] = new JsonObject { ["schemas"] = schemas },
        };
    }

    private static string SchemaName(ResourceType r)
    {
        var group = r.Group.Length == 0 ? "io.k8s.api.core" : string.Join('.', r.Group.Split('.').Reverse());
        return $"{group}.{r.Version}.{r.Kind}";
    }

    private static JsonObject Body(JsonObject schema, IEnumerable<string> mediaTypes)
    {
        var content = new JsonObject();
        foreach (var m in mediaTypes) content[m] = new JsonObject { ["schema"] = schema.DeepClone() };
        return new JsonObject { ["content"] = content, ["required"] = true };
    }

    private static JsonObject Operation(string id, JsonObject gvk, string action, JsonObject reference, IReadOnlyList<string> queryParameters, JsonObject? body = null)
    {
        var op = new JsonObject
        {
            ["operationId"] = id,
            ["parameters"] = new JsonArray(queryParameters.Select(p => (JsonNode)new JsonObject
            {
                ["name"] = p,
                ["in"] = "query",
                ["schema"] = new JsonObject { ["type"] = p is "force" ? "boolean" : p is "gracePeriodSeconds" ? "integer" : "string", ["uniqueItems"] = true },
            }).ToArray()),
            ["responses"] = new JsonObject
            {
                ["200"] = new JsonObject
                {
                    ["description"] = "OK",
                    ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = reference.DeepClone() } },
                },
            },
            ["x-kubernetes-action"] = action,
            ["x-kubernetes-group-version-kind"] = gvk.DeepClone(),
        };
        if (body is not null) op["requestBody"] = body;
        return op;
    }
}
