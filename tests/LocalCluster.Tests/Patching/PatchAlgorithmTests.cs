using System.Text.Json.Nodes;
using Kube.Local.Api;
using Kube.Local.Patching;

namespace Kube.Local.Tests.Patching;

/// <summary>Merge, JSON and strategic merge patch as pure functions, one row per rule.</summary>
public sealed class PatchAlgorithmTests
{
    public static TheoryData<string, string, string, string> MergePatches => new()
    {
        { "adds and replaces", """{"a":1,"b":{"c":1}}""", """{"a":2,"d":3}""", """{"a":2,"b":{"c":1},"d":3}""" },
        { "null deletes", """{"a":1,"b":2}""", """{"a":null}""", """{"b":2}""" },
        { "nested objects merge", """{"b":{"c":1,"d":2}}""", """{"b":{"d":null,"e":3}}""", """{"b":{"c":1,"e":3}}""" },
        { "lists replace", """{"l":[1,2,3]}""", """{"l":[4]}""", """{"l":[4]}""" },
    };

    [Theory]
    [MemberData(nameof(MergePatches))]
    public void Json_merge_patch(string rule, string target, string patch, string expected)
    {
        Assert.NotEmpty(rule);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), JsonMergePatch.Apply(JsonNode.Parse(target), JsonNode.Parse(patch))));
    }

    public static TheoryData<string, string, string, string> StrategicPatches => new()
    {
        { "containers merge by name", """{"containers":[{"name":"a","image":"1"},{"name":"b","image":"1"}]}""",
            """{"containers":[{"name":"b","image":"2"}]}""", """{"containers":[{"name":"a","image":"1"},{"name":"b","image":"2"}]}""" },
        { "new element appended", """{"containers":[{"name":"a"}]}""", """{"containers":[{"name":"c"}]}""", """{"containers":[{"name":"a"},{"name":"c"}]}""" },
        { "$patch delete removes by key", """{"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}""",
            """{"env":[{"name":"A","$patch":"delete"}]}""", """{"env":[{"name":"B","value":"2"}]}""" },
        { "container ports by containerPort", """{"ports":[{"containerPort":80,"name":"http"}]}""",
            """{"ports":[{"containerPort":80,"protocol":"TCP"}]}""", """{"ports":[{"containerPort":80,"name":"http","protocol":"TCP"}]}""" },
        { "finalizers merge as a set", """{"finalizers":["a"]}""", """{"finalizers":["a","b"]}""", """{"finalizers":["a","b"]}""" },
        { "deleteFromPrimitiveList", """{"finalizers":["a","b"]}""", """{"$deleteFromPrimitiveList/finalizers":["a"]}""", """{"finalizers":["b"]}""" },
        { "unkeyed lists replace", """{"args":["x","y"]}""", """{"args":["z"]}""", """{"args":["z"]}""" },
        { "$patch replace on a map", """{"m":{"a":1,"b":2}}""", """{"m":{"$patch":"replace","c":3}}""", """{"m":{"c":3}}""" },
        { "$retainKeys drops others", """{"s":{"type":"A","a":{}}}""", """{"s":{"$retainKeys":["type"],"type":"B"}}""", """{"s":{"type":"B"}}""" },
        { "$setElementOrder reorders", """{"containers":[{"name":"a"},{"name":"b"}]}""",
            """{"$setElementOrder/containers":[{"name":"b"},{"name":"a"}]}""", """{"containers":[{"name":"b"},{"name":"a"}]}""" },
    };

    [Theory]
    [MemberData(nameof(StrategicPatches))]
    public void Strategic_merge_patch(string rule, string target, string patch, string expected)
    {
        var result = StrategicMergePatch.Apply(JsonNode.Parse(target)!.AsObject(), JsonNode.Parse(patch)!.AsObject());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), result), $"{rule}: got {result.ToJsonString()}");
    }

    public static TheoryData<string, string, string> JsonPatches => new()
    {
        { """[{"op":"add","path":"/a/-","value":3}]""", """{"a":[1,2]}""", """{"a":[1,2,3]}""" },
        { """[{"op":"add","path":"/a/0","value":0}]""", """{"a":[1,2]}""", """{"a":[0,1,2]}""" },
        { """[{"op":"remove","path":"/a/1"}]""", """{"a":[1,2]}""", """{"a":[1]}""" },
        { """[{"op":"replace","path":"/b","value":"x"}]""", """{"a":[1,2],"b":1}""", """{"a":[1,2],"b":"x"}""" },
        { """[{"op":"copy","from":"/b","path":"/c"}]""", """{"b":1}""", """{"b":1,"c":1}""" },
        { """[{"op":"add","path":"/k~1v","value":1}]""", """{}""", """{"k/v":1}""" },
    };

    [Theory]
    [MemberData(nameof(JsonPatches))]
    public void Json_patch(string patch, string target, string expected) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), JsonPatch.Apply(JsonNode.Parse(target)!, JsonNode.Parse(patch))));

    [Theory]
    [InlineData("""{"op":"add"}""", "must be a JSON array")]
    [InlineData("""[{"op":"add","path":"/a"}]""", "missing \"value\"")]
    [InlineData("""[{"op":"remove","path":"/nope"}]""", "nonexistent key")]
    [InlineData("""[{"op":"jump","path":"/a"}]""", "unexpected kind")]
    [InlineData("""[{"op":"add","path":"a","value":1}]""", "must start with '/'")]
    public void Bad_json_patches_are_400_naming_the_problem(string patch, string why)
    {
        var e = Assert.Throws<ApiError>(() => JsonPatch.Apply(JsonNode.Parse("""{"a":1}""")!, JsonNode.Parse(patch)));
        Assert.Equal(400, e.Code);
        Assert.Contains(why, e.Message);
    }
}
