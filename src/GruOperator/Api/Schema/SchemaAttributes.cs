namespace GruOperator.Api.Schema;

/// <summary>A CEL rule (x-kubernetes-validations) the API server checks on this object or field.</summary>
/// <remarks>
/// Guard every optional field with <c>has()</c>: at CRD creation the API server also evaluates each rule against the
/// schema's <c>default</c> values (e.g. <c>serving: {}</c>) before nested defaults are filled in, and an unguarded
/// <c>self.x</c> there is "no such key", which refuses the whole CRD. fieldPath needs Kubernetes 1.28 or later.
/// </remarks>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Property, AllowMultiple = true)]
internal sealed class CelRuleAttribute(string rule, string message) : Attribute
{
    public string Rule { get; } = rule;
    public string Message { get; } = message;

    /// <summary>Optional JSON path of the field the message is about (fieldPath), relative to this object.</summary>
    public string? FieldPath { get; init; }
}

/// <summary>Marks a list as a map keyed by the given fields (x-kubernetes-list-type: map), for server-side apply merges.</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class ListMapAttribute(params string[] keys) : Attribute
{
    public string[] Keys { get; } = keys;
}

/// <summary>A printer column for kubectl get.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
internal sealed class PrinterColumnAttribute(string name, string type, string jsonPath) : Attribute
{
    public string Name { get; } = name;
    public string Type { get; } = type;
    public string JsonPath { get; } = jsonPath;
    public string? Description { get; init; }
    public int Priority { get; init; }
}

/// <summary>Defaults an object-valued field to {} so the API server applies the defaults of its fields even when it is omitted.</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class DefaultEmptyObjectAttribute : Attribute;
