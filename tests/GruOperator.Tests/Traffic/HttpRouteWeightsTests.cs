using System.Text.Json.Nodes;
using GruOperator.Traffic;

namespace GruOperator.Tests.Traffic;

public sealed class HttpRouteWeightsTests
{
    private const string Stable = "m-stable";
    private const string Canary = "m-canary";

    private static JsonObject Route(params string[] rules) =>
        JsonNode.Parse("""{"metadata":{"name":"web","namespace":"ml"},"spec":{"rules":[""" + string.Join(",", rules) + "]}}")!.AsObject();

    private const string Owned = """{"matches":[{"path":{"type":"PathPrefix","value":"/v2"}}],"backendRefs":[{"name":"m-stable","port":8080,"weight":100},{"name":"m-canary","port":8080,"weight":0}]}""";
    private const string Unrelated = """{"matches":[{"path":{"type":"Exact","value":"/healthz"}}],"backendRefs":[{"name":"other","port":80}]}""";

    public static TheoryData<string, JsonObject, int, int, int[][]> Writes => new()
    {
        { "two refs get the asked weights", Route(Owned), 80, 20, [[80, 20]] },
        { "every owned rule gets them", Route(Owned, Owned), 90, 10, [[90, 10], [90, 10]] },
        { "explicit core group and kind Service are the same Service", Route("""{"backendRefs":[{"group":"","kind":"Service","name":"m-stable","port":8080,"weight":100},{"name":"m-canary","port":8080,"namespace":"ml","weight":0}]}"""), 50, 50, [[50, 50]] },
        { "an absent weight is 1 and is written", Route("""{"backendRefs":[{"name":"m-stable","port":8080},{"name":"m-canary","port":8080}]}"""), 99, 1, [[99, 1]] },
    };

    [Theory]
    [MemberData(nameof(Writes))]
    public void WritesTheWeightsIntoEveryOwnedRule(string scenario, JsonObject route, int stable, int canary, int[][] expected)
    {
        var plan = HttpRouteWeights.Plan(route, Stable, Canary, stable, canary);

        Assert.True(plan.Problem is null, $"{scenario}: {plan.Problem}");
        Assert.True(plan.Changed, scenario);
        var weights = plan.Rules!.Select(r => r!["backendRefs"]!.AsArray().Select(b => b!["weight"]!.GetValue<int>()).ToArray()).ToArray();
        Assert.Equal(expected, weights);
    }

    [Fact]
    public void OnlyTheTwoWeightsChangeEverythingElseIsKeptAsItWas()
    {
        var route = Route(Unrelated, Owned);
        var plan = HttpRouteWeights.Plan(route, Stable, Canary, 75, 25);

        var expected = route["spec"]!["rules"]!.DeepClone().AsArray();
        expected[1]!["backendRefs"]![0]!["weight"] = 75;
        expected[1]!["backendRefs"]![1]!["weight"] = 25;
        Assert.True(JsonNode.DeepEquals(expected, plan.Rules), plan.Rules!.ToJsonString());
        // The live route is not modified by planning.
        Assert.Equal(100, route["spec"]!["rules"]![1]!["backendRefs"]![0]!["weight"]!.GetValue<int>());
    }

    [Theory]
    [InlineData(100, 0)]
    [InlineData(1, 99)]
    public void WeightsThatAlreadyHoldNeedNoWrite(int stable, int canary)
    {
        var route = Route(Owned);
        route["spec"]!["rules"]![0]!["backendRefs"]![0]!["weight"] = stable;
        route["spec"]!["rules"]![0]!["backendRefs"]![1]!["weight"] = canary;

        var plan = HttpRouteWeights.Plan(route, Stable, Canary, stable, canary);

        Assert.Null(plan.Problem);
        Assert.False(plan.Changed);
    }

    [Fact]
    public void RulesPinnedToOneTrackByTheTrackHeaderAreLeftAsTheyAre()
    {
        const string PinStable = """{"matches":[{"path":{"type":"PathPrefix","value":"/v2"},"headers":[{"name":"x-gru-track","value":"stable"}]}],"backendRefs":[{"name":"m-stable","port":8080}]}""";
        const string PinCanary = """{"matches":[{"headers":[{"type":"Exact","name":"X-Gru-Track","value":"canary"}]}],"backendRefs":[{"name":"m-canary","port":8080}]}""";
        var route = Route(PinStable, Owned, PinCanary);

        var plan = HttpRouteWeights.Plan(route, Stable, Canary, 60, 40);

        Assert.Null(plan.Problem);
        var expected = route["spec"]!["rules"]!.DeepClone().AsArray();
        expected[1]!["backendRefs"]![0]!["weight"] = 60;
        expected[1]!["backendRefs"]![1]!["weight"] = 40;
        Assert.True(JsonNode.DeepEquals(expected, plan.Rules), plan.Rules!.ToJsonString());
    }

    public static TheoryData<string, JsonObject, string[]> Refused => new()
    {
        { "no rules", JsonNode.Parse("""{"metadata":{"name":"web","namespace":"ml"},"spec":{}}""")!.AsObject(), ["HTTPRoute ml/web has no rules", "m-canary"] },
        { "no rule names the model", Route(Unrelated), ["HTTPRoute ml/web has no rule with backendRefs to Services m-stable and m-canary", "weight: 0"] },
        { "stable without canary", Route("""{"backendRefs":[{"name":"m-stable","port":8080}]}"""), ["rule 0 of HTTPRoute ml/web", "Service m-canary", "[Service m-stable:8080]"] },
        { "canary without stable", Route(Unrelated, """{"backendRefs":[{"name":"m-canary","port":8080}]}"""), ["rule 1 of HTTPRoute ml/web", "[Service m-canary:8080]"] },
        { "a third backend would skew the shares", Route("""{"backendRefs":[{"name":"m-stable","port":8080},{"name":"m-canary","port":8080},{"name":"legacy","port":80}]}"""), ["exact percentages", "Service legacy:80"] },
        { "a rule pinned by the track header to the other track's Service", Route(Owned, """{"matches":[{"headers":[{"name":"x-gru-track","value":"stable"}]}],"backendRefs":[{"name":"m-canary","port":8080}]}"""), ["rule 1", "[Service m-canary:8080]"] },
        { "a track-header rule with a match that does not require it", Route(Owned, """{"matches":[{"headers":[{"name":"x-gru-track","value":"canary"}]},{"path":{"type":"PathPrefix","value":"/"}}],"backendRefs":[{"name":"m-canary","port":8080}]}"""), ["rule 1", "[Service m-canary:8080]"] },
        { "the stable Service twice", Route("""{"backendRefs":[{"name":"m-stable","port":8080},{"name":"m-stable","port":9464}]}"""), ["rule 0", "[Service m-stable:8080, Service m-stable:9464]"] },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void ARouteThatCannotCarryExactWeightsIsRefusedWithTheFix(string scenario, JsonObject route, string[] messageParts)
    {
        var plan = HttpRouteWeights.Plan(route, Stable, Canary, 90, 10);

        Assert.True(plan.Problem is not null, scenario);
        Assert.Null(plan.Rules);
        foreach (var part in messageParts) Assert.Contains(part, plan.Problem);
    }

    [Theory]
    [InlineData("""{"name":"m-stable","port":8080,"namespace":"other"}""")]
    [InlineData("""{"name":"m-stable","port":8080,"kind":"ServiceImport","group":"multicluster.x-k8s.io"}""")]
    public void ABackendOfTheSameNameElsewhereIsNotTheModels(string backendRef)
    {
        var plan = HttpRouteWeights.Plan(Route($$"""{"backendRefs":[{{backendRef}}]}"""), Stable, Canary, 90, 10);

        Assert.Contains("has no rule with backendRefs", plan.Problem);
    }
}
