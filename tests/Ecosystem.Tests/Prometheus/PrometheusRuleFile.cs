using TestSupport;
using YamlDotNet.RepresentationModel;

namespace Ecosystem.Tests.Prometheus;

/// <summary>
/// config/prometheus/prometheusrule.yaml as promtool reads it: the PrometheusRule's <c>spec</c> is a plain Prometheus
/// rules file (groups), so it is written out as one, optionally with a transformation of the parsed rules.
/// </summary>
internal static class PrometheusRuleFile
{
    public static string Path => System.IO.Path.Combine(Repository.Root, "config", "prometheus", "prometheusrule.yaml");

    /// <summary>The <c>spec.groups[*].rules[*]</c> mappings of the PrometheusRule.</summary>
    public static IEnumerable<YamlMappingNode> Rules(YamlMappingNode spec) =>
        ((YamlSequenceNode)spec["groups"]).Children.Cast<YamlMappingNode>()
            .SelectMany(g => ((YamlSequenceNode)g["rules"]).Children.Cast<YamlMappingNode>());

    /// <summary>Writes the spec to <paramref name="target"/>, after <paramref name="transform"/> changed it if given.</summary>
    public static void WriteSpec(string target, Action<YamlMappingNode>? transform = null)
    {
        var spec = LoadSpec();
        transform?.Invoke(spec);
        var document = new YamlStream(new YamlDocument(spec));
        using var writer = new StreamWriter(target);
        document.Save(writer, assignAnchors: false);
    }

    public static YamlMappingNode LoadSpec()
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(Path)));
        var root = (YamlMappingNode)stream.Documents[0].RootNode;
        Assert.Equal("monitoring.coreos.com/v1", ((YamlScalarNode)root["apiVersion"]).Value);
        Assert.Equal("PrometheusRule", ((YamlScalarNode)root["kind"]).Value);
        return (YamlMappingNode)root["spec"];
    }

    /// <summary>Drops every rule's annotations: promtool's unit tests compare them verbatim, check rules parses them.</summary>
    public static void WithoutAnnotations(YamlMappingNode spec)
    {
        foreach (var rule in Rules(spec)) rule.Children.Remove(new YamlScalarNode("annotations"));
    }
}
