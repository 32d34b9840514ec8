using System.Net;
using System.Text.Json.Nodes;
using ControllerRuntime.Informers;
using ControllerRuntime.Resources;
using GruOperator.Api;
using GruOperator.Hosting;
using GruOperator.Serving;
using GruOperator.Tests.Integration;
using GruOperator.Tests.Support;
using GruOperator.Traffic;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace GruOperator.Tests.Traffic;

/// <summary>
/// trafficRouting.gatewayAPI against the real Gateway API HTTPRoute CRD (tests/crds/gateway-api, v1.3.0 standard), on
/// both lanes: a route applied from "Git" by another field manager gets exact weights and keeps everything else.
/// </summary>
public abstract class GatewayApiTrafficRouterTests
{
    private const string GitManager = "argocd-controller";
    private const string Route = "web";

    private protected abstract Task<OperatorHarness> StartHarnessAsync();

    private static Task InstallGatewayApiAsync(OperatorHarness harness) => GatewayApiCrd.InstallAsync(harness.Client, harness.Namespace);

    private static Task UninstallGatewayApiAsync(OperatorHarness harness) => GatewayApiCrd.UninstallAsync(harness.Client, harness.Namespace);

    [Fact]
    public async Task WritesExactWeightsAndKeepsEveryFieldItDoesNotOwn()
    {
        await using var harness = await StartHarnessAsync();
        await InstallGatewayApiAsync(harness);
        var model = await CreateModelAsync(harness);
        var before = await GitApplyAsync(harness, GitRoute(harness.Namespace, 100, 0));

        await Router(harness.Client).SetWeightsAsync(model, 80, 20, CancellationToken.None);

        var after = await ReadRouteAsync(harness);
        Assert.Equal([80, 20], Weights(after, 0));
        // Nothing but the two weights moved: the rest of spec, the other rule and the labels are as Git applied them.
        Assert.True(JsonNode.DeepEquals(WithWeights(before, 0, 80, 20)["spec"], after["spec"]), $"{harness.Lane}: {after["spec"]!.ToJsonString()}");
        Assert.Equal("ml-platform", after["metadata"]!["labels"]!["team"]!.GetValue<string>());

        // Git's manager still owns everything outside spec.rules; the operator owns spec.rules and nothing else.
        var git = ManagedFieldsOf(after, GitManager);
        Assert.NotNull(git["f:spec"]!["f:hostnames"]);
        Assert.NotNull(git["f:spec"]!["f:parentRefs"]);
        Assert.NotNull(git["f:metadata"]!["f:labels"]!["f:team"]);
        var ours = ManagedFieldsOf(after, "gru-operator");
        Assert.Equal(["f:rules"], ours["f:spec"]!.AsObject().Select(p => p.Key));
        Assert.Null(ours["f:metadata"]?["f:labels"]);

        // The backends the route names exist and select one track each.
        foreach (var track in new[] { "stable", "canary" })
        {
            var service = await harness.Client.CoreV1.ReadNamespacedServiceAsync($"m-{track}", harness.Namespace);
            Assert.Equal(new Dictionary<string, string> { [Labels.Model] = "m", [Labels.Track] = track }, service.Spec.Selector);
            Assert.Equal(model.Metadata.Uid, service.Metadata.OwnerReferences.Single().Uid);
        }
    }

    [Fact]
    public async Task AGitReapplyFindsNoDriftOutsideTheWeights()
    {
        await using var harness = await StartHarnessAsync();
        await InstallGatewayApiAsync(harness);
        var model = await CreateModelAsync(harness);
        await GitApplyAsync(harness, GitRoute(harness.Namespace, 100, 0));
        await Router(harness.Client).SetWeightsAsync(model, 60, 40, CancellationToken.None);
        var live = await ReadRouteAsync(harness);

        // Argo CD syncs by server-side apply with force; with ignoreDifferences on the weights and RespectIgnoreDifferences it
        // applies Git's route with the live weights. A server-side dry run of that apply (what `kubectl diff --server-side
        // --force-conflicts` compares) changes nothing.
        var respecting = await GitApplyAsync(harness, GitRoute(harness.Namespace, 60, 40), dryRun: true, force: true);
        Assert.True(JsonNode.DeepEquals(live["spec"], respecting["spec"]), $"{harness.Lane}: {respecting["spec"]!.ToJsonString()}");
        Assert.True(JsonNode.DeepEquals(live["metadata"]!["labels"], respecting["metadata"]!["labels"]));

        // Git's route as written, forced (a plain sync): the only difference it would make is the two weights.
        var forced = await GitApplyAsync(harness, GitRoute(harness.Namespace, 100, 0), dryRun: true, force: true);
        Assert.True(JsonNode.DeepEquals(WithWeights(live, 0, 100, 0)["spec"], forced["spec"]), $"{harness.Lane}: {forced["spec"]!.ToJsonString()}");

        // Unforced, it is refused rather than silently resetting a running canary: the weights belong to the operator now.
        var conflict = await Assert.ThrowsAsync<HttpOperationException>(() => GitApplyAsync(harness, GitRoute(harness.Namespace, 100, 0), dryRun: true));
        Assert.Equal(HttpStatusCode.Conflict, conflict.Response.StatusCode);
        Assert.Contains("gru-operator", conflict.Response.Content);

        // Nothing above was persisted.
        Assert.Equal(live["metadata"]!["resourceVersion"]!.GetValue<string>(), (await ReadRouteAsync(harness))["metadata"]!["resourceVersion"]!.GetValue<string>());
    }

    [Fact]
    public async Task WeightsThatAlreadyHoldAreNotWrittenAgain()
    {
        await using var harness = await StartHarnessAsync();
        await InstallGatewayApiAsync(harness);
        var model = await CreateModelAsync(harness);
        await GitApplyAsync(harness, GitRoute(harness.Namespace, 100, 0));
        var router = Router(harness.Client);

        // At rest (100/0, as Git has it) the router writes nothing and takes nothing over from Git.
        await router.SetWeightsAsync(model, 100, 0, CancellationToken.None);
        var atRest = await ReadRouteAsync(harness);
        Assert.DoesNotContain(atRest["metadata"]!["managedFields"]!.AsArray(), e => e!["manager"]!.GetValue<string>() == "gru-operator");

        await router.SetWeightsAsync(model, 90, 10, CancellationToken.None);
        var first = await ReadRouteAsync(harness);
        await router.SetWeightsAsync(model, 90, 10, CancellationToken.None);
        var second = await ReadRouteAsync(harness);
        Assert.Equal(first["metadata"]!["resourceVersion"]!.GetValue<string>(), second["metadata"]!["resourceVersion"]!.GetValue<string>());
        Assert.Equal([90, 10], Weights(second, 0));
    }

    [Fact]
    public async Task AnApplyBasedOnAStaleReadIsRefusedSoARuleAddedInGitIsNeverLost()
    {
        await using var harness = await StartHarnessAsync();
        await InstallGatewayApiAsync(harness);
        var stale = await GitApplyAsync(harness, GitRoute(harness.Namespace, 100, 0));
        // Git adds a third rule after the operator's read...
        var withThirdRule = GitRoute(harness.Namespace, 100, 0);
        withThirdRule["spec"]!["rules"]!.AsArray().Add(JsonNode.Parse("""{"matches":[{"path":{"type":"PathPrefix","value":"/new"}}],"backendRefs":[{"name":"new","port":80}]}"""));
        await GitApplyAsync(harness, withThirdRule);

        // ...so the operator's apply of the rules it read (the router's precondition) is refused, not applied over it.
        var body = new JsonObject
        {
            ["apiVersion"] = "gateway.networking.k8s.io/v1",
            ["kind"] = "HTTPRoute",
            ["metadata"] = new JsonObject { ["name"] = Route, ["namespace"] = harness.Namespace, ["resourceVersion"] = stale["metadata"]!["resourceVersion"]!.DeepClone() },
            ["spec"] = new JsonObject { ["rules"] = WithWeights(stale, 0, 50, 50)["spec"]!["rules"]!.DeepClone() },
        };
        var refused = await Assert.ThrowsAsync<HttpOperationException>(() => harness.Client.CustomObjects.PatchNamespacedCustomObjectAsync(
            new V1Patch(body.ToJsonString(), V1Patch.PatchType.ApplyPatch), "gateway.networking.k8s.io", "v1", harness.Namespace, "httproutes", Route,
            fieldManager: "gru-operator", force: true));
        Assert.Equal(HttpStatusCode.Conflict, refused.Response.StatusCode);
        Assert.Equal(3, (await ReadRouteAsync(harness))["spec"]!["rules"]!.AsArray().Count);
    }

    [Fact]
    public async Task AMissingRouteOrARouteWithoutTheModelsBackendsIsAClearError()
    {
        await using var harness = await StartHarnessAsync();
        await InstallGatewayApiAsync(harness);
        var model = await CreateModelAsync(harness);
        var router = Router(harness.Client);

        var missing = await Assert.ThrowsAsync<TrafficRoutingException>(() => router.SetWeightsAsync(model, 90, 10, CancellationToken.None));
        Assert.Equal(TrafficRoutingException.RouteNotFound, missing.Reason);
        Assert.Contains($"HTTPRoute {harness.Namespace}/{Route}", missing.Message);
        Assert.Contains("trafficRouting.gatewayAPI.httpRoute", missing.Message);

        var stableOnly = GitRoute(harness.Namespace, 100, 0);
        stableOnly["spec"]!["rules"]![0]!["backendRefs"]!.AsArray().RemoveAt(1);
        var applied = await GitApplyAsync(harness, stableOnly);
        var noCanary = await Assert.ThrowsAsync<TrafficRoutingException>(() => router.SetWeightsAsync(model, 90, 10, CancellationToken.None));
        Assert.Equal(TrafficRoutingException.BackendsMissing, noCanary.Reason);
        Assert.Contains("rule 0", noCanary.Message);
        Assert.Contains("Service m-canary", noCanary.Message);
        Assert.Equal(applied["metadata"]!["resourceVersion"]!.GetValue<string>(), (await ReadRouteAsync(harness))["metadata"]!["resourceVersion"]!.GetValue<string>());
    }

    [Fact]
    public async Task WithoutTheGatewayApiCrdTheErrorSaysWhatToInstall()
    {
        await using var harness = await StartHarnessAsync();
        await UninstallGatewayApiAsync(harness);
        try
        {
            var model = await CreateModelAsync(harness);

            var error = await Assert.ThrowsAsync<TrafficRoutingException>(() => Router(harness.Client).SetWeightsAsync(model, 90, 10, CancellationToken.None));

            Assert.Equal(TrafficRoutingException.GatewayApiMissing, error.Reason);
            Assert.Contains("httproutes.gateway.networking.k8s.io", error.Message);
            Assert.Contains("trafficRouting.replicas", error.Message);
        }
        finally
        {
            await InstallGatewayApiAsync(harness);
        }
    }

    private protected static GatewayApiTrafficRouter Router(IKubernetes client) => new(
        client,
        new ServerSideApply(client, "gru-operator", Labels.AppliedHashAnnotation),
        new ResourceCache<V1Service>(),
        new ServingDefaults(OperatorHarness.ServerImage, "test.local/gru-model:1", "gru-operator"),
        Options.Create(new OperatorOptions { FieldManager = "gru-operator", DefaultServerImage = OperatorHarness.ServerImage, ModelFetcherImage = "test.local/gru-model:1" }),
        NullLogger<GatewayApiTrafficRouter>.Instance);

    private protected static async Task<GruModel> CreateModelAsync(OperatorHarness harness)
    {
        var model = Models.Cpu("m", harness.Namespace);
        model.Metadata.Uid = null;
        model.Spec.Rollout = new RolloutSpec
        {
            Canary = new CanarySpec { TrafficRouting = new TrafficRoutingSpec { GatewayApi = new GatewayApiRouting { HttpRoute = Route } } },
        };
        return await harness.CreateAsync(model);
    }

    /// <summary>The route as a platform team keeps it in Git: two rules, parentRefs, hostnames, a filter, a label.</summary>
    private protected static JsonObject GitRoute(string ns, int stable, int canary) => JsonNode.Parse($$$"""
        {
          "apiVersion": "gateway.networking.k8s.io/v1",
          "kind": "HTTPRoute",
          "metadata": {"name": "{{{Route}}}", "namespace": "{{{ns}}}", "labels": {"team": "ml-platform"}},
          "spec": {
            "parentRefs": [{"name": "public", "namespace": "gateways", "sectionName": "https"}],
            "hostnames": ["models.example.com"],
            "rules": [
              {
                "matches": [{"path": {"type": "PathPrefix", "value": "/v2/models/m"}}],
                "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "x-served-by", "value": "gru"}]}}],
                "timeouts": {"request": "10s"},
                "backendRefs": [{"name": "m-stable", "port": 8080, "weight": {{{stable}}}}, {"name": "m-canary", "port": 8080, "weight": {{{canary}}}}]
              },
              {
                "matches": [{"path": {"type": "Exact", "value": "/healthz"}}],
                "backendRefs": [{"name": "edge-health", "port": 80}]
              }
            ]
          }
        }
        """)!.AsObject();

    private protected static async Task<JsonObject> GitApplyAsync(OperatorHarness harness, JsonObject route, bool dryRun = false, bool force = false) =>
        await harness.Client.CustomObjects.PatchNamespacedCustomObjectAsync<JsonObject>(
            new V1Patch(route.ToJsonString(), V1Patch.PatchType.ApplyPatch), "gateway.networking.k8s.io", "v1", harness.Namespace, "httproutes", Route,
            dryRun: dryRun ? "All" : null, fieldManager: GitManager, force: force ? true : null);

    private protected static Task<JsonObject> ReadRouteAsync(OperatorHarness harness) =>
        harness.Client.CustomObjects.GetNamespacedCustomObjectAsync<JsonObject>("gateway.networking.k8s.io", "v1", harness.Namespace, "httproutes", Route);

    private static int[] Weights(JsonObject route, int rule) =>
        route["spec"]!["rules"]![rule]!["backendRefs"]!.AsArray().Select(b => b!["weight"]!.GetValue<int>()).ToArray();

    private static JsonObject WithWeights(JsonObject route, int rule, int stable, int canary)
    {
        var copy = route.DeepClone().AsObject();
        var refs = copy["spec"]!["rules"]![rule]!["backendRefs"]!;
        refs[0]!["weight"] = stable;
        refs[1]!["weight"] = canary;
        return copy;
    }

    private static JsonObject ManagedFieldsOf(JsonObject route, string manager) =>
        route["metadata"]!["managedFields"]!.AsArray()
            .Single(e => e!["manager"]!.GetValue<string>() == manager && e["operation"]!.GetValue<string>() == "Apply")!["fieldsV1"]!.AsObject();
}
