using System.Text.Json.Nodes;
using Kube.Local.Resources;

namespace Kube.Local.Api;

/// <summary>A fieldSelector (<c>f=v</c>, <c>f==v</c>, <c>f!=v</c>, comma-separated) over the field labels a resource supports.</summary>
internal sealed class FieldSelector
{
    private readonly IReadOnlyList<(string Field, bool Equal, string Value)> _terms;

    private FieldSelector(IReadOnlyList<(string, bool, string)> terms) => _terms = terms;

    public static readonly FieldSelector Everything = new([]);

    public bool IsEmpty => _terms.Count == 0;

    /// <summary>True when only metadata.name/metadata.namespace are used, so matching needs no parse.</summary>
    public bool MetadataOnly => _terms.All(t => t.Field is "metadata.name" or "metadata.namespace");

    public static FieldSelector Parse(string? text, ResourceType type)
    {
        if (string.IsNullOrWhiteSpace(text)) return Everything;
        var terms = new List<(string, bool, string)>();
        foreach (var raw in text.Split(','))
        {
            var part = raw.Trim();
            if (part.Length == 0) continue;
            int at;
            bool equal;
            int opLength;
            if ((at = part.IndexOf("!=", StringComparison.Ordinal)) > 0) { equal = false; opLength = 2; }
            else if ((at = part.IndexOf("==", StringComparison.Ordinal)) > 0) { equal = true; opLength = 2; }
            else if ((at = part.IndexOf('=', StringComparison.Ordinal)) > 0) { equal = true; opLength = 1; }
            else throw ApiError.BadRequest($"invalid selector: '{text}'; can't understand '{part}'");
            var field = part[..at].Trim();
            if (field is not ("metadata.name" or "metadata.namespace") && !type.FieldLabels.Contains(field))
            {
                throw ApiError.BadRequest($"field label not supported: {field}");
            }
            if (type.Group == "events.k8s.io") field = EventConversion.CoreFieldLabel(field);
            terms.Add((field, equal, part[(at + opLength)..].Trim()));
        }
        return new FieldSelector(terms);
    }

    public bool Matches(string ns, string name, Func<JsonObject> parse)
    {
        JsonObject? obj = null;
        foreach (var (field, equal, value) in _terms)
        {
            string actual;
            if (field == "metadata.name") actual = name;
            else if (field == "metadata.namespace") actual = ns;
            else
            {
                obj ??= parse();
                actual = Lookup(obj, field);
            }
            if ((actual == value) != equal) return false;
        }
        return true;
    }

    private static string Lookup(JsonObject obj, string path)
    {
        JsonNode? node = obj;
        foreach (var segment in path.Split('.'))
        {
            node = (node as JsonObject)?[segment];
            if (node is null) return "";
        }
        return node is JsonValue v ? (v.TryGetValue<string>(out var s) ? s : v.ToJsonString()) : node.ToJsonString();
    }
}
