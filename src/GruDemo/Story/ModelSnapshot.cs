using System.Globalization;
using System.Text.Json.Nodes;

namespace GruDemo.Story;

/// <summary>One metric of an analysis run as status.canary.analysis.lastRun.metrics reports it.</summary>
public sealed record MetricVerdict(string Name, string? Verdict, string? Value, string? Threshold, string? StableValue, string? PValue, string? Reason);

/// <summary>One analysis run of a canary (status.canary.analysis.lastRun), with the step it judged.</summary>
public sealed record AnalysisRun(DateTimeOffset Time, string Revision, int Step, string Verdict, string Reason, IReadOnlyList<MetricVerdict> Metrics);

/// <summary>A history entry (status.history).</summary>
public sealed record HistoryEntry(string Revision, string Outcome, string Reason, string Message, string ModelDigest);

/// <summary>The canary as status.canary reports it.</summary>
public sealed record CanarySnapshot(string Revision, string ModelDigest, int Step, int Weight, int EffectiveWeight, string Traffic, AnalysisRun? LastRun, string? Promotion);

/// <summary>What the GruModel's status says at one moment.</summary>
public sealed record ModelSnapshot(
    string Phase, string Message, string Ready, string StableRevision, string StableDigest, int StableReplicas, int StableReadyReplicas,
    CanarySnapshot? Canary, string? RolledBackReason, string? RolledBackMessage, IReadOnlyList<HistoryEntry> History)
{
    /// <summary>Reads the status of a GruModel as the API server returns it (unstructured: the demo speaks the CRD, not the operator's types).</summary>
    public static ModelSnapshot From(JsonNode model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var status = model["status"];
        var stable = status?["stable"];
        var canary = status?["canary"];
        var lastRun = canary?["analysis"]?["lastRun"];
        var step = Number(canary?["step"]);
        var runTime = DateTimeOffset.Parse(Text(lastRun?["time"]) ?? "2000-01-01T00:00:00Z", CultureInfo.InvariantCulture);
        // The run that passed a step is still lastRun once the next step has begun: it belongs to the step it judged.
        var runStep = step > 0 && DateTimeOffset.TryParse(Text(canary?["stepStartedAt"]), CultureInfo.InvariantCulture, out var stepStarted) && runTime <= stepStarted ? step - 1 : step;
        return new ModelSnapshot(
            Text(status?["phase"]) ?? "", Text(status?["message"]) ?? "", Text(status?["ready"]) ?? "",
            Text(stable?["revision"]) ?? "", Text(stable?["modelDigest"]) ?? "", Number(stable?["replicas"]), Number(stable?["readyReplicas"]),
            canary is null ? null : new CanarySnapshot(
                Text(canary["revision"]) ?? "", Text(canary["modelDigest"]) ?? "", Number(canary["step"]), Number(canary["weight"]),
                Number(canary["effectiveWeight"]), Text(canary["traffic"]) ?? "",
                lastRun is null ? null : new AnalysisRun(runTime, Text(canary["revision"]) ?? "", runStep, Text(lastRun["verdict"]) ?? "", Text(lastRun["reason"]) ?? "",
                    (lastRun["metrics"] as JsonArray ?? []).Select(m => new MetricVerdict(
                        Text(m?["name"]) ?? "", Text(m?["verdict"]), Text(m?["value"]), Text(m?["threshold"]), Text(m?["stableValue"]),
                        Text(m?["pValue"]), Text(m?["reason"]))).ToList()),
                Text(canary["promotion"])),
            Text(status?["rolledBack"]?["reason"]), Text(status?["rolledBack"]?["message"]),
            (status?["history"] as JsonArray ?? []).Select(h => new HistoryEntry(
                Text(h?["revision"]) ?? "", Text(h?["outcome"]) ?? "", Text(h?["reason"]) ?? "", Text(h?["message"]) ?? "", Text(h?["modelDigest"]) ?? "")).ToList());
    }

    private static string? Text(JsonNode? node) => node is JsonValue v ? v.ToString() : null;

    private static int Number(JsonNode? node) => node is JsonValue v && v.TryGetValue<int>(out var n) ? n : 0;
}
