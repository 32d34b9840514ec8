using System.Text.Json;
using System.Text.Json.Nodes;
using Kube.Local.Api;
using Kube.Local.Patching;
using Kube.Local.Storage;

namespace Kube.Local.Apply;

/// <summary>
/// Field ownership for server-side apply, simplified but honest: a field set is the set of leaf paths of an
/// object. Objects recurse; on built-in kinds the lists Kubernetes merges by key (containers by name, env,
/// ports, volumes, conditions...) are owned item by item (k:{"name":"web"} in FieldsV1); every other list,
/// scalar and empty object is a leaf, so custom resources' lists are atomic (x-kubernetes-list-type is not read). Updates give the changed leaves to their manager; apply computes conflicts against
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
    public void RecordUpdate(JsonObject? old, JsonObject next, string manager, string apiVersion, string operation, string? subresource, bool associativeLists)
    {
        var entries = old is null ? [] : Read((JsonObject)old["metadata"]!);
        if (old is not null && next["metadata"]?["managedFields"] is JsonArray { Count: 0 })
        {
            entries.Clear();
        }
        var before = old is null ? new Dictionary<string, JsonNode?>() : Leaves(old, subresource, associativeLists);
        var after = Leaves(next, subresource, associativeLists);
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
        bool associativeLists, string group, string resource, string name)
    {
        var target = current?.DeepClone().AsObject() ?? new JsonObject();
        var entries = current is null ? [] : Read((JsonObject)current["metadata"]!);
        var applied = Leaves(config, subresource, associativeLists);
        var currentLeaves = current is null ? new Dictionary<string, JsonNode?>() : Leaves(current, subresource, associativeLists);

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
        if (conflicts.Count > 0 && !force && UpgradesClientSideApply(current, manager, conflicts.Select(c => c.Path), subresource, associativeLists))
        {
            force = true;
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
            var stillOwned = applied.Keys.Concat(ownedByOthers).ToList();
            foreach (var path in previous.Fields)
            {
                if (applied.ContainsKey(path) || ownedByOthers.Contains(path)) continue;
                RemoveUnowned(target, path, stillOwned);
            }
        }
        Merge(target, config, associativeLists);
        var changed = previous is null || !previous.Fields.SetEquals(applied.Keys) ||
            applied.Any(kv => !currentLeaves.TryGetValue(kv.Key, out var v) || !JsonNode.DeepEquals(v, kv.Value));
        var entry = new Entry(manager, "Apply", apiVersion,
            changed ? Timestamps.Format(_time.GetUtcNow()) : previous!.Time, subresource, applied.Keys.ToHashSet());
        // The entry keeps its place: moving it to the end would make an identical re-apply a real write (new
        // resourceVersion) whenever another manager's entry came after it.
        if (previous is null) entries.Add(entry);
        else entries[entries.IndexOf(previous)] = entry;
        entries.RemoveAll(e => e.Fields.Count == 0);
        var meta = (JsonObject)(target["metadata"] ??= new JsonObject());
        Write(meta, entries);
        return target;
    }

    /// <summary>
    /// The real server's last-applied upgrade: kubectl's server-side apply takes over, without conflicts, the fields
    /// that client-side apply had applied (those in the last-applied-configuration annotation). Only for the
    /// "kubectl" manager, as upstream, so other managers still see their conflicts.
    /// </summary>
    private static bool UpgradesClientSideApply(JsonObject? current, string manager, IEnumerable<string> conflictPaths, string? subresource, bool associativeLists)
    {
        if (manager != "kubectl" || current?["metadata"]?["annotations"]?["kubectl.kubernetes.io/last-applied-configuration"] is not JsonValue annotation)
        {
            return false;
        }
        JsonObject? lastApplied;
        try
        {
            lastApplied = JsonNode.Parse(annotation.GetValue<string>()) as JsonObject;
        }
        catch (JsonException)
        {
            return false;
        }
        if (lastApplied is null) return false;
        var allowed = Leaves(lastApplied, subresource, associativeLists);
        return conflictPaths.All(allowed.ContainsKey);
    }

    /// <summary>A path as the real server prints it: .spec.template.spec.containers[name="web"].image.</summary>
    private static string Display(string path)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var part in path.Split(Sep))
        {
            if (part.StartsWith("k:", StringComparison.Ordinal) && JsonNode.Parse(part[2..]) is JsonObject key)
            {
                sb.Append('[').Append(string.Join(",", key.Select(kv => $"{kv.Key}={kv.Value?.ToJsonString()}"))).Append(']');
            }
            else
            {
                sb.Append('.').Append(part);
            }
        }
        return sb.ToString();
    }

    /// <summary>
    /// The merge key of a list whose items are owned one by one (built-in kinds: the patchMergeKey lists, such as
    /// containers by name); null when the list is atomic (custom resources, unkeyed lists).
    /// </summary>
    private static string? ItemKeyField(string field, JsonArray list, bool associativeLists)
    {
        if (!associativeLists || list.Count == 0) return null;
        var key = StrategicMergePatch.ListMergeKey(field, list);
        return key is not null && list.All(i => i is JsonObject o && o[key] is JsonValue) ? key : null;
    }

    /// <summary>The FieldsV1 segment of one keyed list item: k:{"name":"web"}.</summary>
    private static string ItemSegment(JsonObject item, string keyField) =>
        "k:" + new JsonObject { [keyField] = item[keyField]!.DeepClone() }.ToJsonString();

    private static JsonObject? FindItem(JsonArray? list, string segment)
    {
        if (list is null || JsonNode.Parse(segment[2..]) is not JsonObject key) return null;
        return list.OfType<JsonObject>().FirstOrDefault(o => key.All(kv => JsonNode.DeepEquals(o[kv.Key], kv.Value)));
    }

    /// <summary>Objects merge key by key, keyed lists item by item; everything else (scalars, atomic lists) replaces.</summary>
    private static void Merge(JsonObject target, JsonObject source, bool associativeLists)
    {
        foreach (var (key, value) in source)
        {
            if (value is JsonObject so && target[key] is JsonObject to && so.Count > 0)
            {
                Merge(to, so, associativeLists);
            }
            else if (value is JsonArray sa && target[key] is JsonArray ta && ItemKeyField(key, sa, associativeLists) is { } keyField &&
                     ItemKeyField(key, ta, associativeLists) == keyField)
            {
                foreach (var item in sa.OfType<JsonObject>())
                {
                    if (FindItem(ta, ItemSegment(item, keyField)) is { } existing) Merge(existing, item, associativeLists);
                    else ta.Add(item.DeepClone());
                }
            }
            else
            {
                target[key] = value?.DeepClone();
            }
        }
    }

    /// <summary>
    /// Removes a leaf nobody applies any more. Inside a keyed list item: the whole item goes when no field of it
    /// is owned any more (defaulted fields are owned by no one), and its key fields stay while the item does.
    /// </summary>
    private static void RemoveUnowned(JsonObject root, string path, IReadOnlyList<string> stillOwned)
    {
        var parts = path.Split(Sep);
        for (var i = 0; i < parts.Length - 1; i++)
        {
            if (!parts[i].StartsWith("k:", StringComparison.Ordinal)) continue;
            var itemPrefix = string.Join(Sep, parts[..(i + 1)]);
            if (!stillOwned.Any(p => p.StartsWith(itemPrefix + Sep, StringComparison.Ordinal)))
            {
                RemovePath(root, itemPrefix);
                return;
            }
            var keyFields = (JsonNode.Parse(parts[i][2..]) as JsonObject)?.Select(kv => kv.Key) ?? [];
            if (i == parts.Length - 2 && keyFields.Contains(parts[^1])) return;
        }
        RemovePath(root, path);
    }

    private static void RemovePath(JsonObject root, string path)
    {
        var parts = path.Split(Sep);
        JsonNode? node = root;
        for (var i = 0; i < parts.Length - 1 && node is not null; i++)
        {
            node = parts[i].StartsWith("k:", StringComparison.Ordinal) ? FindItem(node as JsonArray, parts[i]) : (node as JsonObject)?[parts[i]];
        }
        var last = parts[^1];
        if (last.StartsWith("k:", StringComparison.Ordinal))
        {
            if (node is JsonArray list && FindItem(list, last) is { } item) list.Remove(item);
        }
        else if (node is JsonObject parent)
        {
            parent.Remove(last);
        }
    }

    /// <summary>Leaf paths that ownership tracks: labels, annotations, finalizers, ownerReferences, and the body (status only for the status subresource).</summary>
    private static Dictionary<string, JsonNode?> Leaves(JsonObject obj, string? subresource, bool associativeLists)
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
                        if (meta[m] is JsonObject o) Walk(o, "metadata" + Sep + m, result, associativeLists: false);
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
            AddValue(key, key, value, result, associativeLists);
        }
        return result;
    }

    private static void Walk(JsonObject o, string prefix, Dictionary<string, JsonNode?> result, bool associativeLists)
    {
        foreach (var (key, value) in o) AddValue(prefix + Sep + key, key, value, result, associativeLists);
    }

    private static void AddValue(string path, string field, JsonNode? value, Dictionary<string, JsonNode?> result, bool associativeLists)
    {
        if (value is JsonObject child && child.Count > 0)
        {
            Walk(child, path, result, associativeLists);
        }
        else if (value is JsonArray list && ItemKeyField(field, list, associativeLists) is { } keyField)
        {
            foreach (var item in list.OfType<JsonObject>()) Walk(item, path + Sep + ItemSegment(item, keyField), result, associativeLists);
        }
        else
        {
            result[path] = value;
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
        var children = node.Where(kv => kv.Key.StartsWith("f:", StringComparison.Ordinal) || kv.Key.StartsWith("k:", StringComparison.Ordinal)).ToList();
        if (children.Count == 0)
        {
            if (prefix.Length > 0) fields.Add(prefix);
            return;
        }
        foreach (var (key, value) in children)
        {
            var segment = key.StartsWith("k:", StringComparison.Ordinal) ? key : key[2..];
            ReadTree(value as JsonObject ?? new JsonObject(), prefix.Length == 0 ? segment : prefix + Sep + segment, fields);
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
                    var key = part.StartsWith("k:", StringComparison.Ordinal) ? part : "f:" + part;
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
