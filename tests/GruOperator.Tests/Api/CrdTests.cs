using System.ComponentModel;
using System.Reflection;
using GruOperator.Api;
using GruOperator.Api.Schema;
using GruOperator.Tests.Support;
using k8s;
using k8s.Models;

namespace GruOperator.Tests.Api;

public sealed class CrdTests
{
    [Fact]
    public void CommittedCrdMatchesWhatTheTypesGenerate()
    {
        var committed = File.ReadAllText(RepositoryRoot.Combine("config", "crds", CrdGenerator.FileName));
        Assert.True(committed == CrdGenerator.RenderYaml(),
            "config/crds is stale: run `make manifests` and commit the result.");
    }

    [Fact]
    public void CrdHasStatusSubresourcePrinterColumnsShortNameAndCategories()
    {
        var crd = CrdGenerator.Build();
        var version = Assert.Single(crd.Spec.Versions);
        Assert.NotNull(version.Subresources.Status);
        Assert.Equal(["Phase", "Stable", "Canary", "Ready", "Age", "Message"], version.AdditionalPrinterColumns.Select(c => c.Name));
        Assert.Equal(["gru"], crd.Spec.Names.ShortNames);
        Assert.Contains("gru", crd.Spec.Names.Categories);
        Assert.Equal("grumodels.serving.gru.dev", crd.Metadata.Name);
    }

    [Fact]
    public void SchemaCarriesDefaultsEnumsRangesPatternsRequiredAndCelRules()
    {
        var spec = CrdGenerator.Build().Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"];
        var serving = spec.Properties["serving"];
        Assert.Equal(1, Convert.ToInt32(serving.Properties["replicas"].DefaultProperty, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(["Auto", "CUDA", "CPU"], serving.Properties["executionProvider"].EnumProperty.Cast<string>());
        Assert.Equal(16, serving.Properties["gpu"].Properties["count"].Maximum);
        Assert.NotNull(spec.Properties["model"].Properties["source"].Pattern);
        Assert.Equal(["name", "source"], spec.Properties["model"].Required);
        Assert.Contains(spec.Properties["model"].XKubernetesValidations, r => r.Rule.Contains("sha256", StringComparison.Ordinal));
        Assert.Contains(serving.XKubernetesValidations, r => r.Message.Contains("CUDA", StringComparison.Ordinal));
        Assert.True(serving.Properties["resources"].Properties["requests"].AdditionalProperties is V1JSONSchemaProps { XKubernetesIntOrString: true });
        var conditions = CrdGenerator.Build().Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["status"].Properties["conditions"];
        Assert.Equal("map", conditions.XKubernetesListType);
        Assert.Equal(["type", "status", "reason", "message", "lastTransitionTime"], ((V1JSONSchemaProps)conditions.Items).Required);
    }

    [Fact]
    public void SchemaDefaultsAgreeWithTheCSharpInitializers()
    {
        foreach (var type in typeof(GruModelSpec).Assembly.GetTypes().Where(t => t.Namespace == "GruOperator.Api" && t.IsClass && t.GetConstructor(Type.EmptyTypes) is not null))
        {
            var instance = Activator.CreateInstance(type);
            foreach (var property in type.GetProperties())
            {
                if (property.GetCustomAttribute<DefaultValueAttribute>() is not { } attribute) continue;
                var actual = property.GetValue(instance);
                Assert.True(string.Equals(Convert.ToString(attribute.Value, System.Globalization.CultureInfo.InvariantCulture), Convert.ToString(actual, System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal),
                    $"{type.Name}.{property.Name}: schema default {attribute.Value} but C# default {actual}");
            }
        }
    }

    [Fact]
    public void EveryFieldASampleSerializesIsDeclaredInTheSchema()
    {
        var schema = CrdGenerator.Build().Spec.Versions[0].Schema.OpenAPIV3Schema;
        foreach (var file in Directory.GetFiles(RepositoryRoot.Combine("config", "samples"), "*.yaml"))
        {
            var json = System.Text.Json.JsonDocument.Parse(KubernetesJson.Serialize(Models.Load(file)));
            AssertDeclared(json.RootElement.GetProperty("spec"), schema.Properties["spec"], Path.GetFileName(file) + ":spec");
        }
    }

    private static void AssertDeclared(System.Text.Json.JsonElement element, V1JSONSchemaProps schema, string path)
    {
        switch (element.ValueKind)
        {
            case System.Text.Json.JsonValueKind.Object when schema.Properties is not null:
                foreach (var property in element.EnumerateObject())
                {
                    Assert.True(schema.Properties.ContainsKey(property.Name), $"{path}.{property.Name} is not in the schema (it would be pruned)");
                    AssertDeclared(property.Value, schema.Properties[property.Name], path + "." + property.Name);
                }
                break;
            case System.Text.Json.JsonValueKind.Array when schema.Items is V1JSONSchemaProps items:
                foreach (var item in element.EnumerateArray()) AssertDeclared(item, items, path + "[]");
                break;
        }
    }
}
