using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kube.Local.Api;

/// <summary>
/// The subset of kubectl JSONPath that printer columns use: <c>.a.b</c>, <c>[n]</c>, <c>[*]</c>, <c>['key']</c>
/// and filters <c>[?(@.type=="Ready")]</c>. Returns every match; printer columns take the first.
/// </summary>
internal static class JsonPathExpression
{
    public static IReadOnlyList<JsonNode?> Evaluate(JsonNode root, string expression)
    {
        var expr = expression.Trim();
        if (expr.StartsWith('{') && expr.EndsWith('}')) expr = expr[1..^1];
        if (expr.StartsWith('$')) expr = expr[1..];
        IReadOnlyList<JsonNode?> current = [root];
        var i = 0;
        while (i < expr.Length)
        {
            if (expr[i] == '.')
            {
                i++;
                var start = i;
                while (i < expr.Length && expr[i] != '.' && expr[i] != '[') i++;
                var key = expr[start..i];
                if (key.Length == 0) continue;
                current = current.Select(n => (n as JsonObject)?[key]).Where(n => n is not null).ToList();
            }
            else if (expr[i] == '[')
            {
                var end = FindClose(expr, i);
                var inner = expr[(i + 1)..end].Trim();
                i = end + 1;
                current = Step(current, inner);
            }
            else
            {
                var start = i;
                while (i < expr.Length && expr[i] != '.' && expr[i] != '[') i++;
                var key = expr[start..i];
                current = current.Select(n => (n as JsonObject)?[key]).Where(n => n is not null).ToList();
            }
        }
        return current;
    }

    private static int FindClose(string s, int open)
    {
        var depth = 0;
        var quote = '\0';
        for (var j = open; j < s.Length; j++)
        {
            var c = s[j];
            if (quote != '\0')
            {
                if (c == quote) quote = '\0';
                continue;
            }
            if (c is '"' or '\'') quote = c;
            else if (c == '[') depth++;
            else if (c == ']' && --depth == 0) return j;
        }
        throw new FormatException($"unclosed '[' in JSONPath {s}");
    }

    private static IReadOnlyList<JsonNode?> Step(IReadOnlyList<JsonNode?> nodes, string inner)
    {
        var result = new List<JsonNode?>();
        if (inner == "*")
        {
            foreach (var n in nodes)
            {
                if (n is JsonArray a) result.AddRange(a);
                else if (n is JsonObject o) result.AddRange(o.Select(kv => kv.Value));
            }
            return result;
        }
        if (inner.StartsWith("?(", StringComparison.Ordinal) && inner.EndsWith(')'))
        {
            var filter = inner[2..^1];
            foreach (var n in nodes.OfType<JsonArray>().SelectMany(a => a))
            {
                if (n is not null && FilterMatches(n, filter)) result.Add(n);
            }
            return result;
        }
        if (inner.Length >= 2 && inner[0] is '\'' or '"')
        {
            var key = inner[1..^1];
            return nodes.Select(n => (n as JsonObject)?[key]).Where(n => n is not null).ToList();
        }
        if (int.TryParse(inner, out var index))
        {
            foreach (var n in nodes.OfType<JsonArray>())
            {
                var at = index < 0 ? n.Count + index : index;
                if (at >= 0 && at < n.Count) result.Add(n[at]);
            }
        }
        return result;
    }

    private static bool FilterMatches(JsonNode item, string filter)
    {
        var op = filter.Contains("!=", StringComparison.Ordinal) ? "!=" : "==";
        var parts = filter.Split(op, 2);
        if (parts.Length != 2)
        {
            // Existence filter: [?(@.field)]
            return Evaluate(item, parts[0].Trim().TrimStart('@')).Count > 0;
        }
        var left = Evaluate(item, parts[0].Trim().TrimStart('@'));
        var literal = parts[1].Trim().Trim('"', '\'');
        var actual = left.Count == 0 ? null : left[0] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : left[0]?.ToJsonString();
        return op == "==" ? actual == literal : actual != literal;
    }
}
