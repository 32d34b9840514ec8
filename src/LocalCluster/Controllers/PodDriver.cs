using System.Text.Json.Nodes;
using Kube.Local.Resources;
using Kube.Local.Storage;

namespace Kube.Local;

/// <summary>
/// Plays kubelet and scheduler for tests (there are none here): writes the Pod status a real node would
/// report, through the status subresource, so watchers see ordinary MODIFIED events.
/// </summary>
public sealed class PodDriver
{
    private const string Manager = "local-cluster-pod-driver";
    private const string NodeName = "local-node";
    private readonly ObjectRegistry _registry;
    private readonly TimeProvider _time;
    private int _nextIp;

    internal PodDriver(ObjectRegistry registry, TimeProvider time)
    {
        _registry = registry;
        _time = time;
    }

    private ResourceType PodType => _registry.Catalog.Find("", "v1", "pods")!;

    /// <summary>Schedules the Pod on the local node and reports it Running with every container ready.</summary>
    public Task MarkReadyAsync(string @namespace, string name, CancellationToken ct = default) =>
        RunningAsync(@namespace, name, ready: true, ct);

    /// <summary>Schedules the Pod and reports it Running with containers started but not ready (readiness probe failing).</summary>
    public Task MarkRunningNotReadyAsync(string @namespace, string name, CancellationToken ct = default) =>
        RunningAsync(@namespace, name, ready: false, ct);

    /// <summary>Reports the Pod Pending with PodScheduled=False, reason Unschedulable and the scheduler's message.</summary>
    public Task MarkUnschedulableAsync(string @namespace, string name, string message, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        ArgumentException.ThrowIfNullOrEmpty(message);
        var now = Timestamps.Format(_time.GetUtcNow());
        WriteStatus(@namespace, name, pod =>
        {
            var status = BuiltInStrategy.Obj(pod, "status");
            status["phase"] = "Pending";
            status["conditions"] = new JsonArray(Condition(pod, "PodScheduled", "False", now, "Unschedulable", message));
            status.Remove("containerStatuses");
        });
        return Task.CompletedTask;
    }

    /// <summary>Reports the Pod Failed (all containers terminated with exit code 1 and the given reason).</summary>
    public Task MarkFailedAsync(string @namespace, string name, string reason, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        var now = Timestamps.Format(_time.GetUtcNow());
        WriteStatus(@namespace, name, pod =>
        {
            var status = BuiltInStrategy.Obj(pod, "status");
            status["phase"] = "Failed";
            status["reason"] = reason;
            status["conditions"] = new JsonArray(
                Condition(pod, "PodScheduled", "True", now),
                Condition(pod, "Ready", "False", now, "PodFailed"),
                Condition(pod, "ContainersReady", "False", now, "PodFailed"));
            status["containerStatuses"] = ContainerStatuses(pod, ready: false, now, terminated: true);
        });
        return Task.CompletedTask;
    }

    private Task RunningAsync(string ns, string name, bool ready, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var now = Timestamps.Format(_time.GetUtcNow());
        var options = new WriteOptions(false, Manager, FieldValidation.Ignore);
        _registry.Patch(PodType, ns, name, false, options, "Update", out _, pod =>
        {
            BuiltInStrategy.Obj(pod!, "spec")["nodeName"] ??= NodeName;
            return pod!;
        });
        var n = Interlocked.Increment(ref _nextIp);
        var ip = $"10.244.{n / 250}.{(n % 250) + 1}";
        WriteStatus(ns, name, pod =>
        {
            var status = BuiltInStrategy.Obj(pod, "status");
            var readyText = ready ? "True" : "False";
            var unready = ready ? null : "ContainersNotReady";
            var names = string.Join(" ", ((pod["spec"]?["containers"] as JsonArray) ?? []).Select(c => c?["name"]?.GetValue<string>()));
            var message = ready ? null : $"containers with unready status: [{names}]";
            status["phase"] = "Running";
            status.Remove("reason");
            status["conditions"] = new JsonArray(
                Condition(pod, "PodReadyToStartContainers", "True", now),
                Condition(pod, "Initialized", "True", now),
                Condition(pod, "Ready", readyText, now, unready, message),
                Condition(pod, "ContainersReady", readyText, now, unready, message),
                Condition(pod, "PodScheduled", "True", now));
            status["hostIP"] ??= "127.0.0.1";
            status["hostIPs"] ??= new JsonArray(new JsonObject { ["ip"] = "127.0.0.1" });
            if (status["podIP"] is null)
            {
                status["podIP"] = ip;
                status["podIPs"] = new JsonArray(new JsonObject { ["ip"] = ip });
            }
            status["startTime"] ??= now;
            status["containerStatuses"] = ContainerStatuses(pod, ready, now, terminated: false);
        });
        return Task.CompletedTask;
    }

    private void WriteStatus(string ns, string name, Action<JsonObject> change)
    {
        var options = new WriteOptions(false, Manager, FieldValidation.Ignore);
        _registry.Patch(PodType, ns, name, true, options, "Update", out _, pod =>
        {
            change(pod!);
            return pod!;
        });
    }

    /// <summary>A condition that keeps its lastTransitionTime when its status did not change.</summary>
    private static JsonObject Condition(JsonObject pod, string type, string status, string now, string? reason = null, string? message = null)
    {
        var old = (pod["status"]?["conditions"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault(c => c["type"]?.GetValue<string>() == type);
        var since = old?["status"]?.GetValue<string>() == status ? old["lastTransitionTime"]?.GetValue<string>() ?? now : now;
        var c = new JsonObject
        {
            ["type"] = type,
            ["status"] = status,
            ["lastProbeTime"] = null,
            ["lastTransitionTime"] = since,
        };
        if (reason is not null) c["reason"] = reason;
        if (message is not null) c["message"] = message;
        return c;
    }

    private static JsonArray ContainerStatuses(JsonObject pod, bool ready, string now, bool terminated)
    {
        var list = new JsonArray();
        foreach (var c in ((pod["spec"]?["containers"] as JsonArray) ?? []).OfType<JsonObject>())
        {
            var name = c["name"]?.GetValue<string>() ?? "";
            var image = c["image"]?.GetValue<string>() ?? "";
            list.Add(new JsonObject
            {
                ["name"] = name,
                ["image"] = image,
                ["imageID"] = "",
                ["containerID"] = $"local://{pod["metadata"]?["uid"]}/{name}",
                ["ready"] = ready,
                ["started"] = !terminated,
                ["restartCount"] = 0,
                ["state"] = terminated
                    ? new JsonObject { ["terminated"] = new JsonObject { ["exitCode"] = 1, ["reason"] = "Error", ["finishedAt"] = now } }
                    : new JsonObject { ["running"] = new JsonObject { ["startedAt"] = now } },
            });
        }
        return list;
    }
}
