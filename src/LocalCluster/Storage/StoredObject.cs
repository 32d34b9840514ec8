using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kube.Local.Storage;

/// <summary>
/// One immutable version of an object: its JSON bytes (compact, so memory stays proportional to the data)
/// plus the few metadata facts that selectors, finalizers and garbage collection read without parsing.
/// </summary>
internal sealed class StoredObject
{
    private static readonly IReadOnlyDictionary<string, string> NoLabels = new Dictionary<string, string>();

    private StoredObject(byte[] json, string ns, string name, string uid, long resourceVersion,
        IReadOnlyDictionary<string, string> labels, bool deleting, IReadOnlyList<string> finalizers, IReadOnlyList<string> ownerUids)
    {
        Json = json;
        Namespace = ns;
        Name = name;
        Uid = uid;
        ResourceVersion = resourceVersion;
        Labels = labels;
        IsDeleting = deleting;
        Finalizers = finalizers;
        OwnerUids = ownerUids;
    }

    public byte[] Json { get; }
    public string Namespace { get; }
    public string Name { get; }
    public string Uid { get; }
    public long ResourceVersion { get; }
    public IReadOnlyDictionary<string, string> Labels { get; }
    public bool IsDeleting { get; }
    public IReadOnlyList<string> Finalizers { get; }
    public IReadOnlyList<string> OwnerUids { get; }

    public string Key => Namespace + "/" + Name;

    /// <summary>A fresh mutable copy; callers own it.</summary>
    public JsonObject ToJson() => JsonNode.Parse(Json)!.AsObject();

    public static StoredObject From(JsonObject obj, long resourceVersion)
    {
        var metadata = obj["metadata"] as JsonObject ?? throw new InvalidOperationException("object without metadata");
        metadata["resourceVersion"] = resourceVersion.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var labels = NoLabels;
        if (metadata["labels"] is JsonObject labelObj && labelObj.Count > 0)
        {
            var d = new Dictionary<string, string>(labelObj.Count, StringComparer.Ordinal);
            foreach (var (k, v) in labelObj) d[k] = v?.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : v?.ToJsonString() ?? "";
            labels = d;
        }
        IReadOnlyList<string> finalizers = metadata["finalizers"] is JsonArray f
            ? f.Select(x => x?.GetValue<string>() ?? "").ToList()
            : [];
        IReadOnlyList<string> owners = metadata["ownerReferences"] is JsonArray o
            ? o.Select(x => (x as JsonObject)?["uid"]?.GetValue<string>() ?? "").Where(u => u.Length > 0).ToList()
            : [];
        var json = JsonSerializer.SerializeToUtf8Bytes(obj, JsonOptions.Compact);
        return new StoredObject(json, Str(metadata, "namespace"), Str(metadata, "name"), Str(metadata, "uid"), resourceVersion,
            labels, metadata["deletionTimestamp"] is not null, finalizers, owners);
    }

    private static string Str(JsonObject o, string key) => o[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : "";
}

/// <summary>Serializer options shared by every JSON writer of the server.</summary>
internal static class JsonOptions
{
    public static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };
}
