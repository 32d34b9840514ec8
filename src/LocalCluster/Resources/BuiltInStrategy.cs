using System.Text;
using System.Text.Json.Nodes;
using Kube.Local.Api;

namespace Kube.Local.Resources;

/// <summary>
/// The defaults and create-time status that the real API server's strategies give built-in kinds, limited to
/// what clients commonly read back (pod phase, service clusterIP, deployment strategy, secret stringData...).
/// </summary>
internal sealed class BuiltInStrategy
{
    private readonly object _gate = new();
    private int _nextServiceIp = 1;

    public void PrepareForCreate(ResourceType type, JsonObject obj)
    {
        if (!type.IsBuiltIn) return;
        ApplyDefaults(type, obj);
        switch (type.Group, type.Kind)
        {
            case ("", "Namespace"):
                Obj(obj, "spec")["finalizers"] = new JsonArray("kubernetes");
                obj["status"] = new JsonObject { ["phase"] = "Active" };
                break;
            case ("", "Pod"):
                obj["status"] = new JsonObject { ["phase"] = "Pending", ["qosClass"] = QosClass(obj) };
                break;
            case ("", "Service"):
                {
                    var spec = Obj(obj, "spec");
                    if (spec["type"]!.GetValue<string>() != "ExternalName" && spec["clusterIP"]?.GetValue<string>() is null or "")
                    {
                        var ip = AllocateServiceIp();
                        spec["clusterIP"] = ip;
                        spec["clusterIPs"] = new JsonArray(ip);
                    }
                    obj["status"] = new JsonObject { ["loadBalancer"] = new JsonObject() };
                    break;
                }
            case ("apps", "Deployment" or "ReplicaSet"):
                obj.Remove("status");
                break;
            case ("", "Secret"):
                MergeStringData(obj);
                break;
        }
    }

    /// <summary>
    /// Update-time preparation: defaults again (the real server defaults every decoded object, so an apply or PUT
    /// that leaves out a defaulted field does not change the object), allocated values kept, stringData merged.
    /// </summary>
    public void PrepareForUpdate(ResourceType type, JsonObject old, JsonObject obj)
    {
        if (!type.IsBuiltIn) return;
        if (type is { Group: "", Kind: "Service" } && obj["spec"] is JsonObject spec && old["spec"] is JsonObject oldSpec)
        {
            // Allocated values are kept when an update leaves them out, as the service REST strategy does.
            foreach (var allocated in new[] { "clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy" })
            {
                if (spec[allocated] is null && oldSpec[allocated] is { } v) spec[allocated] = v.DeepClone();
            }
        }
        ApplyDefaults(type, obj);
        if (type is { Group: "", Kind: "Secret" }) MergeStringData(obj);
    }

    /// <summary>SetDefaults_* of k8s.io/api for the fields clients read back.</summary>
    private static void ApplyDefaults(ResourceType type, JsonObject obj)
    {
        switch (type.Group, type.Kind)
        {
            case ("", "Namespace"):
                Obj(Obj(obj, "metadata"), "labels")["kubernetes.io/metadata.name"] = obj["metadata"]!["name"]!.GetValue<string>();
                break;
            case ("", "Pod"):
                DefaultPodSpec(Obj(obj, "spec"));
                break;
            case ("", "Service"):
                {
                    var spec = Obj(obj, "spec");
                    spec["type"] ??= "ClusterIP";
                    spec["sessionAffinity"] ??= "None";
                    if (spec["type"]!.GetValue<string>() != "ExternalName")
                    {
                        spec["ipFamilies"] ??= new JsonArray("IPv4");
                        spec["ipFamilyPolicy"] ??= "SingleStack";
                        spec["internalTrafficPolicy"] ??= "Cluster";
                    }
                    if (spec["ports"] is JsonArray ports)
                    {
                        foreach (var p in ports.OfType<JsonObject>())
                        {
                            p["protocol"] ??= "TCP";
                            if (!p.ContainsKey("targetPort") && p["port"] is { } port) p["targetPort"] = port.DeepClone();
                        }
                    }
                    break;
                }
            case ("apps", "Deployment"):
                {
                    var spec = Obj(obj, "spec");
                    spec["replicas"] ??= 1;
                    spec["revisionHistoryLimit"] ??= 10;
                    spec["progressDeadlineSeconds"] ??= 600;
                    var strategy = Obj(spec, "strategy");
                    strategy["type"] ??= "RollingUpdate";
                    if (strategy["type"]!.GetValue<string>() == "RollingUpdate")
                    {
                        var ru = Obj(strategy, "rollingUpdate");
                        ru["maxUnavailable"] ??= "25%";
                        ru["maxSurge"] ??= "25%";
                    }
                    DefaultPodSpec(Obj(Obj(spec, "template"), "spec"));
                    break;
                }
            case ("apps", "ReplicaSet"):
                {
                    var spec = Obj(obj, "spec");
                    spec["replicas"] ??= 1;
                    DefaultPodSpec(Obj(Obj(spec, "template"), "spec"));
                    break;
                }
            case ("", "Secret"):
                if (obj["type"]?.GetValue<string>() is null or "") obj["type"] = "Opaque";
                break;
        }
    }

    /// <summary>Validates built-in fields the server rejects with 422 (only those clients commonly trip over).</summary>
    public static IEnumerable<StatusCause> Validate(ResourceType type, JsonObject obj)
    {
        if (type is { Group: "", Kind: "Pod" } && (obj["spec"]?["containers"] as JsonArray)?.Count is null or 0)
        {
            yield return new StatusCause("FieldValueRequired", "Required value", "spec.containers");
        }
        if (type is { Group: "apps", Kind: "Deployment" or "ReplicaSet" })
        {
            var selector = obj["spec"]?["selector"] as JsonObject;
            if (selector is null)
            {
                yield return new StatusCause("FieldValueRequired", "Required value", "spec.selector");
            }
            else if (selector["matchLabels"] is JsonObject match)
            {
                var labels = obj["spec"]?["template"]?["metadata"]?["labels"] as JsonObject;
                foreach (var (k, v) in match)
                {
                    if (labels?[k]?.GetValue<string>() != v?.GetValue<string>())
                    {
                        yield return new StatusCause("FieldValueInvalid", $"Invalid value: {labels?.ToJsonString() ?? "null"}: `selector` does not match template `labels`", "spec.template.metadata.labels");
                        break;
                    }
                }
            }
            if (obj["spec"]?["replicas"] is JsonValue r && r.TryGetValue<int>(out var replicas) && replicas < 0)
            {
                yield return new StatusCause("FieldValueInvalid", $"Invalid value: {replicas}: must be greater than or equal to 0", "spec.replicas");
            }
        }
    }

    /// <summary>Fields the real server refuses to change after create (422 "field is immutable").</summary>
    public static IEnumerable<StatusCause> ValidateUpdate(ResourceType type, JsonObject old, JsonObject next)
    {
        if (!type.IsBuiltIn) yield break;
        switch (type.Group, type.Kind)
        {
            case ("apps", "Deployment" or "ReplicaSet") when !JsonNode.DeepEquals(old["spec"]?["selector"], next["spec"]?["selector"]):
                {
                    var selector = next["spec"]?["selector"]?.ToJsonString() ?? "null";
                    yield return new StatusCause("FieldValueInvalid", "Invalid value: " + selector + ": field is immutable", "spec.selector");
                    break;
                }
            case ("", "ConfigMap" or "Secret") when old["immutable"]?.GetValue<bool>() == true:
                foreach (var field in new[] { "data", "binaryData" })
                {
                    if (!JsonNode.DeepEquals(old[field], next[field]))
                    {
                        yield return new StatusCause("FieldValueForbidden", "Forbidden: field is immutable when `immutable` is set", field);
                    }
                }
                if (next["immutable"]?.GetValue<bool>() != true)
                {
                    yield return new StatusCause("FieldValueForbidden", "Forbidden: field is immutable when `immutable` is set", "immutable");
                }
                break;
            case ("", "Service") when ClusterIpChanged(old, next):
                yield return new StatusCause("FieldValueInvalid", "Invalid value: " + next["spec"]!["clusterIP"]!.ToJsonString() + ": field is immutable", "spec.clusterIP");
                break;
        }
    }

    private static bool ClusterIpChanged(JsonObject old, JsonObject next) =>
        old["spec"]?["clusterIP"] is { } ip && next["spec"]?["clusterIP"] is { } nextIp && !JsonNode.DeepEquals(ip, nextIp);

    private static void MergeStringData(JsonObject obj)
    {
        if (obj["stringData"] is not JsonObject stringData) return;
        var data = Obj(obj, "data");
        foreach (var (k, v) in stringData)
        {
            data[k] = Convert.ToBase64String(Encoding.UTF8.GetBytes(v?.GetValue<string>() ?? ""));
        }
        obj.Remove("stringData");
    }

    private static void DefaultPodSpec(JsonObject spec)
    {
        spec["restartPolicy"] ??= "Always";
        spec["dnsPolicy"] ??= "ClusterFirst";
        spec["schedulerName"] ??= "default-scheduler";
        spec["terminationGracePeriodSeconds"] ??= 30;
        spec["securityContext"] ??= new JsonObject();
        foreach (var list in new[] { "containers", "initContainers" })
        {
            if (spec[list] is not JsonArray containers) continue;
            foreach (var c in containers.OfType<JsonObject>())
            {
                var image = c["image"]?.GetValue<string>() ?? "";
                c["imagePullPolicy"] ??= image.EndsWith(":latest", StringComparison.Ordinal) || !image.Contains(':', StringComparison.Ordinal) ? "Always" : "IfNotPresent";
                c["terminationMessagePath"] ??= "/dev/termination-log";
                c["terminationMessagePolicy"] ??= "File";
                c["resources"] ??= new JsonObject();
                if (c["ports"] is JsonArray ports)
                {
                    foreach (var p in ports.OfType<JsonObject>()) p["protocol"] ??= "TCP";
                }
                foreach (var probe in new[] { "livenessProbe", "readinessProbe", "startupProbe" })
                {
                    if (c[probe] is JsonObject pr) DefaultProbe(pr);
                }
                if (c["env"] is JsonArray env)
                {
                    foreach (var e in env.OfType<JsonObject>())
                    {
                        if (e["valueFrom"]?["fieldRef"] is JsonObject fieldRef) fieldRef["apiVersion"] ??= "v1";
                    }
                }
            }
        }
        if (spec["volumes"] is JsonArray volumes)
        {
            foreach (var v in volumes.OfType<JsonObject>())
            {
                // SetDefaults_Volume: a volume with no source is an emptyDir.
                if (v.All(kv => kv.Key == "name")) v["emptyDir"] = new JsonObject();
                foreach (var source in new[] { "secret", "configMap" })
                {
                    if (v[source] is JsonObject s) s["defaultMode"] ??= 420;
                }
            }
        }
    }

    /// <summary>SetDefaults_Probe and SetDefaults_HTTPGetAction.</summary>
    private static void DefaultProbe(JsonObject probe)
    {
        probe["timeoutSeconds"] ??= 1;
        probe["periodSeconds"] ??= 10;
        probe["successThreshold"] ??= 1;
        probe["failureThreshold"] ??= 3;
        if (probe["httpGet"] is JsonObject httpGet)
        {
            httpGet["path"] ??= "/";
            httpGet["scheme"] ??= "HTTP";
        }
    }

    private static string QosClass(JsonObject pod)
    {
        var containers = (pod["spec"]?["containers"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        if (containers.All(c => c["resources"] is not JsonObject r || r.Count == 0 || (r["requests"] is null && r["limits"] is null))) return "BestEffort";
        var guaranteed = containers.All(c =>
            c["resources"]?["limits"] is JsonObject limits && limits["cpu"] is not null && limits["memory"] is not null &&
            (c["resources"]?["requests"] is not JsonObject requests || requests.All(kv => JsonNode.DeepEquals(kv.Value, limits[kv.Key]))));
        return guaranteed ? "Guaranteed" : "Burstable";
    }

    private string AllocateServiceIp()
    {
        lock (_gate)
        {
            var n = _nextServiceIp++;
            return $"10.96.{n / 250}.{(n % 250) + 1}";
        }
    }

    internal static JsonObject Obj(JsonObject parent, string key)
    {
        if (parent[key] is JsonObject o) return o;
        o = new JsonObject();
        parent[key] = o;
        return o;
    }
}
