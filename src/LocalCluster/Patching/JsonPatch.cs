using System.Text.Json.Nodes;
using Kube.Local.Api;

namespace Kube.Local.Patching;

/// <summary>RFC 6902 JSON patch (add, remove, replace, move, copy, test) over RFC 6901 pointers.</summary>
internal static class JsonPatch
{
    public static JsonNode Apply(JsonNode document, JsonNode? patch)
    {
        if (patch is not JsonArray ops) throw ApiError.BadRequest("json patch must be a JSON array of operations");
        var doc = document;
        for (var i = 0; i < ops.Count; i++)
        {
            if (ops[i] is not JsonObject op) throw ApiError.BadRequest($"json patch operation {i} is not an object");
            var kind = op["op"]?.GetValue<string>() ?? throw ApiError.BadRequest($"json patch operation {i}: missing \"op\"");
            var path = op["path"]?.GetValue<string>() ?? throw ApiError.BadRequest($"json patch operation {i}: missing \"path\"");
            switch (kind)
            {
                case "add":
                    doc = Add(doc, path, Value(op, i));
                    break;
                case "remove":
                    doc = Remove(doc, path, out _);
                    break;
                case "replace":
                    doc = Remove(doc, path, out _);
                    doc = Add(doc, path, Value(op, i));
                    break;
                case "move":
                    {
                        var from = op["from"]?.GetValue<string>() ?? throw ApiError.BadRequest($"json patch operation {i}: missing \"from\"");
                        doc = Remove(doc, from, out var moved);
                        doc = Add(doc, path, moved);
                        break;
                    }
                case "copy":
                    {
                        var from = op["from"]?.GetValue<string>() ?? throw ApiError.BadRequest($"json patch operation {i}: missing \"from\"");
                        doc = Add(doc, path, Get(doc, from)?.DeepClone());
                        break;
                    }
                case "test":
                    if (!JsonNode.DeepEquals(Get(doc, path), op["value"]))
                    {
                        throw new ApiError(422, "Invalid", $"the server rejected our request due to an error in our request: testing value {path} failed");
                    }
                    break;
                default:
                    throw ApiError.BadRequest($"json patch operation {i}: unexpected kind \"{kind}\"");
            }
        }
        return doc;
    }

    private static JsonNode? Value(JsonObject op, int i) =>
        op.ContainsKey("value") ? op["value"]?.DeepClone() : throw ApiError.BadRequest($"json patch operation {i}: missing \"value\"");

    private static string[] Split(string pointer)
    {
        if (pointer.Length == 0) return [];
        if (pointer[0] != '/') throw ApiError.BadRequest($"json patch path \"{pointer}\" must start with '/'");
        return pointer[1..].Split('/').Select(s => s.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal)).ToArray();
    }

    private static JsonNode? Get(JsonNode doc, string pointer)
    {
        JsonNode? node = doc;
        foreach (var part in Split(pointer))
        {
            node = node switch
            {
                JsonObject o when o.ContainsKey(part) => o[part],
                JsonArray a when int.TryParse(part, out var idx) && idx >= 0 && idx < a.Count => a[idx],
                _ => throw ApiError.BadRequest($"json patch: path \"{pointer}\" does not exist"),
            };
        }
        return node;
    }

    private static (JsonNode Parent, string Last) Parent(JsonNode doc, string pointer)
    {
        var parts = Split(pointer);
        if (parts.Length == 0) throw ApiError.BadRequest("json patch: the whole document cannot be the target here");
        var parentPointer = "/" + string.Join('/', parts[..^1].Select(p => p.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal)));
        var parent = parts.Length == 1 ? doc : Get(doc, parentPointer) ?? throw ApiError.BadRequest($"json patch: parent of \"{pointer}\" is null");
        return (parent, parts[^1]);
    }

    private static JsonNode Add(JsonNode doc, string pointer, JsonNode? value)
    {
        if (pointer.Length == 0) return value ?? throw ApiError.BadRequest("json patch: cannot replace the document with null");
        var (parent, last) = Parent(doc, pointer);
        switch (parent)
        {
            case JsonObject o:
                o[last] = value;
                break;
            case JsonArray a when last == "-":
                a.Add(value);
                break;
            case JsonArray a when int.TryParse(last, out var idx) && idx >= 0 && idx <= a.Count:
                a.Insert(idx, value);
                break;
            default:
                throw ApiError.BadRequest($"json patch: cannot add at \"{pointer}\"");
        }
        return doc;
    }

    private static JsonNode Remove(JsonNode doc, string pointer, out JsonNode? removed)
    {
        var (parent, last) = Parent(doc, pointer);
        switch (parent)
        {
            case JsonObject o when o.ContainsKey(last):
                removed = o[last];
                o.Remove(last);
                break;
            case JsonArray a when int.TryParse(last, out var idx) && idx >= 0 && idx < a.Count:
                removed = a[idx];
                a.RemoveAt(idx);
                break;
            default:
                throw ApiError.BadRequest($"json patch: unable to remove nonexistent key \"{last}\" at \"{pointer}\"");
        }
        return doc;
    }
}
