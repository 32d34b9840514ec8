using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using k8s;
using k8s.Models;

namespace GruOperator.Api.Schema;

/// <summary>
/// Builds the GruModel CustomResourceDefinition from the C# types, which are the source of truth: property names follow
/// the JSON serializer, and descriptions, defaults, ranges, patterns, required fields and CEL rules come from attributes.
/// </summary>
internal static partial class CrdGenerator
{
    /// <summary>The file name controller-gen would use.</summary>
    public const string FileName = GruModel.Group + "_" + GruModel.Plural + ".yaml";

    // Kubernetes' quantity grammar (resource.Quantity), as controller-gen emits it.
    private const string QuantityPattern = @"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";

    /// <summary>The CRD as an object, e.g. to create it in a test cluster.</summary>
    public static V1CustomResourceDefinition Build()
    {
        var root = typeof(GruModel);
        var schema = new V1JSONSchemaProps
        {
            Type = "object",
            Description = root.GetCustomAttribute<DescriptionAttribute>()?.Description,
            Required = ["spec"],
            Properties = new Dictionary<string, V1JSONSchemaProps>
            {
                ["apiVersion"] = new() { Type = "string", Description = "APIVersion defines the versioned schema of this representation of an object." },
                ["kind"] = new() { Type = "string", Description = "Kind is a string value representing the REST resource this object represents." },
                ["metadata"] = new() { Type = "object" },
                ["spec"] = ObjectSchema(typeof(GruModelSpec)),
                ["status"] = ObjectSchema(typeof(GruModelStatus)),
            },
        };

        return new V1CustomResourceDefinition
        {
            ApiVersion = "apiextensions.k8s.io/v1",
            Kind = "CustomResourceDefinition",
            Metadata = new V1ObjectMeta { Name = GruModel.Plural + "." + GruModel.Group },
            Spec = new V1CustomResourceDefinitionSpec
            {
                Group = GruModel.Group,
                Scope = "Namespaced",
                Names = new V1CustomResourceDefinitionNames
                {
                    Kind = GruModel.KindName,
                    ListKind = GruModel.KindName + "List",
                    Plural = GruModel.Plural,
                    Singular = "grumodel",
                    ShortNames = ["gru"],
                    Categories = ["gru", "serving"],
                },
                Versions =
                [
                    new V1CustomResourceDefinitionVersion
                    {
                        Name = GruModel.Version,
                        Served = true,
                        Storage = true,
                        Schema = new V1CustomResourceValidation { OpenAPIV3Schema = schema },
                        Subresources = new V1CustomResourceSubresources
                        {
                            Status = new Dictionary<string, object>(),
                            // As Argo Rollouts: kubectl scale, an HPA or KEDA set the whole model's count; the rollout splits it.
                            Scale = new V1CustomResourceSubresourceScale
                            {
                                SpecReplicasPath = ".spec.serving.replicas",
                                StatusReplicasPath = ".status.replicas",
                                LabelSelectorPath = ".status.selector",
                            },
                        },
                        AdditionalPrinterColumns = root.GetCustomAttributes<PrinterColumnAttribute>().Select(c => new V1CustomResourceColumnDefinition
                        {
                            Name = c.Name,
                            Type = c.Type,
                            JsonPath = c.JsonPath,
                            Description = c.Description,
                            Priority = c.Priority == 0 ? null : c.Priority,
                        }).ToList(),
                    },
                ],
            },
        };
    }

    /// <summary>The CRD as the YAML committed under config/crds.</summary>
    public static string RenderYaml() =>
        "# Generated from the C# types in src/GruOperator/Api by `make manifests`. Do not edit by hand.\n"
        + WholeBound().Replace(KubernetesYaml.Serialize(Build()), "$1");

    // The YAML serializer writes whole-number bounds as 0.0; the API server stores them as 0, and kubectl's client-side
    // apply then sees a change on every apply ("configured" with nothing changed). Write them as the server does.
    [GeneratedRegex(@"(?<=^\s*(?:minimum|maximum|multipleOf): )(-?[0-9]+)\.0$", RegexOptions.Multiline)]
    private static partial Regex WholeBound();

    /// <summary>The JSON name a property has on the wire.</summary>
    public static string JsonName(PropertyInfo property) =>
        property.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonNamingPolicy.CamelCase.ConvertName(property.Name);

    private static V1JSONSchemaProps ObjectSchema(Type type)
    {
        var properties = new Dictionary<string, V1JSONSchemaProps>();
        var required = new List<string>();
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetCustomAttribute<JsonIgnoreAttribute>() is not null || property.GetMethod is null) continue;
            var name = JsonName(property);
            properties[name] = PropertySchema(property);
            if (property.GetCustomAttribute<RequiredAttribute>() is not null) required.Add(name);
        }

        var rules = type.GetCustomAttributes<CelRuleAttribute>().Select(Rule).ToList();
        // An object with no settings (e.g. trafficRouting.replicas: {}): the API server's CEL cannot type an object
        // schema without properties, so a rule that so much as tests has() on it fails with a type error instead of its
        // message. Kept unknown fields give CEL a dynamic type; maxProperties 0 still refuses any content.
        var empty = properties.Count == 0;
        return new V1JSONSchemaProps
        {
            Type = "object",
            Description = type.GetCustomAttribute<DescriptionAttribute>()?.Description,
            Properties = empty ? null : properties,
            XKubernetesPreserveUnknownFields = empty ? true : null,
            MaxProperties = empty ? 0 : null,
            Required = required.Count == 0 ? null : required,
            XKubernetesValidations = rules.Count == 0 ? null : rules,
        };
    }

    private static V1JSONSchemaProps PropertySchema(PropertyInfo property)
    {
        var schema = TypeSchema(property.PropertyType);
        var description = property.GetCustomAttribute<DescriptionAttribute>()?.Description;
        if (description is not null) schema.Description = description;

        if (property.GetCustomAttribute<DefaultValueAttribute>() is { } defaultValue) schema.DefaultProperty = defaultValue.Value;
        if (property.GetCustomAttribute<DefaultEmptyObjectAttribute>() is not null) schema.DefaultProperty = new Dictionary<string, object>();
        if (property.GetCustomAttribute<RegularExpressionAttribute>() is { } regex) schema.Pattern = regex.Pattern;
        if (property.GetCustomAttribute<RangeAttribute>() is { } range)
        {
            schema.Minimum = Convert.ToDouble(range.Minimum, System.Globalization.CultureInfo.InvariantCulture);
            schema.Maximum = Convert.ToDouble(range.Maximum, System.Globalization.CultureInfo.InvariantCulture);
        }
        if (property.GetCustomAttribute<MaxLengthAttribute>() is { } maxLength)
        {
            if (schema.Type == "array") schema.MaxItems = maxLength.Length;
            else schema.MaxLength = maxLength.Length;
        }
        if (property.GetCustomAttribute<ListMapAttribute>() is { } listMap)
        {
            schema.XKubernetesListType = "map";
            schema.XKubernetesListMapKeys = listMap.Keys;
        }
        var rules = property.GetCustomAttributes<CelRuleAttribute>().Select(Rule).ToList();
        if (rules.Count > 0) schema.XKubernetesValidations = [.. schema.XKubernetesValidations ?? [], .. rules];
        return schema;
    }

    private static V1JSONSchemaProps TypeSchema(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string)) return new() { Type = "string" };
        if (type == typeof(bool)) return new() { Type = "boolean" };
        if (type == typeof(int)) return new() { Type = "integer", Format = "int32" };
        if (type == typeof(long)) return new() { Type = "integer", Format = "int64" };
        if (type == typeof(double)) return new() { Type = "number" };
        if (type == typeof(DateTimeOffset)) return new() { Type = "string", Format = "date-time" };
        // The names JSON uses: a member's JsonStringEnumMemberName when it has one (inFlightRequests), else its own.
        if (type.IsEnum)
        {
            return new()
            {
                Type = "string",
                EnumProperty = type.GetFields(BindingFlags.Public | BindingFlags.Static)
                    .Select(f => (object)(f.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name ?? f.Name)).ToList(),
            };
        }
        if (type == typeof(ResourceQuantity))
        {
            return new()
            {
                AnyOf = [new() { Type = "integer" }, new() { Type = "string" }],
                Pattern = QuantityPattern,
                XKubernetesIntOrString = true,
            };
        }
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            return new() { Type = "object", AdditionalProperties = TypeSchema(type.GetGenericArguments()[1]) };
        }
        if (type.IsGenericType && (type.GetGenericTypeDefinition() == typeof(List<>) || type.GetGenericTypeDefinition() == typeof(IReadOnlyList<>)))
        {
            return new() { Type = "array", Items = TypeSchema(type.GetGenericArguments()[0]) };
        }
        if (type.IsClass) return ObjectSchema(type);
        throw new NotSupportedException($"No schema mapping for {type}; add one to {nameof(CrdGenerator)}.");
    }

    private static V1ValidationRule Rule(CelRuleAttribute rule) => new()
    {
        Rule = rule.Rule,
        Message = rule.Message,
        FieldPath = rule.FieldPath,
    };
}
