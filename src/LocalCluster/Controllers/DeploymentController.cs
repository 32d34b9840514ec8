using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Kube.Local.Api;
using Kube.Local.Resources;
using Kube.Local.Storage;
using Microsoft.Extensions.Logging;

namespace Kube.Local.Controllers;

/// <summary>
/// The deployment and replicaset controllers, simplified: a Deployment owns one ReplicaSet per pod template
/// (named by pod-template-hash), the new one is scaled to spec.replicas and old ones down as new Pods become
/// ready (Recreate: old to zero first); ReplicaSets create and delete Pods; statuses and the Available and
/// Progressing conditions (including ProgressDeadlineExceeded) come from the Pods' readiness.
/// Work is keyed by namespace: any change to a Deployment, ReplicaSet or Pod there resyncs that namespace.
/// </summary>
internal sealed partial class DeploymentController : IAsyncDisposable
{
    private const string Manager = "deployment-controller";
    private static readonly TimeSpan Resync = TimeSpan.FromSeconds(2);
    private readonly ObjectRegistry _registry;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<string> _queue = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly HashSet<string> _queued = [];
    private readonly object _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Action<WatchEvent> _subscription;
    private readonly Task _loop;
    private readonly Task _resync;
    private readonly WriteOptions _options = new(false, Manager, FieldValidation.Ignore);

    public DeploymentController(ObjectRegistry registry, TimeProvider time, ILogger logger)
    {
        _registry = registry;
        _time = time;
        _logger = logger;
        _subscription = e =>
        {
            if (e.StorageKey is "apps/deployments" or "apps/replicasets" or "/pods") Enqueue(e.Object.Namespace);
        };
        registry.Store.Committed += _subscription;
        _loop = Task.Run(() => RunAsync(_stop.Token));
        _resync = Task.Run(() => ResyncAsync(_stop.Token));
    }

    private ResourceType Deployments => _registry.Catalog.Find("apps", "v1", "deployments")!;
    private ResourceType ReplicaSets => _registry.Catalog.Find("apps", "v1", "replicasets")!;
    private ResourceType Pods => _registry.Catalog.Find("", "v1", "pods")!;

    private void Enqueue(string ns)
    {
        lock (_gate)
        {
            if (!_queued.Add(ns)) return;
        }
        _queue.Writer.TryWrite(ns);
    }

    private async Task ResyncAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(Resync, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                foreach (var ns in _registry.Store.Snapshot(Deployments.StorageKey).Items.Values.Select(d => d.Namespace).Distinct()) Enqueue(ns);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    private async Task RunAsync(CancellationToken ct)
    {
        try
        {
            await foreach (var ns in _queue.Reader.ReadAllAsync(ct))
            {
                lock (_gate) _queued.Remove(ns);
                try
                {
                    SyncNamespace(ns);
                }
                catch (ApiError e) when (e.Code is 404 or 409 or 403)
                {
                    Enqueue(ns);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    Log.SyncFailed(_logger, ns, e);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    private void SyncNamespace(string ns)
    {
        foreach (var d in _registry.Store.Snapshot(Deployments.StorageKey).Items.Values.Where(d => d.Namespace == ns).ToList())
        {
            if (!d.IsDeleting) SyncDeployment(d.ToJson());
        }
        foreach (var rs in _registry.Store.Snapshot(ReplicaSets.StorageKey).Items.Values.Where(r => r.Namespace == ns).ToList())
        {
            if (!rs.IsDeleting) SyncReplicaSet(rs.ToJson());
        }
        foreach (var d in _registry.Store.Snapshot(Deployments.StorageKey).Items.Values.Where(d => d.Namespace == ns).ToList())
        {
            if (!d.IsDeleting) UpdateDeploymentStatus(d.ToJson());
        }
    }

    private List<JsonObject> OwnedBy(ResourceType type, string ns, string ownerUid) =>
        _registry.Store.Snapshot(type.StorageKey).Items.Values
            .Where(o => o.Namespace == ns && o.OwnerUids.Contains(ownerUid) && !o.IsDeleting)
            .Select(o => o.ToJson()).ToList();

    // As the real ReplicaSet controller (controller.FilterActivePods): a Failed or Succeeded pod no longer counts toward
    // replicas, so the ReplicaSet creates a replacement and leaves the failed pod for inspection.
    private List<JsonObject> ActivePods(string ns, string ownerUid) =>
        OwnedBy(Pods, ns, ownerUid).Where(p => p["status"]?["phase"]?.GetValue<string>() is not ("Failed" or "Succeeded")).ToList();

    private static string TemplateHash(JsonNode? template)
    {
        // FNV-1a over the template, encoded with the alphabet of apimachinery's SafeEncodeString.
        const string alphabet = "bcdfghjklmnpqrstvwxz2456789";
        uint hash = 2166136261;
        foreach (var b in Encoding.UTF8.GetBytes(template?.ToJsonString() ?? ""))
        {
            hash ^= b;
            hash *= 16777619;
        }
        var sb = new StringBuilder();
        var digits = hash.ToString(CultureInfo.InvariantCulture);
        foreach (var c in digits) sb.Append(alphabet[(c - '0' + sb.Length) % alphabet.Length]);
        return sb.ToString();
    }

    private void SyncDeployment(JsonObject d)
    {
        var meta = (JsonObject)d["metadata"]!;
        var ns = meta["namespace"]!.GetValue<string>();
        var name = meta["name"]!.GetValue<string>();
        var uid = meta["uid"]!.GetValue<string>();
        var spec = (JsonObject)d["spec"]!;
        var desired = spec["replicas"]?.GetValue<int>() ?? 1;
        var template = spec["template"]!.DeepClone().AsObject();
        var hash = TemplateHash(template);
        var owned = OwnedBy(ReplicaSets, ns, uid);
        var newRs = owned.FirstOrDefault(rs => rs["metadata"]?["labels"]?["pod-template-hash"]?.GetValue<string>() == hash);
        var revision = owned.Select(rs => int.TryParse(rs["metadata"]?["annotations"]?["deployment.kubernetes.io/revision"]?.GetValue<string>(), out var r) ? r : 0).DefaultIfEmpty(0).Max();
        var old = owned.Where(rs => rs != newRs).ToList();
        var recreate = spec["strategy"]?["type"]?.GetValue<string>() == "Recreate";
        var oldPods = old.Sum(rs => ActivePods(ns, rs["metadata"]!["uid"]!.GetValue<string>()).Count);
        if (newRs is null)
        {
            var labels = (template["metadata"]?["labels"] as JsonObject)?.DeepClone().AsObject() ?? new JsonObject();
            labels["pod-template-hash"] = hash;
            BuiltInStrategy.Obj(BuiltInStrategy.Obj(template, "metadata"), "labels")["pod-template-hash"] = hash;
            var selector = (spec["selector"] as JsonObject)?.DeepClone().AsObject() ?? new JsonObject();
            BuiltInStrategy.Obj(selector, "matchLabels")["pod-template-hash"] = hash;
            var rs = new JsonObject
            {
                ["apiVersion"] = "apps/v1",
                ["kind"] = "ReplicaSet",
                ["metadata"] = new JsonObject
                {
                    ["name"] = $"{name}-{hash}",
                    ["namespace"] = ns,
                    ["labels"] = labels,
                    ["annotations"] = new JsonObject
                    {
                        ["deployment.kubernetes.io/revision"] = (revision + 1).ToString(CultureInfo.InvariantCulture),
                        ["deployment.kubernetes.io/desired-replicas"] = desired.ToString(CultureInfo.InvariantCulture),
                    },
                    ["ownerReferences"] = new JsonArray(OwnerReference("apps/v1", "Deployment", name, uid)),
                },
                ["spec"] = new JsonObject
                {
                    ["replicas"] = recreate && oldPods > 0 ? 0 : desired,
                    ["selector"] = selector,
                    ["template"] = template,
                },
            };
            newRs = _registry.Create(ReplicaSets, ns, rs, _options).ToJson();
        }
        else
        {
            var want = recreate && oldPods > 0 ? 0 : desired;
            Scale(newRs, want);
        }
        // The Deployment carries its current revision, as `kubectl rollout history` reads it.
        var newRevision = newRs["metadata"]?["annotations"]?["deployment.kubernetes.io/revision"]?.GetValue<string>();
        if (newRevision is not null && meta["annotations"]?["deployment.kubernetes.io/revision"]?.GetValue<string>() != newRevision)
        {
            _registry.Patch(Deployments, ns, name, false, _options, "Update", out _, current =>
            {
                BuiltInStrategy.Obj(BuiltInStrategy.Obj(current!, "metadata"), "annotations")["deployment.kubernetes.io/revision"] = newRevision;
                return current!;
            });
        }
        var newReady = newRs["status"]?["readyReplicas"]?.GetValue<int>() ?? 0;
        // Old ReplicaSets shrink as the new one becomes ready (Recreate: at once).
        var oldBudget = recreate ? 0 : Math.Max(0, desired - newReady);
        foreach (var rs in old.OrderByDescending(r => r["metadata"]?["creationTimestamp"]?.GetValue<string>(), StringComparer.Ordinal))
        {
            var current = rs["spec"]?["replicas"]?.GetValue<int>() ?? 0;
            var keep = Math.Min(current, oldBudget);
            oldBudget -= keep;
            Scale(rs, keep);
        }
    }

    private void Scale(JsonObject rs, int replicas)
    {
        if ((rs["spec"]?["replicas"]?.GetValue<int>() ?? 0) == replicas) return;
        var meta = (JsonObject)rs["metadata"]!;
        _registry.Patch(ReplicaSets, meta["namespace"]!.GetValue<string>(), meta["name"]!.GetValue<string>(), false, _options, "Update", out _, current =>
        {
            current!["spec"]!["replicas"] = replicas;
            return current;
        });
    }

    private void SyncReplicaSet(JsonObject rs)
    {
        var meta = (JsonObject)rs["metadata"]!;
        var ns = meta["namespace"]!.GetValue<string>();
        var name = meta["name"]!.GetValue<string>();
        var uid = meta["uid"]!.GetValue<string>();
        var desired = rs["spec"]?["replicas"]?.GetValue<int>() ?? 1;
        var pods = ActivePods(ns, uid);
        for (var i = pods.Count; i < desired; i++)
        {
            var template = rs["spec"]!["template"]!.DeepClone().AsObject();
            var podMeta = template["metadata"]?.DeepClone() as JsonObject ?? new JsonObject();
            podMeta["generateName"] = name + "-";
            podMeta["namespace"] = ns;
            podMeta["ownerReferences"] = new JsonArray(OwnerReference("apps/v1", "ReplicaSet", name, uid));
            var pod = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Pod", ["metadata"] = podMeta, ["spec"] = template["spec"]?.DeepClone() };
            pods.Add(_registry.Create(Pods, ns, pod, _options).ToJson());
        }
        if (pods.Count > desired)
        {
            // Delete not-ready Pods first, then the youngest.
            foreach (var pod in pods.OrderBy(IsReady).ThenByDescending(p => p["metadata"]?["creationTimestamp"]?.GetValue<string>(), StringComparer.Ordinal).Take(pods.Count - desired).ToList())
            {
                _registry.Delete(Pods, ns, pod["metadata"]!["name"]!.GetValue<string>(), new DeleteOptions("Background", null, null, false));
                pods.Remove(pod);
            }
        }
        var ready = pods.Count(IsReady);
        var labels = rs["spec"]?["template"]?["metadata"]?["labels"] as JsonObject;
        var fullyLabeled = pods.Count(p => labels is null || labels.All(kv => p["metadata"]?["labels"]?[kv.Key]?.GetValue<string>() == kv.Value?.GetValue<string>()));
        var status = new JsonObject
        {
            ["replicas"] = pods.Count,
            ["fullyLabeledReplicas"] = fullyLabeled,
            ["readyReplicas"] = ready,
            ["availableReplicas"] = ready,
            ["observedGeneration"] = meta["generation"]?.GetValue<long>() ?? 1,
        };
        WriteStatus(ReplicaSets, ns, name, status);
    }

    private void UpdateDeploymentStatus(JsonObject d)
    {
        var meta = (JsonObject)d["metadata"]!;
        var ns = meta["namespace"]!.GetValue<string>();
        var name = meta["name"]!.GetValue<string>();
        var spec = (JsonObject)d["spec"]!;
        var desired = spec["replicas"]?.GetValue<int>() ?? 1;
        var hash = TemplateHash(spec["template"]);
        var owned = OwnedBy(ReplicaSets, ns, meta["uid"]!.GetValue<string>());
        int total = 0, updated = 0, ready = 0;
        string? newRsName = null;
        foreach (var rs in owned)
        {
            var pods = ActivePods(ns, rs["metadata"]!["uid"]!.GetValue<string>());
            total += pods.Count;
            ready += pods.Count(IsReady);
            if (rs["metadata"]?["labels"]?["pod-template-hash"]?.GetValue<string>() == hash)
            {
                updated += pods.Count;
                newRsName = rs["metadata"]!["name"]!.GetValue<string>();
            }
        }
        var now = Timestamps.Format(_time.GetUtcNow());
        var maxUnavailable = Percent(spec["strategy"]?["rollingUpdate"]?["maxUnavailable"], desired, roundUp: false);
        var available = ready;
        var oldConditions = d["status"]?["conditions"] as JsonArray;
        var complete = updated == desired && total == desired && available == desired;
        var progressing = ProgressingCondition(oldConditions, complete, newRsName, spec, now);
        var availableOk = available >= desired - maxUnavailable;
        var status = new JsonObject
        {
            ["observedGeneration"] = meta["generation"]?.GetValue<long>() ?? 1,
            ["replicas"] = total,
            ["updatedReplicas"] = updated,
            ["readyReplicas"] = ready,
            ["availableReplicas"] = available,
            ["unavailableReplicas"] = Math.Max(0, total - available),
            ["conditions"] = new JsonArray(
                Condition(oldConditions, "Available", availableOk ? "True" : "False",
                    availableOk ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
                    availableOk ? "Deployment has minimum availability." : "Deployment does not have minimum availability.", now),
                progressing),
        };
        foreach (var key in new[] { "readyReplicas", "availableReplicas", "unavailableReplicas", "updatedReplicas", "replicas" })
        {
            if (status[key]!.GetValue<int>() == 0) status.Remove(key);
        }
        WriteStatus(Deployments, ns, name, status);
    }

    private JsonObject ProgressingCondition(JsonArray? old, bool complete, string? newRsName, JsonObject spec, string now)
    {
        var previous = old?.OfType<JsonObject>().FirstOrDefault(c => c["type"]?.GetValue<string>() == "Progressing");
        if (complete)
        {
            return Condition(old, "Progressing", "True", "NewReplicaSetAvailable", $"ReplicaSet \"{newRsName}\" has successfully progressed.", now);
        }
        var deadline = spec["progressDeadlineSeconds"]?.GetValue<int>() ?? 600;
        var since = Timestamps.Parse(previous?["lastUpdateTime"]?.GetValue<string>());
        if (previous?["reason"]?.GetValue<string>() == "ProgressDeadlineExceeded" ||
            previous?["reason"]?.GetValue<string>() == "ReplicaSetUpdated" && since is { } s && _time.GetUtcNow() - s > TimeSpan.FromSeconds(deadline))
        {
            return Condition(old, "Progressing", "False", "ProgressDeadlineExceeded", $"ReplicaSet \"{newRsName}\" has timed out progressing.", now);
        }
        var c = Condition(old, "Progressing", "True", "ReplicaSetUpdated", $"ReplicaSet \"{newRsName}\" is progressing.", now);
        // lastUpdateTime marks the start of the current attempt; keep it while the reason stays the same.
        if (previous?["reason"]?.GetValue<string>() == "ReplicaSetUpdated") c["lastUpdateTime"] = previous["lastUpdateTime"]?.DeepClone();
        return c;
    }

    private static JsonObject Condition(JsonArray? old, string type, string status, string reason, string message, string now)
    {
        var previous = old?.OfType<JsonObject>().FirstOrDefault(c => c["type"]?.GetValue<string>() == type);
        var transition = previous?["status"]?.GetValue<string>() == status ? previous["lastTransitionTime"]?.GetValue<string>() ?? now : now;
        var update = previous?["status"]?.GetValue<string>() == status && previous["reason"]?.GetValue<string>() == reason && previous["message"]?.GetValue<string>() == message
            ? previous["lastUpdateTime"]?.GetValue<string>() ?? now
            : now;
        return new JsonObject
        {
            ["type"] = type,
            ["status"] = status,
            ["lastUpdateTime"] = update,
            ["lastTransitionTime"] = transition,
            ["reason"] = reason,
            ["message"] = message,
        };
    }

    private static int Percent(JsonNode? value, int total, bool roundUp)
    {
        if (value is null) return total / 4;
        if (value.GetValueKind() == JsonValueKind.Number) return value.GetValue<int>();
        var s = value.GetValue<string>();
        if (s.EndsWith('%') && int.TryParse(s[..^1], CultureInfo.InvariantCulture, out var p))
        {
            var v = total * p / 100.0;
            return roundUp ? (int)Math.Ceiling(v) : (int)Math.Floor(v);
        }
        return int.TryParse(s, CultureInfo.InvariantCulture, out var n) ? n : 0;
    }

    private void WriteStatus(ResourceType type, string ns, string name, JsonObject status)
    {
        _registry.Patch(type, ns, name, true, _options, "Update", out _, current =>
        {
            current!["status"] = status.DeepClone();
            return current;
        });
    }

    private static bool IsReady(JsonObject pod) =>
        (pod["status"]?["conditions"] as JsonArray)?.OfType<JsonObject>()
            .Any(c => c["type"]?.GetValue<string>() == "Ready" && c["status"]?.GetValue<string>() == "True") == true;

    private static JsonObject OwnerReference(string apiVersion, string kind, string name, string uid) => new()
    {
        ["apiVersion"] = apiVersion,
        ["kind"] = kind,
        ["name"] = name,
        ["uid"] = uid,
        ["controller"] = true,
        ["blockOwnerDeletion"] = true,
    };

    public async ValueTask DisposeAsync()
    {
        _registry.Store.Committed -= _subscription;
        _queue.Writer.TryComplete();
        await _stop.CancelAsync();
        await Task.WhenAll(_loop, _resync);
        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Deployment sync of namespace {Namespace} failed")]
        public static partial void SyncFailed(ILogger logger, string @namespace, Exception e);
    }
}
