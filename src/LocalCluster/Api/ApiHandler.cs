using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kube.Local.OpenApi;
using Kube.Local.Patching;
using Kube.Local.Protobuf;
using Kube.Local.Resources;
using Kube.Local.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Kube.Local.Api;

/// <summary>
/// The HTTP surface of the API server: routes a request to discovery, OpenAPI or a resource verb, negotiates
/// bodies (JSON, YAML, the protobuf envelope for a few kinds) and answers every failure as a metav1.Status.
/// </summary>
internal sealed partial class ApiHandler
{
    private readonly ObjectRegistry _registry;
    private readonly ResourceCatalog _catalog;
    private readonly LocalClusterFaults _faults;
    private readonly TableConverter _tables;
    private readonly OpenApiDocuments _openApi;
    private readonly ContinueTokens _continueTokens = new();
    private readonly TimeSpan _bookmarkInterval;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public ApiHandler(ObjectRegistry registry, LocalClusterFaults faults, TimeProvider time, TimeSpan bookmarkInterval, ILogger logger)
    {
        _registry = registry;
        _catalog = registry.Catalog;
        _faults = faults;
        _tables = new TableConverter(time);
        _openApi = new OpenApiDocuments(_catalog);
        _bookmarkInterval = bookmarkInterval;
        _time = time;
        _logger = logger;
    }

    /// <summary>The host:port clients should use, for /api's serverAddressByClientCIDRs.</summary>
    public string ServerAddress { get; set; } = "127.0.0.1:0";

    public async Task HandleAsync(HttpContext ctx)
    {
        var ct = ctx.RequestAborted;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            var path = ctx.Request.Path.Value ?? "/";
            if (path.StartsWith("/api", StringComparison.Ordinal))
            {
                await _faults.BeforeRequestAsync(ct);
            }
            await RouteAsync(ctx, path, ct);
        }
        catch (ApiError e)
        {
            await ApiResponseWriter.WriteStatusAsync(ctx, e, ct);
        }
        catch (JsonException e)
        {
            await ApiResponseWriter.WriteStatusAsync(ctx, ApiError.BadRequest($"the body of the request is not valid JSON: {e.Message}"), ct);
        }
        catch (InvalidOperationException e) when (e.Source == "System.Text.Json")
        {
            // A field of the wrong JSON type where the server reads it (e.g. metadata.name: 5).
            await ApiResponseWriter.WriteStatusAsync(ctx, ApiError.BadRequest($"the body of the request has a field of the wrong type: {e.Message}"), ct);
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's own limits (body too large, malformed request) as a Status like any other error.
            var error = e.StatusCode == 413
                ? new ApiError(413, "RequestEntityTooLarge", $"the request body is too large: {e.Message}")
                : ApiError.BadRequest(e.Message);
            await ApiResponseWriter.WriteStatusAsync(ctx, error, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The client went away.
        }
        catch (Exception e)
        {
            Log.Unhandled(_logger, ctx.Request.Method, ctx.Request.Path.Value ?? "", e);
            await ApiResponseWriter.WriteStatusAsync(ctx, new ApiError(500, "InternalError", $"Internal error occurred: {e.Message}"), ct);
        }
        finally
        {
            Log.Served(_logger, ctx.Request.Method, ctx.Request.Path.Value ?? "", ctx.Request.QueryString.Value ?? "", ctx.Response.StatusCode,
                System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    private async Task RouteAsync(HttpContext ctx, string path, CancellationToken ct)
    {
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var method = ctx.Request.Method;
        if (segments.Length == 0)
        {
            await ApiResponseWriter.WriteJsonAsync(ctx, 200, new JsonObject { ["paths"] = new JsonArray("/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v3", "/readyz", "/version") }, ct);
            return;
        }
        switch (segments[0])
        {
            case "healthz" or "livez" or "readyz":
                ctx.Response.ContentType = "text/plain; charset=utf-8";
                await ctx.Response.WriteAsync("ok", ct);
                return;
            case "version":
                await ApiResponseWriter.WriteJsonAsync(ctx, 200, Discovery.Version(), ct);
                return;
            case "openapi":
                await ServeOpenApiAsync(ctx, segments, ct);
                return;
        }
        if (segments[0] == "api")
        {
            if (segments.Length == 1)
            {
                await WriteDiscoveryAsync(ctx, Discovery.ApiVersions(ServerAddress), ct);
                return;
            }
            if (segments.Length == 2)
            {
                await WriteDiscoveryAsync(ctx, Discovery.ResourceList(_catalog, "", segments[1]) ?? throw NotFoundPath(path), ct);
                return;
            }
            await ServeResourceAsync(ctx, "", segments[1], segments[2..], method, ct);
            return;
        }
        if (segments[0] == "apis")
        {
            switch (segments.Length)
            {
                case 1:
                    await WriteDiscoveryAsync(ctx, Discovery.GroupList(_catalog), ct);
                    return;
                case 2:
                    await WriteDiscoveryAsync(ctx, Discovery.GroupDocument(_catalog, segments[1]) ?? throw NotFoundPath(path), ct);
                    return;
                case 3:
                    await WriteDiscoveryAsync(ctx, Discovery.ResourceList(_catalog, segments[1], segments[2]) ?? throw NotFoundPath(path), ct);
                    return;
                default:
                    await ServeResourceAsync(ctx, segments[1], segments[2], segments[3..], method, ct);
                    return;
            }
        }
        throw NotFoundPath(path);
    }

    private static ApiError NotFoundPath(string path) => new(404, "NotFound", $"the server could not find the requested resource ({path})");

    private Task WriteDiscoveryAsync(HttpContext ctx, JsonObject doc, CancellationToken ct)
    {
        if (ctx.Request.Method != "GET") throw ApiError.MethodNotAllowed($"the server does not allow this method on the requested resource");
        return ApiResponseWriter.WriteJsonAsync(ctx, 200, doc, ct);
    }

    private async Task ServeOpenApiAsync(HttpContext ctx, string[] segments, CancellationToken ct)
    {
        if (segments.Length >= 2 && segments[1] == "v3")
        {
            var doc = segments.Length == 2
                ? _openApi.Index()
                : _openApi.GroupVersion(string.Join('/', segments[2..])) ?? throw NotFoundPath(ctx.Request.Path.Value ?? "");
            await ApiResponseWriter.WriteJsonAsync(ctx, 200, doc, ct);
            return;
        }
        // openapi/v2 is not served: kubectl uses v3 and falls back only when v3 is missing.
        throw NotFoundPath(ctx.Request.Path.Value ?? "");
    }

    private async Task ServeResourceAsync(HttpContext ctx, string group, string version, string[] rest, string method, CancellationToken ct)
    {
        var target = RequestTarget.Resolve(_catalog, group, version, rest) ?? throw NotFoundPath(ctx.Request.Path.Value ?? "");
        var type = target.Type;
        var query = ctx.Request.Query;
        if (target.Subresource is { } sub)
        {
            var allowed = sub == "status" && type.HasStatus || sub == "scale" && type.Scale is not null ||
                sub == "finalize" && type is { Group: "", Kind: "Namespace" } && method == "PUT" ||
                sub == "binding" && type is { Group: "", Kind: "Pod" };
            if (!allowed) throw NotFoundPath(ctx.Request.Path.Value ?? "");
            if (sub == "binding" && target.Name is { } bound)
            {
                if (method != "POST") throw ApiError.MethodNotAllowed("the server does not allow this method on the requested resource");
                await BindAsync(ctx, type, target.Namespace ?? "", bound, ct);
                return;
            }
            if (sub == "scale" && target.Name is { } scaled)
            {
                await ScaleAsync(ctx, type, target.Namespace ?? "", scaled, method, ct);
                return;
            }
        }
        var ns = target.Namespace ?? "";
        if (target.Name is null)
        {
            switch (method)
            {
                case "GET" when ApiRequestReader.IsTrue(query["watch"]):
                    await WatchAsync(ctx, type, target.Namespace, ct);
                    return;
                case "GET":
                    await ListAsync(ctx, type, target.Namespace, ct);
                    return;
                case "POST" when type.Namespaced && target.Namespace is null:
                    throw ApiError.MethodNotAllowed("the server does not allow this method on the requested resource");
                case "POST":
                    {
                        var body = await ApiRequestReader.ReadObjectAsync(ctx, ct);
                        var options = ApiRequestReader.WriteOptionsFrom(ctx);
                        var (storageType, storedBody) = ToStorage(type, body);
                        var created = _registry.Create(storageType, ns, storedBody, options);
                        await WriteObjectAsync(ctx, type, created, 201, options, ct);
                        return;
                    }
                case "DELETE":
                    await DeleteCollectionAsync(ctx, type, target.Namespace, ct);
                    return;
                default:
                    throw ApiError.MethodNotAllowed($"the server does not allow this method on the requested resource");
            }
        }
        var name = target.Name;
        var status = target.Subresource == "status";
        switch (method)
        {
            case "GET":
                {
                    var obj = _registry.Get(StorageType(type), ns, name);
                    if (ApiRequestReader.WantsTable(ctx))
                    {
                        var table = _tables.Table(type, [ParseForType(type, obj)], obj.ResourceVersion.ToString(CultureInfo.InvariantCulture), null, ApiRequestReader.IncludeObject(ctx));
                        await ApiResponseWriter.WriteJsonAsync(ctx, 200, table, ct);
                        return;
                    }
                    await WriteObjectAsync(ctx, type, obj, 200, null, ct);
                    return;
                }
            case "PUT" when target.Subresource == "finalize":
                {
                    var body = await ApiRequestReader.ReadObjectAsync(ctx, ct);
                    var options = ApiRequestReader.WriteOptionsFrom(ctx);
                    var finalizers = body["spec"]?["finalizers"]?.DeepClone() as JsonArray ?? new JsonArray();
                    var updated = _registry.Patch(type, ns, name, false, options, "Update", out _, current =>
                    {
                        BuiltInStrategy.Obj(current!, "spec")["finalizers"] = finalizers;
                        return current!;
                    });
                    await WriteObjectAsync(ctx, type, updated, 200, options, ct);
                    return;
                }
            case "PUT":
                {
                    var body = await ApiRequestReader.ReadObjectAsync(ctx, ct);
                    var options = ApiRequestReader.WriteOptionsFrom(ctx);
                    var (storageType, storedBody) = ToStorage(type, body);
                    var updated = _registry.Update(storageType, ns, name, storedBody, status, options);
                    await WriteObjectAsync(ctx, type, updated, 200, options, ct);
                    return;
                }
            case "PATCH":
                await PatchAsync(ctx, type, ns, name, status, ct);
                return;
            case "DELETE":
                {
                    var options = await ApiRequestReader.DeleteOptionsFromAsync(ctx, ct);
                    var (obj, removed) = _registry.Delete(StorageType(type), ns, name, options);
                    if (!removed || type.ReturnsDeletedObject)
                    {
                        await WriteObjectAsync(ctx, type, obj, 200, null, ct);
                        return;
                    }
                    await ApiResponseWriter.WriteJsonAsync(ctx, 200, new JsonObject
                    {
                        ["kind"] = "Status",
                        ["apiVersion"] = "v1",
                        ["metadata"] = new JsonObject(),
                        ["status"] = "Success",
                        ["details"] = new JsonObject
                        {
                            ["name"] = name,
                            ["group"] = type.Group,
                            ["kind"] = type.Plural,
                            ["uid"] = obj.Uid,
                        },
                    }, ct);
                    return;
                }
            default:
                throw ApiError.MethodNotAllowed("the server does not allow this method on the requested resource");
        }
    }

    private async Task PatchAsync(HttpContext ctx, ResourceType type, string ns, string name, bool status, CancellationToken ct)
    {
        var contentType = (ctx.Request.ContentType ?? "").Split(';')[0].Trim();
        var bodyBytes = await ApiRequestReader.ReadBodyAsync(ctx, ct);
        var bodyText = Encoding.UTF8.GetString(bodyBytes);
        var options = ApiRequestReader.WriteOptionsFrom(ctx);
        var storageType = StorageType(type);
        StoredObject result;
        switch (contentType)
        {
            case "application/apply-patch+yaml" or "application/apply-patch+cbor":
                {
                    if (contentType.EndsWith("cbor", StringComparison.Ordinal)) throw ApiError.UnsupportedMediaType(contentType);
                    if (string.IsNullOrEmpty(ctx.Request.Query["fieldManager"]))
                    {
                        throw ApiError.BadRequest("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch");
                    }
                    var config = YamlJson.Parse(bodyText) as JsonObject ?? throw ApiError.BadRequest("apply patch must be an object");
                    var (_, storedConfig) = ToStorage(type, config);
                    var force = ApiRequestReader.IsTrue(ctx.Request.Query["force"]);
                    var manager = options.FieldManager;
                    result = _registry.Patch(storageType, ns, name, status, options, "Apply", out var created, current =>
                    {
                        var configMeta = storedConfig["metadata"] as JsonObject;
                        if (configMeta?["name"]?.GetValue<string>() is { } configName && configName != name)
                        {
                            throw ApiError.BadRequest($"the name of the object ({configName}) does not match the name on the URL ({name})");
                        }
                        // A resourceVersion in the apply configuration is a precondition, as on kube-apiserver: a
                        // read-modify-apply of an atomic list must not land on an object changed since the read.
                        if (current is not null && configMeta?["resourceVersion"]?.GetValue<string>() is { Length: > 0 } expected
                            && expected != current["metadata"]?["resourceVersion"]?.GetValue<string>())
                        {
                            throw ApiError.StaleResourceVersion(type.Group, type.Plural, name);
                        }
                        var applied = _registry.ManagedFields.Apply(current, storedConfig, manager, type.GroupVersion, force, status ? "status" : null, type.IsBuiltIn,
                            type.Group, type.Plural, name);
                        if (current is not null) ((JsonObject)applied["metadata"]!)["resourceVersion"] = current["metadata"]!["resourceVersion"]!.DeepClone();
                        return applied;
                    });
                    await WriteObjectAsync(ctx, type, result, created ? 201 : 200, options, ct);
                    return;
                }
            case "application/merge-patch+json":
                {
                    var patch = ParseJson(bodyText);
                    if (type.Group == "events.k8s.io" && patch is JsonObject p) patch = EventConversion.ToCore(p);
                    result = _registry.Patch(storageType, ns, name, status, options, "Update", out _,
                        current => JsonMergePatch.Apply(current, patch) as JsonObject ?? throw ApiError.BadRequest("merge patch must produce an object"));
                    break;
                }
            case "application/json-patch+json":
                {
                    var patch = ParseJson(bodyText);
                    result = _registry.Patch(storageType, ns, name, status, options, "Update", out _, current =>
                    {
                        var view = type.Group == "events.k8s.io" ? EventConversion.FromCore(current!) : current!;
                        var patched = JsonPatch.Apply(view, patch) as JsonObject ?? throw ApiError.BadRequest("json patch must produce an object");
                        return type.Group == "events.k8s.io" ? EventConversion.ToCore(patched) : patched;
                    });
                    break;
                }
            case "application/strategic-merge-patch+json":
                {
                    if (!type.IsBuiltIn)
                    {
                        throw new ApiError(415, "UnsupportedMediaType",
                            $"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (strategic merge patch is not supported for custom resources)");
                    }
                    var patch = ParseJson(bodyText) as JsonObject ?? throw ApiError.BadRequest("strategic merge patch must be a JSON object");
                    if (type.Group == "events.k8s.io") patch = EventConversion.ToCore(patch);
                    result = _registry.Patch(storageType, ns, name, status, options, "Update", out _, current => StrategicMergePatch.Apply(current!, patch));
                    break;
                }
            default:
                throw new ApiError(415, "UnsupportedMediaType",
                    $"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml{(type.IsBuiltIn ? ", application/strategic-merge-patch+json" : "")}");
        }
        await WriteObjectAsync(ctx, type, result, 200, options, ct);
    }

    private static JsonNode? ParseJson(string text)
    {
        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException e)
        {
            throw ApiError.BadRequest($"error decoding patch: {e.Message}");
        }
    }

    private async Task DeleteCollectionAsync(HttpContext ctx, ResourceType type, string? ns, CancellationToken ct)
    {
        var options = await ApiRequestReader.DeleteOptionsFromAsync(ctx, ct);
        var labels = LabelSelector.Parse(ctx.Request.Query["labelSelector"]);
        var fields = FieldSelector.Parse(ctx.Request.Query["fieldSelector"], type);
        var storage = StorageType(type);
        var (items, rv) = _registry.Store.Snapshot(storage.StorageKey);
        var deleted = new List<JsonObject>();
        foreach (var o in items.Values)
        {
            if (ns is not null && o.Namespace != ns) continue;
            if (!labels.Matches(o.Labels) || !fields.Matches(o.Namespace, o.Name, o.ToJson)) continue;
            try
            {
                var (obj, _) = _registry.Delete(storage, o.Namespace, o.Name, options);
                deleted.Add(ParseForType(type, obj));
            }
            catch (ApiError e) when (e.Code == 404)
            {
                // Deleted concurrently: nothing left to do for it.
            }
        }
        await ApiResponseWriter.WriteJsonAsync(ctx, 200, new JsonObject
        {
            ["kind"] = type.Kind + "List",
            ["apiVersion"] = type.GroupVersion,
            ["metadata"] = new JsonObject { ["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture) },
            ["items"] = new JsonArray(deleted.Select(d => (JsonNode)d).ToArray()),
        }, ct);
    }

    private async Task ListAsync(HttpContext ctx, ResourceType type, string? ns, CancellationToken ct)
    {
        var query = ctx.Request.Query;
        var labels = LabelSelector.Parse(query["labelSelector"]);
        var fields = FieldSelector.Parse(query["fieldSelector"], type);
        var limit = 0;
        if (!string.IsNullOrEmpty(query["limit"]) && (!int.TryParse(query["limit"], out limit) || limit < 0))
        {
            throw ApiError.BadRequest($"invalid limit \"{query["limit"]}\": must be a non-negative integer");
        }
        var storage = StorageType(type);
        var page = _continueTokens.Page(_registry.Store, storage.StorageKey, query["continue"], limit,
            o => (ns is null || o.Namespace == ns) && labels.Matches(o.Labels) && fields.Matches(o.Namespace, o.Name, o.ToJson));
        var rv = page.ResourceVersion.ToString(CultureInfo.InvariantCulture);
        if (ApiRequestReader.WantsTable(ctx))
        {
            var table = _tables.Table(type, page.Items.Select(o => ParseForType(type, o)), rv, page.Continue, ApiRequestReader.IncludeObject(ctx));
            if (page.RemainingItemCount is { } remaining) ((JsonObject)table["metadata"]!)["remainingItemCount"] = remaining;
            await ApiResponseWriter.WriteJsonAsync(ctx, 200, table, ct);
            return;
        }
        var buffer = new ArrayBufferWriter<byte>(4096 + page.Items.Sum(i => i.Json.Length + 1));
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("kind", type.Kind + "List");
            writer.WriteString("apiVersion", type.GroupVersion);
            writer.WriteStartObject("metadata");
            writer.WriteString("resourceVersion", rv);
            if (page.Continue is not null) writer.WriteString("continue", page.Continue);
            if (page.RemainingItemCount is { } remaining) writer.WriteNumber("remainingItemCount", remaining);
            writer.WriteEndObject();
            writer.WriteStartArray("items");
            var convert = NeedsConversion(type);
            foreach (var item in page.Items)
            {
                writer.WriteRawValue(convert ? JsonSerializer.SerializeToUtf8Bytes(ParseForType(type, item), JsonOptions.Compact) : item.Json, skipInputValidation: true);
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.Body.WriteAsync(buffer.WrittenMemory, ct);
    }

    /// <summary>Custom resources read through another served version, and events.k8s.io events, need rewriting.</summary>
    private bool NeedsConversion(ResourceType type) =>
        type.Group == "events.k8s.io" || !type.IsBuiltIn && _catalog.All.Count(r => r.StorageKey == type.StorageKey) > 1;

    internal JsonObject ParseForType(ResourceType type, StoredObject o)
    {
        var obj = o.ToJson();
        if (type.Group == "events.k8s.io") return EventConversion.FromCore(obj);
        if (!type.IsBuiltIn) obj["apiVersion"] = type.GroupVersion;
        return obj;
    }

    /// <summary>The type the registry stores a request under (events.k8s.io events are stored as core events).</summary>
    private ResourceType StorageType(ResourceType type) =>
        type.Group == "events.k8s.io" ? _catalog.Find("", "v1", "events")! : type;

    private (ResourceType Type, JsonObject Body) ToStorage(ResourceType type, JsonObject body)
    {
        if (type.Group != "events.k8s.io") return (type, body);
        var kind = body["apiVersion"]?.GetValue<string>();
        if (kind is not null && kind != "events.k8s.io/v1")
        {
            throw ApiError.BadRequest($"the API version in the data ({kind}) does not match the expected API version (events.k8s.io/v1)");
        }
        return (StorageType(type), EventConversion.ToCore(body));
    }

    private async Task WriteObjectAsync(HttpContext ctx, ResourceType type, StoredObject obj, int code, WriteOptions? options, CancellationToken ct)
    {
        if (options is not null)
        {
            foreach (var warning in options.Warnings) ctx.Response.Headers.Append("Warning", $"299 - \"{warning.Replace("\"", "\\\"", StringComparison.Ordinal)}\"");
        }
        if (ApiRequestReader.WantsTable(ctx))
        {
            await ApiResponseWriter.WriteJsonAsync(ctx, code, _tables.Table(type, [ParseForType(type, obj)], obj.ResourceVersion.ToString(CultureInfo.InvariantCulture), null, ApiRequestReader.IncludeObject(ctx)), ct);
            return;
        }
        ctx.Response.StatusCode = code;
        ctx.Response.ContentType = "application/json";
        var bytes = NeedsConversion(type) ? JsonSerializer.SerializeToUtf8Bytes(ParseForType(type, obj), JsonOptions.Compact) : obj.Json;
        await ctx.Response.Body.WriteAsync(bytes, ct);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Unhandled error serving {Method} {Path}")]
        public static partial void Unhandled(ILogger logger, string method, string path, Exception e);

        [LoggerMessage(2, LogLevel.Debug, "{Method} {Path}{Query} -> {Status} in {Milliseconds:F1} ms")]
        public static partial void Served(ILogger logger, string method, string path, string query, int status, double milliseconds);
    }
}
