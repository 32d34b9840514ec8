using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Kube.Local.Api;

namespace Kube.Local.Crds;

/// <summary>One additionalPrinterColumns entry of a CRD version.</summary>
internal sealed record PrinterColumn(string Name, string Type, string Format, string Description, int Priority, string JsonPath);

/// <summary>
/// The structural schema of one CRD version and what the API server does with it on every write:
/// prune unknown fields, apply defaults, validate (types, required, enum, bounds, lengths, patterns, items)
/// with the field paths and messages of kube-openapi's validator.
/// </summary>
internal sealed class CrdVersionSchema
{
    private readonly JsonObject? _root;

    public CrdVersionSchema(JsonObject? openApiV3Schema, IReadOnlyList<PrinterColumn> printerColumns, bool hasStatus)
    {
        _root = openApiV3Schema;
        PrinterColumns = printerColumns;
        HasStatus = hasStatus;
    }

    public IReadOnlyList<PrinterColumn> PrinterColumns { get; }
    public bool HasStatus { get; }
    public JsonObject? OpenApiSchema => _root;

    /// <summary>Prunes, defaults and validates <paramref name="obj"/> in place; returns unknown field paths and validation causes.</summary>
    public (IReadOnlyList<string> UnknownFields, IReadOnlyList<StatusCause> Causes) Admit(JsonObject obj)
    {
        var unknown = new List<string>();
        var causes = new List<StatusCause>();
        if (_root is null) return (unknown, causes);
        // apiVersion, kind and metadata belong to the server, not the schema.
        foreach (var (key, _) in obj.ToList())
        {
            if (key is "apiVersion" or "kind" or "metadata") continue;
            var props = _root["properties"] as JsonObject;
            if (props?[key] is JsonObject child)
            {
                var value = obj[key];
                if (value is null && !(child["nullable"]?.GetValue<bool>() ?? false))
                {
                    obj.Remove(key);
                    continue;
                }
                Prune(value, child, key, unknown);
            }
            else if (!PreservesUnknown(_root))
            {
                obj.Remove(key);
                unknown.Add(key);
            }
        }
        ApplyDefaults(obj, _root, isRoot: true);
        ValidateObjectProperties(obj, _root, "", causes, isRoot: true);
        return (unknown, causes);
    }

    private static bool PreservesUnknown(JsonObject schema) =>
        schema["x-kubernetes-preserve-unknown-fields"] is JsonValue v && v.GetValueKind() == JsonValueKind.True;

    private static string Join(string path, string key) => path.Length == 0 ? key : path + "." + key;

    private static void Prune(JsonNode? node, JsonObject schema, string path, List<string> unknown)
    {
        switch (node)
        {
            case JsonObject o:
                {
                    var props = schema["properties"] as JsonObject;
                    var additional = schema["additionalProperties"];
                    foreach (var (key, value) in o.ToList())
                    {
                        JsonObject? child = props?[key] as JsonObject;
                        if (child is null && additional is JsonObject a) child = a;
                        if (child is not null)
                        {
                            if (value is null && !(child["nullable"]?.GetValue<bool>() ?? false))
                            {
                                o.Remove(key);
                                continue;
                            }
                            Prune(value, child, Join(path, key), unknown);
                        }
                        else if (additional is JsonValue av && av.GetValueKind() == JsonValueKind.True) { }
                        else if (PreservesUnknown(schema)) { }
                        else if (schema["x-kubernetes-embedded-resource"] is JsonValue em && em.GetValueKind() == JsonValueKind.True && key is "apiVersion" or "kind" or "metadata") { }
                        else
                        {
                            o.Remove(key);
                            unknown.Add(Join(path, key));
                        }
                    }
                    break;
                }
            case JsonArray arr when schema["items"] is JsonObject items:
                for (var i = 0; i < arr.Count; i++) Prune(arr[i], items, $"{path}[{i}]", unknown);
                break;
        }
    }

    private static void ApplyDefaults(JsonNode? node, JsonObject schema, bool isRoot = false)
    {
        switch (node)
        {
            case JsonObject o:
                if (schema["properties"] is JsonObject props)
                {
                    foreach (var (key, childNode) in props)
                    {
                        if (childNode is not JsonObject child) continue;
                        if (isRoot && key is "metadata" or "apiVersion" or "kind") continue;
                        if (!o.ContainsKey(key) && child["default"] is { } def) o[key] = def.DeepClone();
                        if (o[key] is { } value) ApplyDefaults(value, child);
                    }
                }
                if (schema["additionalProperties"] is JsonObject additional)
                {
                    foreach (var (key, value) in o.ToList())
                    {
                        if (schema["properties"] is JsonObject p && p.ContainsKey(key)) continue;
                        if (value is not null) ApplyDefaults(value, additional);
                    }
                }
                break;
            case JsonArray arr when schema["items"] is JsonObject items:
                foreach (var item in arr) ApplyDefaults(item, items);
                break;
        }
    }

    private static void ValidateObjectProperties(JsonObject o, JsonObject schema, string path, List<StatusCause> causes, bool isRoot)
    {
        if (schema["required"] is JsonArray required)
        {
            foreach (var r in required)
            {
                var name = r?.GetValue<string>() ?? "";
                if (isRoot && name is "metadata" or "apiVersion" or "kind") continue;
                if (!o.ContainsKey(name)) causes.Add(new StatusCause("FieldValueRequired", "Required value", Join(path, name)));
            }
        }
        var props = schema["properties"] as JsonObject;
        if (props is not null)
        {
            foreach (var (key, value) in o)
            {
                if (isRoot && key is "metadata" or "apiVersion" or "kind") continue;
                if (props[key] is JsonObject child) Validate(value, child, Join(path, key), causes);
            }
        }
        if (schema["additionalProperties"] is JsonObject additional)
        {
            foreach (var (key, value) in o)
            {
                if (props is not null && props.ContainsKey(key)) continue;
                Validate(value, additional, Join(path, key), causes);
            }
        }
        if (schema["minProperties"] is JsonValue minP && o.Count < minP.GetValue<int>())
        {
            causes.Add(new StatusCause("FieldValueInvalid", $"Invalid value: {o.Count}: {PathOrBody(path)} in body should have at least {minP} properties", path));
        }
        if (schema["maxProperties"] is JsonValue maxP && o.Count > maxP.GetValue<int>())
        {
            causes.Add(new StatusCause("FieldValueTooMany", $"Too many: {o.Count}: must have at most {maxP} items", path));
        }
    }

    private static string PathOrBody(string path) => path.Length == 0 ? "body" : path;

    private static void Validate(JsonNode? node, JsonObject schema, string path, List<StatusCause> causes)
    {
        if (node is null)
        {
            if (!(schema["nullable"]?.GetValue<bool>() ?? false))
            {
                causes.Add(new StatusCause("FieldValueInvalid", $"Invalid value: \"null\": {path} in body must be of type {schema["type"]?.GetValue<string>() ?? "object"}: \"null\"", path));
            }
            return;
        }
        var type = schema["type"]?.GetValue<string>();
        var intOrString = schema["x-kubernetes-int-or-string"] is JsonValue ios && ios.GetValueKind() == JsonValueKind.True;
        var kind = node.GetValueKind();
        if (intOrString)
        {
            if (!(kind == JsonValueKind.String || IsInteger(node)))
            {
                causes.Add(TypeError(node, path, "integer or string"));
                return;
            }
        }
        else if (type is not null && !MatchesType(node, kind, type))
        {
            causes.Add(TypeError(node, path, type));
            return;
        }

        if (schema["enum"] is JsonArray en && !en.Any(v => JsonNode.DeepEquals(v, node)))
        {
            causes.Add(new StatusCause("FieldValueNotSupported",
                $"Unsupported value: {Render(node)}: supported values: {string.Join(", ", en.Select(Render))}", path));
        }

        switch (node)
        {
            case JsonObject o:
                ValidateObjectProperties(o, schema, path, causes, isRoot: false);
                break;
            case JsonArray arr:
                if (schema["minItems"] is JsonValue minI && arr.Count < minI.GetValue<int>())
                {
                    causes.Add(new StatusCause("FieldValueInvalid", $"Invalid value: {arr.Count}: {path} in body should have at least {minI} items", path));
                }
                if (schema["maxItems"] is JsonValue maxI && arr.Count > maxI.GetValue<int>())
                {
                    causes.Add(new StatusCause("FieldValueTooMany", $"Too many: {arr.Count}: must have at most {maxI} items", path));
                }
                if (schema["items"] is JsonObject items)
                {
                    for (var i = 0; i < arr.Count; i++) Validate(arr[i], items, $"{path}[{i}]", causes);
                }
                break;
            case JsonValue v when kind is JsonValueKind.Number:
                {
                    var d = v.GetValue<double>();
                    var exclusiveMin = schema["exclusiveMinimum"]?.GetValue<bool>() ?? false;
                    var exclusiveMax = schema["exclusiveMaximum"]?.GetValue<bool>() ?? false;
                    if (schema["minimum"] is JsonValue min)
                    {
                        var m = min.GetValue<double>();
                        if (exclusiveMin ? d <= m : d < m)
                        {
                            causes.Add(new StatusCause("FieldValueInvalid",
                                $"Invalid value: {Render(node)}: {path} in body should be greater than {(exclusiveMin ? "" : "or equal to ")}{Render(min)}", path));
                        }
                    }
                    if (schema["maximum"] is JsonValue max)
                    {
                        var m = max.GetValue<double>();
                        if (exclusiveMax ? d >= m : d > m)
                        {
                            causes.Add(new StatusCause("FieldValueInvalid",
                                $"Invalid value: {Render(node)}: {path} in body should be less than {(exclusiveMax ? "" : "or equal to ")}{Render(max)}", path));
                        }
                    }
                    if (schema["multipleOf"] is JsonValue mult && mult.GetValue<double>() is var mo && mo > 0 && Math.Abs(Math.IEEERemainder(d, mo)) > 1e-9)
                    {
                        causes.Add(new StatusCause("FieldValueInvalid", $"Invalid value: {Render(node)}: {path} in body should be a multiple of {Render(mult)}", path));
                    }
                    break;
                }
            case JsonValue v when kind is JsonValueKind.String:
                {
                    var s = v.GetValue<string>();
                    var length = s.EnumerateRunes().Count();
                    if (schema["minLength"] is JsonValue minL && length < minL.GetValue<int>())
                    {
                        causes.Add(new StatusCause("FieldValueInvalid", $"Invalid value: {Render(node)}: {path} in body should be at least {minL} chars long", path));
                    }
                    if (schema["maxLength"] is JsonValue maxL && length > maxL.GetValue<int>())
                    {
                        causes.Add(new StatusCause("FieldValueTooLong", $"Too long: may not be more than {maxL} bytes", path));
                    }
                    if (schema["pattern"] is JsonValue pat)
                    {
                        var pattern = pat.GetValue<string>();
                        bool ok;
                        try
                        {
                            ok = Regex.IsMatch(s, pattern, RegexOptions.None, TimeSpan.FromSeconds(1));
                        }
                        catch (RegexMatchTimeoutException)
                        {
                            // .NET backtracks where Go's RE2 would not; a runaway match fails the field rather than the server.
                            ok = false;
                        }
                        catch (ArgumentException)
                        {
                            // A pattern .NET cannot compile (RE2-only syntax) is not enforced.
                            ok = true;
                        }
                        if (!ok)
                        {
                            causes.Add(new StatusCause("FieldValueInvalid", $"Invalid value: {Render(node)}: {path} in body should match '{pattern}'", path));
                        }
                    }
                    if (schema["format"]?.GetValue<string>() == "date-time" &&
                        !DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out _))
                    {
                        causes.Add(new StatusCause("FieldValueInvalid", $"Invalid value: {Render(node)}: {path} in body must be of type date-time: {Render(node)}", path));
                    }
                    break;
                }
        }
    }

    private static bool IsInteger(JsonNode node) =>
        node.GetValueKind() == JsonValueKind.Number && node.AsValue().TryGetValue<long>(out _)
        || node.GetValueKind() == JsonValueKind.Number && node.GetValue<double>() is var d && Math.Floor(d) == d && !double.IsInfinity(d);

    private static bool MatchesType(JsonNode node, JsonValueKind kind, string type) => type switch
    {
        "object" => kind == JsonValueKind.Object,
        "array" => kind == JsonValueKind.Array,
        "string" => kind == JsonValueKind.String,
        "boolean" => kind is JsonValueKind.True or JsonValueKind.False,
        "number" => kind == JsonValueKind.Number,
        "integer" => IsInteger(node),
        _ => true,
    };

    private static StatusCause TypeError(JsonNode node, string path, string type)
    {
        var actual = node.GetValueKind() switch
        {
            JsonValueKind.Object => "object",
            JsonValueKind.Array => "array",
            JsonValueKind.String => "string",
            JsonValueKind.True or JsonValueKind.False => "boolean",
            JsonValueKind.Number => IsInteger(node) ? "integer" : "number",
            _ => "null",
        };
        return new StatusCause("FieldValueInvalid", $"Invalid value: \"{actual}\": {path} in body must be of type {type}: \"{actual}\"", path);
    }

    private static string Render(JsonNode? node) => node switch
    {
        null => "null",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => "\"" + v.GetValue<string>() + "\"",
        _ => node.ToJsonString(),
    };
}
