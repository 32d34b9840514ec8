using System.Text.Json;
using System.Text.Json.Nodes;
using Kube.Local.Crds;
using Kube.Local.Resources;
using Kube.Local.Storage;

namespace Kube.Local.Api;

/// <summary>
/// meta.k8s.io/v1 Table responses for kubectl get: a CRD's additionalPrinterColumns, the usual columns of
/// the built-in kinds, or Name and Age.
/// </summary>
internal sealed class TableConverter
{
    private readonly TimeProvider _time;

    public TableConverter(TimeProvider time) => _time = time;

    private sealed record Column(string Name, string Type, string Format, string Description, int Priority, Func<JsonObject, JsonNode?> Cell);

    public JsonObject Table(ResourceType type, IEnumerable<JsonObject> objects, string resourceVersion, string? continueToken, string includeObject)
    {
        var columns = Columns(type);
        var rows = new JsonArray();
        foreach (var obj in objects) rows.Add(Row(columns, obj, includeObject));
        var metadata = new JsonObject { ["resourceVersion"] = resourceVersion };
        if (!string.IsNullOrEmpty(continueToken)) metadata["continue"] = continueToken;
        return new JsonObject
        {
            ["kind"] = "Table",
            ["apiVersion"] = "meta.k8s.io/v1",
            ["metadata"] = metadata,
            ["columnDefinitions"] = new JsonArray(columns.Select(c => (JsonNode)new JsonObject
            {
                ["name"] = c.Name,
                ["type"] = c.Type,
                ["format"] = c.Format,
                ["description"] = c.Description,
                ["priority"] = c.Priority,
            }).ToArray()),
            ["rows"] = rows,
        };
    }

    private static JsonObject Row(IReadOnlyList<Column> columns, JsonObject obj, string includeObject)
    {
        var cells = new JsonArray();
        foreach (var c in columns) cells.Add(c.Cell(obj));
        var row = new JsonObject { ["cells"] = cells };
        switch (includeObject)
        {
            case "None":
                break;
            case "Object":
                row["object"] = obj.DeepClone();
                break;
            default:
                row["object"] = new JsonObject
                {
                    ["kind"] = "PartialObjectMetadata",
                    ["apiVersion"] = "meta.k8s.io/v1",
                    ["metadata"] = obj["metadata"]?.DeepClone(),
                };
                break;
        }
        return row;
    }

    private IReadOnlyList<Column> Columns(ResourceType type)
    {
        var name = new Column("Name", "string", "name", "Name must be unique within a namespace.", 0, o => o["metadata"]?["name"]?.DeepClone());
        var age = new Column("Age", "string", "", "CreationTimestamp is a timestamp representing the server time when this object was created.", 0,
            o => Age(o["metadata"]?["creationTimestamp"]));
        if (type.Schema is { } schema)
        {
            if (schema.PrinterColumns.Count == 0) return [name, age];
            return [name, .. schema.PrinterColumns.Select(p => new Column(p.Name, p.Type, p.Format, p.Description, p.Priority, o => CustomCell(p, o)))];
        }
        return (type.Group, type.Kind) switch
        {
            ("", "Pod") =>
            [
                name,
                new("Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic.", 0, PodReady),
                new("Status", "string", "", "The aggregate status of the containers in this pod.", 0, PodStatus),
                new("Restarts", "string", "", "The number of times the containers in this pod have been restarted.", 0,
                    o => ((o["status"]?["containerStatuses"] as JsonArray)?.Sum(c => c?["restartCount"]?.GetValue<int>() ?? 0) ?? 0).ToString(System.Globalization.CultureInfo.InvariantCulture)),
                age,
                new("IP", "string", "", "The IP address assigned to the pod", 1, o => o["status"]?["podIP"]?.DeepClone() ?? "<none>"),
                new("Node", "string", "", "The name of the node assigned to the pod", 1, o => o["spec"]?["nodeName"]?.DeepClone() ?? "<none>"),
            ],
            ("apps", "Deployment") =>
            [
                name,
                new("Ready", "string", "", "Number of the pod with ready state", 0, o => $"{Int(o, "status", "readyReplicas")}/{Int(o, "spec", "replicas")}"),
                new("Up-to-date", "integer", "", "Total number of non-terminated pods targeted by this deployment that have the desired template spec.", 0, o => Int(o, "status", "updatedReplicas")),
                new("Available", "integer", "", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.", 0, o => Int(o, "status", "availableReplicas")),
                age,
                .. WideWorkloadColumns(),
            ],
            ("apps", "ReplicaSet") =>
            [
                name,
                new("Desired", "integer", "", "Number of desired pods.", 0, o => Int(o, "spec", "replicas")),
                new("Current", "integer", "", "Number of actual pods.", 0, o => Int(o, "status", "replicas")),
                new("Ready", "integer", "", "Number of ready pods.", 0, o => Int(o, "status", "readyReplicas")),
                age,
                .. WideWorkloadColumns(),
            ],
            ("", "Service") =>
            [
                name,
                new("Type", "string", "", "The type of service.", 0, o => o["spec"]?["type"]?.DeepClone()),
                new("Cluster-IP", "string", "", "The cluster IP of the service.", 0, o => o["spec"]?["clusterIP"]?.DeepClone() ?? "<none>"),
                new("External-IP", "string", "", "The external IP of the service.", 0, _ => "<none>"),
                new("Port(s)", "string", "", "The ports of the service.", 0, o => string.Join(",",
                    (o["spec"]?["ports"] as JsonArray)?.OfType<JsonObject>().Select(p => $"{p["port"]}/{p["protocol"]?.GetValue<string>() ?? "TCP"}") ?? [])),
                age,
            ],
            ("", "Namespace") => [name, new("Status", "string", "", "The status of the namespace", 0, o => o["status"]?["phase"]?.DeepClone()), age],
            ("", "ConfigMap") => [name, new("Data", "integer", "", "Number of data in the configmap", 0, o => ((o["data"] as JsonObject)?.Count ?? 0) + ((o["binaryData"] as JsonObject)?.Count ?? 0)), age],
            ("", "Secret") => [name, new("Type", "string", "", "The type of the secret", 0, o => o["type"]?.DeepClone()), new("Data", "integer", "", "Number of data in the secret", 0, o => (o["data"] as JsonObject)?.Count ?? 0), age],
            ("", "Event") =>
            [
                new("Last Seen", "string", "", "Time when last this event was seen.", 0, o => Age(o["lastTimestamp"] ?? o["eventTime"] ?? o["metadata"]?["creationTimestamp"])),
                new("Type", "string", "", "Type of this event.", 0, o => o["type"]?.DeepClone()),
                new("Reason", "string", "", "Reason why this event was generated.", 0, o => o["reason"]?.DeepClone()),
                new("Object", "string", "", "The object this event is about.", 0, o => $"{o["involvedObject"]?["kind"]?.GetValue<string>()?.ToLowerInvariant()}/{o["involvedObject"]?["name"]}"),
                new("Message", "string", "", "A human-readable description of the status of this operation.", 0, o => o["message"]?.DeepClone()),
            ],
            ("coordination.k8s.io", "Lease") => [name, new("Holder", "string", "", "The holder of the lease", 0, o => o["spec"]?["holderIdentity"]?.DeepClone() ?? ""), age],
            ("apiextensions.k8s.io", "CustomResourceDefinition") => [name, new("Created At", "date", "", "Creation time", 0, o => o["metadata"]?["creationTimestamp"]?.DeepClone())],
            _ => [name, age],
        };
    }

    /// <summary>The -o wide columns of Deployments and ReplicaSets.</summary>
    private static Column[] WideWorkloadColumns() =>
    [
        new("Containers", "string", "", "Names of each container in the template.", 1, o => string.Join(",", Containers(o).Select(c => c["name"]?.GetValue<string>()))),
        new("Images", "string", "", "Images referenced by each container in the template.", 1, o => string.Join(",", Containers(o).Select(c => c["image"]?.GetValue<string>()))),
        new("Selector", "string", "", "Label selector for pods.", 1, o => string.Join(",",
            (o["spec"]?["selector"]?["matchLabels"] as JsonObject)?.Select(kv => $"{kv.Key}={kv.Value}") ?? [])),
    ];

    private static IEnumerable<JsonObject> Containers(JsonObject o) =>
        (o["spec"]?["template"]?["spec"]?["containers"] as JsonArray)?.OfType<JsonObject>() ?? [];

    private static int Int(JsonObject o, string section, string field) =>
        o[section]?[field] is JsonValue v && v.TryGetValue<int>(out var i) ? i : 0;

    private static JsonNode? PodReady(JsonObject pod)
    {
        var statuses = (pod["status"]?["containerStatuses"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        var total = (pod["spec"]?["containers"] as JsonArray)?.Count ?? 0;
        var ready = statuses.Count(s => s["ready"]?.GetValue<bool>() == true);
        return $"{ready}/{total}";
    }

    private static JsonNode? PodStatus(JsonObject pod)
    {
        if (pod["metadata"]?["deletionTimestamp"] is not null) return "Terminating";
        var waiting = (pod["status"]?["containerStatuses"] as JsonArray)?.OfType<JsonObject>()
            .Select(s => s["state"]?["waiting"]?["reason"]?.GetValue<string>()).FirstOrDefault(r => r is not null);
        return waiting ?? pod["status"]?["reason"]?.DeepClone() ?? pod["status"]?["phase"]?.DeepClone() ?? "Unknown";
    }

    private JsonNode? CustomCell(PrinterColumn column, JsonObject obj)
    {
        IReadOnlyList<JsonNode?> results;
        try
        {
            results = JsonPathExpression.Evaluate(obj, column.JsonPath);
        }
        catch (FormatException)
        {
            return null;
        }
        if (results.Count == 0 || results[0] is null) return null;
        var value = results[0]!;
        var kind = value.GetValueKind();
        // As the CRD table convertor: a value of the wrong JSON type for the column prints as <none>.
        return column.Type switch
        {
            "date" => kind == JsonValueKind.String ? Age(value) : null,
            "integer" => kind == JsonValueKind.Number ? (long)Math.Truncate(value.GetValue<double>()) : null,
            "number" => kind == JsonValueKind.Number ? value.DeepClone() : null,
            "boolean" => kind is JsonValueKind.True or JsonValueKind.False ? value.DeepClone() : null,
            "string" => kind == JsonValueKind.String ? value.DeepClone() : value.ToJsonString(),
            _ => null,
        };
    }

    private JsonNode? Age(JsonNode? timestamp)
    {
        var t = Timestamps.Parse(timestamp is JsonValue v && v.TryGetValue<string>(out var s) ? s : null);
        return t is null ? "<unknown>" : HumanDuration(_time.GetUtcNow() - t.Value);
    }

    /// <summary>apimachinery's duration.HumanDuration, the format of kubectl's AGE column.</summary>
    internal static string HumanDuration(TimeSpan d)
    {
        if (d < TimeSpan.FromSeconds(-1)) return "<invalid>";
        if (d < TimeSpan.Zero) return "0s";
        var seconds = (long)d.TotalSeconds;
        if (seconds < 60 * 2) return $"{seconds}s";
        var minutes = (long)d.TotalMinutes;
        if (minutes < 10)
        {
            var s = seconds % 60;
            return s == 0 ? $"{minutes}m" : $"{minutes}m{s}s";
        }
        if (minutes < 60 * 3) return $"{minutes}m";
        var hours = (long)d.TotalHours;
        if (hours < 8)
        {
            var m = minutes % 60;
            return m == 0 ? $"{hours}h" : $"{hours}h{m}m";
        }
        if (hours < 48) return $"{hours}h";
        if (hours < 24 * 8)
        {
            var h = hours % 24;
            return h == 0 ? $"{hours / 24}d" : $"{hours / 24}d{h}h";
        }
        if (hours < 24 * 365 * 2) return $"{hours / 24}d";
        if (hours < 24 * 365 * 8)
        {
            var dy = hours / 24 % 365;
            return dy == 0 ? $"{hours / 24 / 365}y" : $"{hours / 24 / 365}y{dy}d";
        }
        return $"{hours / 24 / 365}y";
    }
}
