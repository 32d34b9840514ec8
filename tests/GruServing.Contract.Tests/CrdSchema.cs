using GruOperator.Api.Schema;
using k8s.Models;

namespace GruServing.Contract.Tests;

/// <summary>The GruModel CRD schema as the operator generates it, walked by field path.</summary>
internal static class CrdSchema
{
    public static V1JSONSchemaProps Spec { get; } = CrdGenerator.Build().Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"];

    /// <summary>The schema at a dotted path under spec, e.g. <c>serving.maxSequenceLength</c>; <c>[]</c> steps into list items.</summary>
    public static V1JSONSchemaProps At(string path)
    {
        var schema = Spec;
        foreach (var part in path.Split('.'))
        {
            schema = part == "[]" ? (V1JSONSchemaProps)schema.Items : schema.Properties[part];
        }
        return schema;
    }

    /// <summary>Every string field under spec with its path and pattern.</summary>
    public static IEnumerable<(string Path, string Pattern)> Patterns(V1JSONSchemaProps? schema = null, string path = "")
    {
        schema ??= Spec;
        if (schema.Pattern is { } pattern) yield return (path, pattern);
        foreach (var (name, child) in schema.Properties ?? new Dictionary<string, V1JSONSchemaProps>())
        {
            foreach (var found in Patterns(child, path.Length == 0 ? name : path + "." + name)) yield return found;
        }
        if (schema.Items is V1JSONSchemaProps items)
        {
            foreach (var found in Patterns(items, path + ".[]")) yield return found;
        }
    }
}
