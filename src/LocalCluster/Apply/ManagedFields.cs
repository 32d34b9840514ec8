using System.Text.Json;
using System.Text.Json.Nodes;
using Kube.Local.Api;
using Kube.Local.Storage;

namespace Kube.Local.Apply;

/// <summary>
/// Field ownership for server-side apply, simplified but honest: a field set is the set of leaf paths of an
/// object (objects recurse; lists, scalars and empty objects are leaves, so lists are atomic rather than
/// associative by key). Updates give the changed leaves to their manager; apply computes conflicts against
/// other owners, takes ownership with force, and removes fields an applier stopped setting unless another
/// manager owns them. Serialized as metadata.managedFields with FieldsV1.
/// </summary>
internal sealed class ManagedFields
{
    private const char Sep = '\u001f';
    private readonly TimeProvider _time;

    public ManagedFields(TimeProvider time) => _time = time;

    private sealed record Entry(string Manager, string Operation, string ApiVersion, string? Time, string? Subresource, HashSet<string> Fields);

    /// <summary>Gives the leaves that changed between <paramref name="old"/> and <paramref name="next"/> to <paramref name="manager"/>.</summary>
    public void RecordUpdate(JsonObject? old, JsonObject next, string manager, string apiVersion, string operation, string? subresource)
    {
        var entries = old is null ? [] : Read((JsonObject)old["metadata"]!);
        if (old is not null && next["metadata"]?["managedFields"] is JsonArray { Count: 0 })
        {
            entries.Clear();
        }
        var before = old is null ? new Dictionary<string, JsonNode?>() : Leaves(old, subresource);
        var after = Leaves(next, subresource);
        var changed = new HashSet<string>();
        foreach (var (path, value) in after)
        {
            if (!before.TryGetValue(path, out var prev) || !JsonNode.DeepEquals(prev, value)) changed.Add(path);
        }
        var removed = before.Keys.Where(p => !after.ContainsKey(p)).ToList();
        foreach (var e in entries)
        {
            e.Fields.ExceptWith(changed);
            e.Fields.ExceptWith(removed);
        }
        if (changed.Count > 0)
        {
            var mine = entries.FirstOrDefault(e => e.Manager == manager && e.Operation == operation && e.Subresource == subresource);
            var now = Timestamps.Format(_time.GetUtcNow());
            if (mine is null)
            {
                entries.Add(new Entry(manager, operation, apiVersion, now, subresource, changed));
            }
            else
            {
                mine.Fields.UnionWith(changed);
                entries[entries.IndexOf(mine)] = mine with { Time = now, ApiVersion = apiVersion };
            }
        }
        Write((JsonObject)next["metadata"]!, entries);
    }

    /// <summary>
    /// Server-side apply of <paramref name="config"/> onto <paramref name="current"/> (null when creating).
    /// Throws 409 Conflict naming each conflicting field unless <paramref name="force"/>.
    /// </summary>
    public JsonObject Apply(JsonObject? current, JsonObject config, string manager, string apiVersion, bool force, string? subresource,
        string group, string resource, string name)
    {
        var target = current?.DeepClone().AsObject() ?? new JsonObject();
        var entries = current is null ? [] : Read((JsonObject)current["metadata"]!);
        var applied = Leaves(config, subresource);
        var currentLeaves = current is null ? new Dictionary<string, JsonNode?>() : Leaves(current, subresource);

        var conflicts = new List<(string Path, Entry Owner)>();
        foreach (var e in entries)
        {
            if (e.Manager == manager && e.Operation == "Apply") continue;
            foreach (var path in e.Fields)
            {
                if (applied.TryGetValue(path, out var value) && currentLeaves.TryGetValue(path, out var existing) && !JsonNode.DeepEquals(existing, value))
                {
                    conflicts.Add((path, e));
                }
            }
        }
        if (conflicts.Count > 0 && !force)
        {
            var causes = conflicts.Select(c => new StatusCause("FieldManagerConflict", $"conflict with \"{c.Owner.Manager}\" using {c.Owner.ApiVersion}", Display(c.Path))).ToList();
            var list = string.Join("\n", conflicts.Select(c => $"- conflict with \"{c.Owner.Manager}\" using {c.Owner.ApiVersion}: {Display(c.Path)}"));
            var message = conflicts.Count == 1
                ? $"Apply failed with 1 conflict: conflict with \"{conflicts[0].Owner.Manager}\" using {conflicts[0].Owner.ApiVersion}: {Display(conflicts[0].Path)}"
                : $"Apply failed with {conflicts.Count} conflicts: conflicts with {list}";
            throw new ApiError(409, "Conflict", message, name, group, resource, causes);
        }
        foreach (var (path, owner) in conflicts) owner.Fields.Remove(path);

        var previous = entries.FirstOrDefault(e => e.Manager == manager && e.Operation == "Apply" && e.Subresource == subresource);
        if (previous is not null)
        {
            var ownedByOthers = entries.Where(e => e != previous).SelectMany(e => e.Fields).ToHashSet();
            foreach (var path in previous.Fields)
            {
                if (!applied.ContainsKey(path) && !ownedByOthers.Contains(path)) RemovePath(target, path);
            }
            entries.Remove(previous);
        }
        Merge(target, config);
        var changed = previous is null || !previous.Fields.SetEquals(applied.Keys) ||
            applied.Any(kv => !currentLeaves.TryGetValue(kv.Key, out var v) || !JsonNode.DeepEquals(v, kv.Value));
        entries.Add(new Entry(manager, "Apply", apiVersion,
            changed ? Timestamps.Format(_time.GetUtcNow()) : previous!.Time, subresource, applied.Keys.ToHashSet()));
        entries.RemoveAll(e => e.Fields.Count == 0);
        var meta = (JsonObject)(target["metadata"] ??= new JsonObject());
        Write(meta, entries);
        return target;
    }

    private static string Display(string path) => "." + path.Replace(Sep, '.');

    /// <summary>Objects merge key by key; everything else (scalars, lists) replaces.</summary>
    private static void Merge(JsonObject target, JsonObject source)
    {
        foreach (var (key, value) in source)
        {
            if (value is JsonObject so && target[key] is JsonObject to && so.Count > 0) Merge(to, so);
            else target[key] = value?.DeepClone();
        }
    }

    private static void RemovePath(JsonObject root, string path)
    {
        var parts = path.Split(Sep);
        JsonObject? node = root;
        for (var i = 0; i < parts.Length - 1 && node is not null; i++) node = node[parts[i]] as JsonObject;
        node?.Remove(parts[^1]);
    }

    /// <summary>Leaf paths that ownership tracks: labels, annotations, finalizers, ownerReferences, and the body (status only for the status subresource).</summary>
    private static Dictionary<string, JsonNode?> Leaves(JsonObject obj, string? subresource)
    {
        var result = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var (key, value) in obj)
        {
            switch (key)
            {
                case "apiVersion" or "kind":
                    continue;
                case "metadata" when value is JsonObject meta:
                    foreach (var m in new[] { "labels", "annotations" })
                    {
                        if (meta[m] is JsonObject o) Walk(o, "metadata" + Sep + m, result);
                    }
                    foreach (var m in new[] { "finalizers", "ownerReferences" })
                    {
                        if (meta[m] is { } v) result["metadata" + Sep + m] = v;
                    }
                    continue;
                case "status" when subresource != "status":
                    continue;
                case not "status" when subresource == "status":
                    continue;
            }
            if (value is JsonObject child && child.Count > 0) Walk(child, key, result);
            else result[key] = value;
        }
        return result;
    }

    private static void Walk(JsonObject o, string prefix, Dictionary<string, JsonNode?> result)
    {
        foreach (var (key, value) in o)
        {
            var path = prefix + Sep + key;
            if (value is JsonObject child && child.Count > 0) Walk(child, path, result);
            else result[path] = value;
        }
    }

    private static List<Entry> Read(JsonObject metadata)
    {
        var list = new List<Entry>();
        if (metadata["managedFields"] is not JsonArray arr) return list;
        foreach (var item in arr.OfType<JsonObject>())
        {
            var fields = new HashSet<string>(StringComparer.Ordinal);
            if (item["fieldsV1"] is JsonObject f) ReadTree(f, "", fields);
            list.Add(new Entry(
                item["manager"]?.GetValue<string>() ?? "",
                item["operation"]?.GetValue<string>() ?? "Update",
                item["apiVersion"]?.GetValue<string>() ?? "",
                item["time"]?.GetValue<string>(),
                item["subresource"]?.GetValue<string>(),
                fields));
        }
        return list;
    }

    private static void ReadTree(JsonObject node, string prefix, HashSet<string> fields)
    {
        var children = node.Where(kv => kv.Key.StartsWith("f:", StringComparison.Ordinal)).ToList();
        if (children.Count == 0)
        {
            if (prefix.Length > 0) fields.Add(prefix);
            return;
        }
        foreach (var (key, value) in children)
        {
            ReadTree(value as JsonObject ?? new JsonObject(), prefix.Length == 0 ? key[2..] : prefix + Sep + key[2..], fields);
        }
    }

    private static void Write(JsonObject metadata, List<Entry> entries)
    {
        entries.RemoveAll(e => e.Fields.Count == 0);
        if (entries.Count == 0)
        {
            metadata.Remove("managedFields");
            return;
        }
        var arr = new JsonArray();
        foreach (var e in entries)
        {
            var tree = new JsonObject();
            foreach (var path in e.Fields.Order(StringComparer.Ordinal))
            {
                var node = tree;
                foreach (var part in path.Split(Sep))
                {
                    var key = "f:" + part;
                    if (node[key] is not JsonObject next)
                    {
                        next = new JsonObject();
                        node[key] = next;
                    }
                    node = next;
                }
            }
            var item = new JsonObject
            {
                ["manager"] = e.Manager,
                ["operation"] = e.Operation,
                ["apiVersion"] = e.ApiVersion,
            };
            if (e.Time is not null) item["time"] = e.Time;
            item["fieldsType"] = "FieldsV1";
            item["fieldsV1"] = tree;
            if (e.Subresource is not null) item["subresource"] = e.Subresource;
            arr.Add(item);
        }
        metadata["managedFields"] = arr;
    }
}
