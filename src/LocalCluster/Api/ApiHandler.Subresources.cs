using System.Text;
using System.Text.Json.Nodes;
using Kube.Local.Patching;
using Kube.Local.Resources;
using Kube.Local.Storage;
using Microsoft.AspNetCore.Http;

namespace Kube.Local.Api;

/// <summary>The subresources with verbs of their own: /scale and pods' /binding.</summary>
internal sealed partial class ApiHandler
{
    /// <summary>/scale: an autoscaling/v1 Scale view of the replicas; writes go to the main object (generation included).</summary>
    private async Task ScaleAsync(HttpContext ctx, ResourceType type, string ns, string name, string method, CancellationToken ct)
    {
        var paths = type.Scale!;
        if (method == "GET")
        {
            await ApiResponseWriter.WriteJsonAsync(ctx, 200, paths.ToScale(_registry.Get(type, ns, name).ToJson()), ct);
            return;
        }
        var options = ApiRequestReader.WriteOptionsFrom(ctx);
        Func<JsonObject, JsonObject> change;
        switch (method)
        {
            case "PUT":
                {
                    var body = await ApiRequestReader.ReadObjectAsync(ctx, ct);
                    change = _ => body;
                    break;
                }
            case "PATCH":
                {
                    var contentType = (ctx.Request.ContentType ?? "").Split(';')[0].Trim();
                    var patch = ParseJson(Encoding.UTF8.GetString(await ApiRequestReader.ReadBodyAsync(ctx, ct)));
                    change = contentType switch
                    {
                        "application/merge-patch+json" or "application/strategic-merge-patch+json" =>
                            scale => JsonMergePatch.Apply(scale, patch) as JsonObject ?? throw ApiError.BadRequest("patch must produce an object"),
                        "application/json-patch+json" => scale => JsonPatch.Apply(scale, patch) as JsonObject ?? throw ApiError.BadRequest("patch must produce an object"),
                        _ => throw new ApiError(415, "UnsupportedMediaType", "the /scale subresource accepts application/merge-patch+json, application/strategic-merge-patch+json and application/json-patch+json"),
                    };
                    break;
                }
            default:
                throw ApiError.MethodNotAllowed("the server does not allow this method on the requested resource");
        }
        var updated = _registry.Patch(type, ns, name, false, options, "Update", out _, current =>
        {
            paths.Apply(current!, change(paths.ToScale(current!)));
            return current!;
        });
        await ApiResponseWriter.WriteJsonAsync(ctx, 200, paths.ToScale(updated.ToJson()), ct);
    }

    /// <summary>
    /// POST pods/{name}/binding, as a scheduler binds: sets spec.nodeName (409 when the pod is bound already or being
    /// deleted), copies the binding's annotations and sets PodScheduled=True, in one write; answers a Status with code 201.
    /// </summary>
    private async Task BindAsync(HttpContext ctx, ResourceType podType, string ns, string name, CancellationToken ct)
    {
        var body = await ApiRequestReader.ReadObjectAsync(ctx, ct);
        var options = ApiRequestReader.WriteOptionsFrom(ctx);
        var bindingName = body["metadata"]?["name"]?.GetValue<string>();
        if (bindingName is not null && bindingName != name)
        {
            throw ApiError.BadRequest($"the name of the object ({bindingName}) does not match the name on the URL ({name})");
        }
        var target = body["target"] as JsonObject;
        var node = target?["name"]?.GetValue<string>() ?? "";
        var kind = target?["kind"]?.GetValue<string>() ?? "";
        if (node.Length == 0 || kind is not ("" or "Node"))
        {
            throw ApiError.Invalid("", "Binding", name, [new StatusCause(node.Length == 0 ? "FieldValueRequired" : "FieldValueNotSupported",
                node.Length == 0 ? "Required value" : $"Unsupported value: \"{kind}\": supported values: \"Node\"", node.Length == 0 ? "target.name" : "target.kind")]);
        }
        var uid = body["metadata"]?["uid"]?.GetValue<string>();
        var annotations = body["metadata"]?["annotations"] as JsonObject;
        var now = Timestamps.Format(_time.GetUtcNow());
        _registry.Patch(podType, ns, name, false, options, "Update", out _, pod =>
        {
            var meta = (JsonObject)pod!["metadata"]!;
            if (uid is not null && meta["uid"]?.GetValue<string>() != uid)
            {
                throw new ApiError(409, "Conflict", $"Operation cannot be fulfilled on pods/binding \"{name}\": Precondition failed: UID in precondition: {uid}, UID in object meta: {meta["uid"]}");
            }
            if (meta["deletionTimestamp"] is not null)
            {
                throw new ApiError(409, "Conflict", $"Operation cannot be fulfilled on pods/binding \"{name}\": pod {name} is being deleted, cannot be assigned to a host");
            }
            var spec = BuiltInStrategy.Obj(pod, "spec");
            if (spec["nodeName"]?.GetValue<string>() is { Length: > 0 } assigned)
            {
                throw new ApiError(409, "Conflict", $"Operation cannot be fulfilled on pods/binding \"{name}\": pod {name} is already assigned to node \"{assigned}\"");
            }
            spec["nodeName"] = node;
            if (annotations is not null)
            {
                var existing = BuiltInStrategy.Obj(meta, "annotations");
                foreach (var (k, v) in annotations) existing[k] = v?.DeepClone();
            }
            var status = BuiltInStrategy.Obj(pod, "status");
            var conditions = status["conditions"] as JsonArray ?? new JsonArray();
            status["conditions"] = conditions;
            var scheduled = conditions.OfType<JsonObject>().FirstOrDefault(c => c["type"]?.GetValue<string>() == "PodScheduled");
            if (scheduled is null)
            {
                scheduled = new JsonObject { ["type"] = "PodScheduled" };
                conditions.Add(scheduled);
            }
            if (scheduled["status"]?.GetValue<string>() != "True") scheduled["lastTransitionTime"] = now;
            scheduled["status"] = "True";
            scheduled["lastProbeTime"] = null;
            scheduled.Remove("reason");
            scheduled.Remove("message");
            return pod;
        }, writesStatus: true);
        await ApiResponseWriter.WriteJsonAsync(ctx, 201, new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Success",
            ["code"] = 201,
        }, ct);
    }
}
