using System.Globalization;
using System.Text.Json;

namespace KubectlGru.Status;

/// <summary>One track's serving state (status.stable).</summary>
internal sealed record TrackView(string? Revision, string? ShortDigest, int Replicas, int ReadyReplicas, int UnschedulableReplicas);

/// <summary>One metric of the last analysis run.</summary>
internal sealed record MetricView(string Name, string? Value, string? Threshold, string? StableValue, string? PValue, string? Verdict, string? Reason);

/// <summary>The running canary (status.canary) with its analysis.</summary>
internal sealed record CanaryView(
    string? Revision, string? ModelDigest, int Step, int Weight, int? EffectiveWeight, string? StartedAt,
    int Runs, int ConsecutiveFailures, int ConsecutiveInconclusive, string? LastRunTime, string? LastVerdict, string? LastReason,
    IReadOnlyList<MetricView> Metrics);

/// <summary>Load-driven replicas (status.autoscaling, with the bounds from spec.serving.autoscaling).</summary>
internal sealed record AutoscalingView(
    int DesiredReplicas, int CurrentReplicas, int? MinReplicas, int? MaxReplicas, string? Metric, string? CurrentValue, string? Target, int Pods,
    int UnschedulableReplicas, string? Reason, string? LastScaleTime, string? Message);

/// <summary>A condition (metav1.Condition shape).</summary>
internal sealed record ConditionView(string Type, string Status, string? Reason, string? Message);

/// <summary>One finished rollout (status.history).</summary>
internal sealed record HistoryView(string? Revision, string? ModelDigest, string? Outcome, string? Reason, string? FinishedAt);

/// <summary>
/// A GruModel as the plugin shows it, read from the API server's JSON (not from the operator's C# types, so the plugin
/// keeps working against an operator of another version; fields it does not know are ignored).
/// </summary>
internal sealed record GruModelView(
    string Namespace, string Name, long Generation, long? ObservedGeneration, string? Phase, string? Message, string? Ready,
    DateTimeOffset? Created, TrackView? Stable, CanaryView? Canary, int? Verified, int? Mismatched, string? LastCheck,
    IReadOnlyList<ConditionView> Conditions, IReadOnlyList<HistoryView> History, string? PendingAction, AutoscalingView? Autoscaling = null)
{
    /// <summary>spec.serving.replicas: the whole model's count, as /scale sets it (1 when unset, as the operator reads it).</summary>
    public int DesiredReplicas { get; init; } = 1;

    /// <summary>status.replicas: the model's pods in all tracks; null from an operator that does not report it.</summary>
    public int? RunningReplicas { get; init; }

    public static GruModelView From(JsonElement model)
    {
        var metadata = model.GetProperty("metadata");
        var status = Child(model, "status");
        var canary = Child(status, "canary");
        var analysis = Child(canary, "analysis");
        var lastRun = Child(analysis, "lastRun");
        var stable = Child(status, "stable");
        var served = Child(status, "servedModels");
        var autoscaling = Child(status, "autoscaling");
        var bounds = Child(Child(Child(model, "spec"), "serving"), "autoscaling");
        return new GruModelView(
            Str(metadata, "namespace") ?? "",
            Str(metadata, "name") ?? "",
            Long(metadata, "generation") ?? 0,
            Long(status, "observedGeneration"),
            Str(status, "phase"),
            Str(status, "message"),
            Str(status, "ready"),
            Str(metadata, "creationTimestamp") is { } created ? DateTimeOffset.Parse(created, CultureInfo.InvariantCulture) : null,
            stable is { } s ? new TrackView(Str(s, "revision"), Str(s, "shortDigest"), Int(s, "replicas") ?? 0, Int(s, "readyReplicas") ?? 0, Int(s, "unschedulableReplicas") ?? 0) : null,
            canary is { } c && Str(c, "revision") is not null
                ? new CanaryView(
                    Str(c, "revision"), Str(c, "modelDigest"), Int(c, "step") ?? 0, Int(c, "weight") ?? 0, Int(c, "effectiveWeight"), Str(c, "startedAt"),
                    Int(analysis, "runs") ?? 0, Int(analysis, "consecutiveFailures") ?? 0, Int(analysis, "consecutiveInconclusive") ?? 0,
                    Str(lastRun, "time"), Str(lastRun, "verdict"), Str(lastRun, "reason"),
                    Items(lastRun, "metrics").Select(m => new MetricView(
                        Str(m, "name") ?? "", Str(m, "value"), Str(m, "threshold"), Str(m, "stableValue"), Str(m, "pValue"), Str(m, "verdict"), Str(m, "reason"))).ToList())
                : null,
            Int(served, "verified"),
            Int(served, "mismatched"),
            Str(served, "lastCheck"),
            Items(status, "conditions").Select(c => new ConditionView(Str(c, "type") ?? "", Str(c, "status") ?? "", Str(c, "reason"), Str(c, "message"))).ToList(),
            Items(status, "history").Select(h => new HistoryView(Str(h, "revision"), Str(h, "modelDigest"), Str(h, "outcome"), Str(h, "reason"), Str(h, "finishedAt"))).ToList(),
            Child(metadata, "annotations") is { } annotations ? Str(annotations, Cluster.GruModelApi.ActionAnnotation) : null,
            autoscaling is { } a
                ? new AutoscalingView(Int(a, "desiredReplicas") ?? 0, Int(a, "currentReplicas") ?? 0, Int(bounds, "minReplicas"), Int(bounds, "maxReplicas"),
                    Str(a, "metric"), Str(a, "currentValue"), Str(a, "target"), Int(a, "pods") ?? 0, Int(a, "unschedulableReplicas") ?? 0,
                    Str(a, "reason"), Str(a, "lastScaleTime"), Str(a, "message"))
                : null)
        {
            DesiredReplicas = Int(Child(Child(model, "spec"), "serving"), "replicas") ?? 1,
            RunningReplicas = Int(status, "replicas"),
        };
    }

    private static JsonElement? Child(JsonElement? parent, string name) =>
        parent is { ValueKind: JsonValueKind.Object } p && p.TryGetProperty(name, out var child) && child.ValueKind == JsonValueKind.Object ? child : null;

    private static IEnumerable<JsonElement> Items(JsonElement? parent, string name) =>
        parent is { ValueKind: JsonValueKind.Object } p && p.TryGetProperty(name, out var list) && list.ValueKind == JsonValueKind.Array ? list.EnumerateArray() : [];

    private static string? Str(JsonElement? parent, string name) =>
        parent is { ValueKind: JsonValueKind.Object } p && p.TryGetProperty(name, out var value)
            ? value.ValueKind switch { JsonValueKind.String => value.GetString(), JsonValueKind.Null => null, _ => value.GetRawText() }
            : null;

    private static long? Long(JsonElement? parent, string name) =>
        parent is { ValueKind: JsonValueKind.Object } p && p.TryGetProperty(name, out var value) && value.TryGetInt64(out var number) ? number : null;

    private static int? Int(JsonElement? parent, string name) => Long(parent, name) is { } value ? (int)value : null;
}
