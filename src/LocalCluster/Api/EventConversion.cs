using System.Text.Json.Nodes;

namespace Kube.Local.Api;

/// <summary>
/// events.k8s.io/v1 Events are the same objects as core/v1 Events under other field names; the real server
/// converts between them, so this server stores the core form and renames on the way in and out.
/// </summary>
internal static class EventConversion
{
    // events.k8s.io/v1 name → core/v1 name.
    private static readonly (string V1, string Core)[] Renames =
    [
        ("regarding", "involvedObject"),
        ("note", "message"),
        ("reportingController", "reportingComponent"),
        ("deprecatedSource", "source"),
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
        ("deprecatedCount", "count"),
    ];

    public static JsonObject ToCore(JsonObject v1)
    {
        var core = v1.DeepClone().AsObject();
        foreach (var (from, to) in Renames)
        {
            if (core[from] is { } value)
            {
                core.Remove(from);
                core[to] = value.DeepClone();
            }
        }
        if (core["apiVersion"] is not null) core["apiVersion"] = "v1";
        return core;
    }

    public static JsonObject FromCore(JsonObject core)
    {
        var v1 = core.DeepClone().AsObject();
        foreach (var (to, from) in Renames)
        {
            if (v1[from] is { } value)
            {
                v1.Remove(from);
                v1[to] = value.DeepClone();
            }
        }
        v1["apiVersion"] = "events.k8s.io/v1";
        return v1;
    }

    /// <summary>Maps an events.k8s.io field label to the stored core field.</summary>
    public static string CoreFieldLabel(string label)
    {
        foreach (var (v1, core) in Renames)
        {
            if (label == v1) return core;
            if (label.StartsWith(v1 + ".", StringComparison.Ordinal)) return core + label[v1.Length..];
        }
        return label;
    }
}
