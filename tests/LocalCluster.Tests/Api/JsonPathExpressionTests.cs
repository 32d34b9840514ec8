using System.Text.Json.Nodes;
using Kube.Local.Api;

namespace Kube.Local.Tests.Api;

/// <summary>The JSONPath subset printer columns use.</summary>
public sealed class JsonPathExpressionTests
{
    private static readonly JsonNode Doc = JsonNode.Parse("""
        {"spec":{"replicas":3,"tags":["a","b"]},
         "status":{"conditions":[{"type":"Progressing","status":"True"},{"type":"Ready","status":"False","reason":"Waiting"}]},
         "metadata":{"labels":{"app.kubernetes.io/name":"x"}}}
        """)!;

    [Theory]
    [InlineData(".spec.replicas", "3")]
    [InlineData("{.spec.replicas}", "3")]
    [InlineData(".spec.tags[1]", "\"b\"")]
    [InlineData(".spec.tags[-1]", "\"b\"")]
    [InlineData(".spec.tags[*]", "\"a\",\"b\"")]
    [InlineData(".status.conditions[?(@.type==\"Ready\")].status", "\"False\"")]
    [InlineData(".status.conditions[?(@.type!=\"Ready\")].type", "\"Progressing\"")]
    [InlineData(".status.conditions[?(@.reason)].type", "\"Ready\"")]
    [InlineData(".metadata.labels['app.kubernetes.io/name']", "\"x\"")]
    [InlineData(".spec.missing", "")]
    [InlineData(".status.conditions[5]", "")]
    public void Evaluates(string path, string expected) =>
        Assert.Equal(expected, string.Join(",", JsonPathExpression.Evaluate(Doc, path).Select(n => n!.ToJsonString())));
}
