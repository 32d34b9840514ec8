using System.Text.Json.Nodes;
using ControllerRuntime.Resources;
using k8s;
using k8s.Models;

namespace ControllerRuntime.Tests.Resources;

public sealed class AppliedConfigurationTests
{
    private const string Hash = "example.dev/applied-hash";

    private static V1Service Desired(Dictionary<string, string>? selector = null) => new()
    {
        ApiVersion = "v1",
        Kind = "Service",
        Metadata = new V1ObjectMeta { Name = "m", NamespaceProperty = "ns", Labels = new Dictionary<string, string> { ["app"] = "m" } },
        Spec = new V1ServiceSpec
        {
            Selector = selector ?? new Dictionary<string, string> { ["app"] = "m" },
            Ports = [new V1ServicePort { Name = "http", Port = 8080, TargetPort = "http", Protocol = "TCP" }],
        },
    };

    /// <summary>What a server would hold after the apply: the body plus defaults and server-set fields, no apiVersion/kind (as list items).</summary>
    private static V1Service Live(V1Service desired)
    {
        var live = KubernetesJson.Deserialize<V1Service>(AppliedConfiguration.Stamp(desired, Hash).ToJsonString());
        live.ApiVersion = null;
        live.Kind = null;
        live.Metadata.Uid = "u1";
        live.Metadata.ResourceVersion = "42";
        live.Metadata.Labels["added-by-someone-else"] = "x";
        live.Spec.ClusterIP = "10.0.0.7";
        live.Spec.Type = "ClusterIP";
        live.Spec.Ports[0].TargetPort = "http";
        return live;
    }

    [Fact]
    public void AnObjectHoldingEveryAppliedFieldPlusDefaultsMatches()
    {
        var desired = Desired();
        Assert.True(AppliedConfiguration.Matches(AppliedConfiguration.Stamp(Desired(), Hash), Live(desired), Hash));
    }

    [Fact]
    public void AHandEditOfAnAppliedFieldDoesNotMatch()
    {
        var live = Live(Desired());
        live.Spec.Ports[0].Port = 9999;
        Assert.False(AppliedConfiguration.Matches(AppliedConfiguration.Stamp(Desired(), Hash), live, Hash));
    }

    [Fact]
    public void ARemovedAppliedLabelDoesNotMatch()
    {
        var live = Live(Desired());
        live.Metadata.Labels.Remove("app");
        Assert.False(AppliedConfiguration.Matches(AppliedConfiguration.Stamp(Desired(), Hash), live, Hash));
    }

    [Fact]
    public void AFieldTheOperatorStoppedSettingDoesNotMatchThroughTheHash()
    {
        // Applied with two selector keys; the desired object now sets one. Every desired field is still in the live
        // object, so only the hash tells that the apply would remove the other key.
        var live = Live(Desired(new Dictionary<string, string> { ["app"] = "m", ["track"] = "stable" }));
        Assert.True(AppliedConfiguration.Covers(AppliedConfiguration.Stamp(Desired(), Hash)["spec"], JsonNode.Parse(KubernetesJson.Serialize(live))!["spec"]));
        Assert.False(AppliedConfiguration.Matches(AppliedConfiguration.Stamp(Desired(), Hash), live, Hash));
    }

    [Fact]
    public void AnObjectNeverAppliedWithAHashDoesNotMatch()
    {
        var live = Live(Desired());
        live.Metadata.Annotations.Remove(Hash);
        Assert.False(AppliedConfiguration.Matches(AppliedConfiguration.Stamp(Desired(), Hash), live, Hash));
    }

    [Fact]
    public void TheHashIsStableAndFollowsTheBody()
    {
        string HashOf(V1Service s) => AppliedConfiguration.Stamp(s, Hash)["metadata"]!["annotations"]![Hash]!.GetValue<string>();
        Assert.Equal(HashOf(Desired()), HashOf(Desired()));
        Assert.NotEqual(HashOf(Desired()), HashOf(Desired(new Dictionary<string, string> { ["app"] = "other" })));
    }

    public static TheoryData<string, string?, string?, bool> Rows => new()
    {
        { "equal scalars", "1", "1", true },
        { "different scalars", "1", "2", false },
        { "number is not string", "1", "\"1\"", false },
        { "missing scalar", "1", null, false },
        { "extra live fields are ignored", "{\"a\":1}", "{\"a\":1,\"b\":2}", true },
        { "nested difference", "{\"a\":{\"b\":1}}", "{\"a\":{\"b\":2}}", false },
        { "empty object is covered by absence", "{}", null, true },
        { "empty list is covered by absence", "[]", null, true },
        { "empty list is not covered by a non-empty one", "[]", "[1]", false },
        { "lists compare element-wise", "[{\"n\":\"a\"},{\"n\":\"b\"}]", "[{\"n\":\"a\",\"x\":1},{\"n\":\"b\"}]", true },
        { "list order matters", "[{\"n\":\"a\"},{\"n\":\"b\"}]", "[{\"n\":\"b\"},{\"n\":\"a\"}]", false },
        { "an extra live element is applied again", "[1]", "[1,2]", false },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void CoversComparesOnlyTheDesiredFields(string scenario, string? desired, string? live, bool expected) =>
        Assert.True(expected == AppliedConfiguration.Covers(desired is null ? null : JsonNode.Parse(desired), live is null ? null : JsonNode.Parse(live)), scenario);
}
