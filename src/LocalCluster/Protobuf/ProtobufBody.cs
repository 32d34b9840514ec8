using System.Text;
using System.Text.Json.Nodes;
using Kube.Local.Api;

namespace Kube.Local.Protobuf;

/// <summary>
/// Decodes the Kubernetes protobuf request envelope that kubectl's typed commands send
/// (<c>create namespace|configmap|secret</c>): the magic <c>k8s\0</c>, then a runtime.Unknown
/// (1: typeMeta {1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding, 4: contentType) whose raw bytes are
/// the object in k8s.io/api's generated.proto numbering. Other kinds are refused with 415.
/// </summary>
internal static class ProtobufBody
{
    private static readonly byte[] Magic = "k8s\0"u8.ToArray();

    public static JsonObject Decode(ReadOnlySpan<byte> body)
    {
        if (body.Length < 4 || !body[..4].SequenceEqual(Magic))
        {
            throw new ApiError(415, "UnsupportedMediaType", "the protobuf body does not start with the Kubernetes envelope prefix \"k8s\\x00\"");
        }
        var reader = new WireReader(body[4..].ToArray());
        string apiVersion = "", kind = "";
        byte[] raw = [];
        string contentEncoding = "";
        while (reader.Next(out var field, out var wire))
        {
            switch (field)
            {
                case 1:
                    var tm = new WireReader(reader.Bytes());
                    while (tm.Next(out var f, out var w))
                    {
                        if (f == 1) apiVersion = tm.String();
                        else if (f == 2) kind = tm.String();
                        else tm.Skip(w);
                    }
                    break;
                case 2:
                    raw = reader.Bytes();
                    break;
                case 3:
                    contentEncoding = reader.String();
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }
        if (contentEncoding.Length > 0)
        {
            throw new ApiError(415, "UnsupportedMediaType", $"protobuf bodies with contentEncoding \"{contentEncoding}\" are not supported; send JSON");
        }
        var obj = (apiVersion, kind) switch
        {
            ("v1", "Namespace") => Namespace(raw),
            ("v1", "ConfigMap") => ConfigMap(raw),
            ("v1", "Secret") => Secret(raw),
            _ => throw new ApiError(415, "UnsupportedMediaType",
                $"this server decodes protobuf request bodies only for v1 Namespace, ConfigMap and Secret, not {apiVersion} {kind}; send the object as application/json"),
        };
        obj["apiVersion"] = apiVersion;
        obj["kind"] = kind;
        return obj;
    }

    private static JsonObject Namespace(byte[] raw)
    {
        var obj = new JsonObject();
        var r = new WireReader(raw);
        while (r.Next(out var field, out var wire))
        {
            switch (field)
            {
                case 1: obj["metadata"] = ObjectMeta(r.Bytes()); break;
                case 2:
                    var spec = new JsonObject();
                    var s = new WireReader(r.Bytes());
                    var finalizers = new JsonArray();
                    while (s.Next(out var f, out var w))
                    {
                        if (f == 1) finalizers.Add(s.String());
                        else s.Skip(w);
                    }
                    if (finalizers.Count > 0) spec["finalizers"] = finalizers;
                    obj["spec"] = spec;
                    break;
                default: r.Skip(wire); break;
            }
        }
        return obj;
    }

    private static JsonObject ConfigMap(byte[] raw)
    {
        var obj = new JsonObject();
        var r = new WireReader(raw);
        while (r.Next(out var field, out var wire))
        {
            switch (field)
            {
                case 1: obj["metadata"] = ObjectMeta(r.Bytes()); break;
                case 2: AddMapEntry(Map(obj, "data"), r.Bytes(), bytesValue: false); break;
                case 3: AddMapEntry(Map(obj, "binaryData"), r.Bytes(), bytesValue: true); break;
                case 4: obj["immutable"] = r.Varint() != 0; break;
                default: r.Skip(wire); break;
            }
        }
        return obj;
    }

    private static JsonObject Secret(byte[] raw)
    {
        var obj = new JsonObject();
        var r = new WireReader(raw);
        while (r.Next(out var field, out var wire))
        {
            switch (field)
            {
                case 1: obj["metadata"] = ObjectMeta(r.Bytes()); break;
                case 2: AddMapEntry(Map(obj, "data"), r.Bytes(), bytesValue: true); break;
                case 3: obj["type"] = r.String(); break;
                case 4: AddMapEntry(Map(obj, "stringData"), r.Bytes(), bytesValue: false); break;
                case 5: obj["immutable"] = r.Varint() != 0; break;
                default: r.Skip(wire); break;
            }
        }
        return obj;
    }

    private static JsonObject ObjectMeta(byte[] raw)
    {
        var meta = new JsonObject();
        var r = new WireReader(raw);
        while (r.Next(out var field, out var wire))
        {
            switch (field)
            {
                case 1: meta["name"] = r.String(); break;
                case 2: meta["generateName"] = r.String(); break;
                case 3: meta["namespace"] = r.String(); break;
                case 5: meta["uid"] = r.String(); break;
                case 6: meta["resourceVersion"] = r.String(); break;
                case 11: AddMapEntry(Map(meta, "labels"), r.Bytes(), bytesValue: false); break;
                case 12: AddMapEntry(Map(meta, "annotations"), r.Bytes(), bytesValue: false); break;
                case 13: throw new ApiError(415, "UnsupportedMediaType", "protobuf bodies with ownerReferences are not supported by this server; send the object as application/json");
                case 14:
                    if (meta["finalizers"] is not JsonArray f) meta["finalizers"] = f = new JsonArray();
                    f.Add(r.String());
                    break;
                default: r.Skip(wire); break;
            }
        }
        foreach (var key in new[] { "name", "generateName", "namespace", "uid", "resourceVersion" })
        {
            if (meta[key]?.GetValue<string>() == "") meta.Remove(key);
        }
        return meta;
    }

    private static JsonObject Map(JsonObject parent, string key)
    {
        if (parent[key] is JsonObject m) return m;
        m = new JsonObject();
        parent[key] = m;
        return m;
    }

    /// <summary>A map entry is a message {1: key, 2: value}; bytes values become base64 as in JSON.</summary>
    private static void AddMapEntry(JsonObject map, byte[] entry, bool bytesValue)
    {
        var r = new WireReader(entry);
        string key = "";
        JsonNode value = bytesValue ? "" : "";
        while (r.Next(out var field, out var wire))
        {
            if (field == 1) key = r.String();
            else if (field == 2) value = bytesValue ? Convert.ToBase64String(r.Bytes()) : r.String();
            else r.Skip(wire);
        }
        map[key] = value;
    }

    private sealed class WireReader
    {
        private readonly byte[] _data;
        private int _pos;

        public WireReader(byte[] data) => _data = data;

        public bool Next(out int field, out int wire)
        {
            if (_pos >= _data.Length)
            {
                field = 0;
                wire = 0;
                return false;
            }
            var tag = Varint();
            field = (int)(tag >> 3);
            wire = (int)(tag & 7);
            return true;
        }

        public ulong Varint()
        {
            ulong result = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                if (_pos >= _data.Length) throw Truncated();
                var b = _data[_pos++];
                result |= (ulong)(b & 0x7f) << shift;
                if ((b & 0x80) == 0) return result;
            }
            throw Truncated();
        }

        public byte[] Bytes()
        {
            var length = (int)Varint();
            if (length < 0 || _pos + length > _data.Length) throw Truncated();
            var bytes = _data.AsSpan(_pos, length).ToArray();
            _pos += length;
            return bytes;
        }

        public string String() => Encoding.UTF8.GetString(Bytes());

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0: Varint(); break;
                case 1: _pos += 8; break;
                case 2: Bytes(); break;
                case 5: _pos += 4; break;
                default: throw new ApiError(400, "BadRequest", $"malformed protobuf body: unsupported wire type {wire}");
            }
            if (_pos > _data.Length) throw Truncated();
        }

        private static ApiError Truncated() => ApiError.BadRequest("malformed protobuf body: truncated message");
    }
}
