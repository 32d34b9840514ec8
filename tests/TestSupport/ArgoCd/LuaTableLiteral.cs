using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace TestSupport.ArgoCd;

/// <summary>
/// Writes a YAML document as a Lua table constructor, the way Argo CD hands an object to a health script: maps
/// become tables with string keys, sequences 1-based arrays, plain numbers and booleans Lua numbers and booleans,
/// nulls are left out (nil). Written here because lua5.1 has no YAML library and no Lua package for .NET is served.
/// </summary>
public static partial class LuaTableLiteral
{
    /// <summary>The Lua expression for the first document of <paramref name="yaml"/>.</summary>
    public static string FromYaml(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return stream.Documents.Count == 0 ? "nil" : Write(stream.Documents[0].RootNode);
    }

    private static string Write(YamlNode node) => node switch
    {
        YamlMappingNode map => "{" + string.Concat(map.Children
            .Where(entry => !IsNull(entry.Value))
            .Select(entry => $"[{Quote(((YamlScalarNode)entry.Key).Value ?? "")}]={Write(entry.Value)},")) + "}",
        YamlSequenceNode list => "{" + string.Concat(list.Children.Select(item => Write(item) + ",")) + "}",
        YamlScalarNode scalar => Scalar(scalar),
        _ => throw new NotSupportedException($"YAML node {node.NodeType} at {node.Start}"),
    };

    private static string Scalar(YamlScalarNode scalar)
    {
        var value = scalar.Value ?? "";
        if (scalar.Style is not ScalarStyle.Plain) return Quote(value);
        if (value is "true" or "false") return value;
        if (Number().IsMatch(value)) return double.Parse(value, CultureInfo.InvariantCulture).ToString("R", CultureInfo.InvariantCulture);
        return Quote(value);
    }

    private static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain, Value: null or "" or "~" or "null" };

    /// <summary>A Lua long-free string literal: every byte outside printable ASCII escaped as \ddd.</summary>
    private static string Quote(string text)
    {
        var lua = new StringBuilder("\"");
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            if (b is >= 0x20 and < 0x7f && b != '"' && b != '\\') lua.Append((char)b);
            else lua.Append('\\').Append(b.ToString("D3", CultureInfo.InvariantCulture));
        }

        return lua.Append('"').ToString();
    }

    [GeneratedRegex(@"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$")]
    private static partial Regex Number();
}
