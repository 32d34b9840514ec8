using System.Text.Json.Nodes;
using Kube.Local.Crds;

namespace Kube.Local.Tests.Crds;

/// <summary>Structural schema admission as pure logic: one row per validation rule, with the field and message.</summary>
public sealed class CrdVersionSchemaTests
{
    private static readonly CrdVersionSchema Schema = new(JsonNode.Parse("""
        {"type":"object","properties":{"spec":{"type":"object","required":["name"],"properties":{
          "name":{"type":"string","minLength":1,"maxLength":5,"pattern":"^[a-z]+$"},
          "count":{"type":"integer","minimum":1,"maximum":10,"default":2},
          "ratio":{"type":"number","exclusiveMinimum":true,"minimum":0,"multipleOf":0.5},
          "mode":{"type":"string","enum":["A","B"]},
          "port":{"x-kubernetes-int-or-string":true},
          "when":{"type":"string","format":"date-time"},
          "items":{"type":"array","minItems":1,"maxItems":2,"items":{"type":"string"}},
          "labels":{"type":"object","additionalProperties":{"type":"string"}},
          "free":{"type":"object","x-kubernetes-preserve-unknown-fields":true},
          "opt":{"type":"string","nullable":true}}}}}
        """)!.AsObject(), [], hasStatus: true);

    public static TheoryData<string, string, string> Invalid => new()
    {
        { """{"count":3}""", "spec.name", "Required value" },
        { """{"name":""}""", "spec.name", "Invalid value: \"\": spec.name in body should be at least 1 chars long" },
        { """{"name":"abcdef"}""", "spec.name", "Too long: may not be more than 5 bytes" },
        { """{"name":"ABC"}""", "spec.name", "Invalid value: \"ABC\": spec.name in body should match '^[a-z]+$'" },
        { """{"name":"a","count":0}""", "spec.count", "Invalid value: 0: spec.count in body should be greater than or equal to 1" },
        { """{"name":"a","count":11}""", "spec.count", "Invalid value: 11: spec.count in body should be less than or equal to 10" },
        { """{"name":"a","count":"3"}""", "spec.count", "Invalid value: \"string\": spec.count in body must be of type integer: \"string\"" },
        { """{"name":"a","count":1.5}""", "spec.count", "Invalid value: \"number\": spec.count in body must be of type integer: \"number\"" },
        { """{"name":"a","ratio":0}""", "spec.ratio", "Invalid value: 0: spec.ratio in body should be greater than 0" },
        { """{"name":"a","ratio":0.7}""", "spec.ratio", "Invalid value: 0.7: spec.ratio in body should be a multiple of 0.5" },
        { """{"name":"a","mode":"C"}""", "spec.mode", "Unsupported value: \"C\": supported values: \"A\", \"B\"" },
        { """{"name":"a","port":true}""", "spec.port", "Invalid value: \"boolean\": spec.port in body must be of type integer or string: \"boolean\"" },
        { """{"name":"a","when":"yesterday"}""", "spec.when", "Invalid value: \"yesterday\": spec.when in body must be of type date-time: \"yesterday\"" },
        { """{"name":"a","items":[]}""", "spec.items", "Invalid value: 0: spec.items in body should have at least 1 items" },
        { """{"name":"a","items":["a","b","c"]}""", "spec.items", "Too many: 3: must have at most 2 items" },
        { """{"name":"a","items":[1]}""", "spec.items[0]", "Invalid value: \"integer\": spec.items[0] in body must be of type string: \"integer\"" },
        { """{"name":"a","labels":{"x":1}}""", "spec.labels.x", "Invalid value: \"integer\": spec.labels.x in body must be of type string: \"integer\"" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Rejects_naming_the_field(string spec, string field, string message)
    {
        var obj = new JsonObject { ["apiVersion"] = "x/v1", ["kind"] = "X", ["metadata"] = new JsonObject(), ["spec"] = JsonNode.Parse(spec) };
        var (_, causes) = Schema.Admit(obj);
        Assert.Contains(causes, c => c.Field == field && c.Message == message);
        Assert.All(causes, c => Assert.Equal(field, c.Field));
    }

    [Theory]
    [InlineData("""{"name":"a"}""")]
    [InlineData("""{"name":"a","port":8080}""")]
    [InlineData("""{"name":"a","port":"http"}""")]
    [InlineData("""{"name":"a","opt":null,"when":"2026-01-01T00:00:00Z","ratio":1.5}""")]
    public void Accepts_valid_objects(string spec)
    {
        var obj = new JsonObject { ["metadata"] = new JsonObject(), ["spec"] = JsonNode.Parse(spec) };
        Assert.Empty(Schema.Admit(obj).Causes);
    }

    [Fact]
    public void Prunes_unknown_fields_keeps_preserved_ones_and_applies_defaults()
    {
        var obj = JsonNode.Parse("""{"apiVersion":"x/v1","kind":"X","metadata":{"name":"n"},"spec":{"name":"a","bogus":1,"free":{"any":{"thing":1}},"count":null},"extra":true}""")!.AsObject();
        var (unknown, causes) = Schema.Admit(obj);
        Assert.Empty(causes);
        Assert.Equal(["spec.bogus", "extra"], unknown.Order().Reverse());
        Assert.Null(obj["extra"]);
        Assert.Null(obj["spec"]!["bogus"]);
        Assert.Equal(1, obj["spec"]!["free"]!["any"]!["thing"]!.GetValue<int>());
        Assert.Equal(2, obj["spec"]!["count"]!.GetValue<int>());
        Assert.Equal("n", obj["metadata"]!["name"]!.GetValue<string>());
    }
}
